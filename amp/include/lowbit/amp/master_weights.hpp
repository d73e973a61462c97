// Master weights: the optimizer updates float32 masters (and keeps float32 state), while the model computes
// with low-precision working copies of the same parameters (bfloat16 or float16) that are refreshed from
// the masters after each update. The working copies are the model's own parameters converted in place, so
// gradients accumulate in their dtype: with Adam that is the 16 bytes per parameter of mixed precision
// (4 master + 2 working + 2 gradient + 4 + 4 moments).
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/train/module.hpp"
#include "lowbit/train/optim.hpp"

namespace lowbit::amp {

class MasterWeights {
 public:
  // Copies every parameter of `model` into a float32 master (charged to MemoryCategory::master_weights) and
  // converts the parameter in place to `working` (bfloat16 or float16; charged to weights). With
  // `stochastic_rounding` each refresh rounds stochastically (formats' counter-based random bits from
  // `seed` and the refresh count, so runs are reproducible) instead of to nearest-even.
  MasterWeights(train::Module& model, DType working, bool stochastic_rounding = false,
                std::uint64_t seed = 0);

  DType working_type() const { return working_type_; }
  const train::NamedTensors& masters() const { return masters_; }
  const train::NamedTensors& working() const { return working_; }
  std::vector<train::Tensor> working_gradients() const;

  // Makes each master's .grad the working copy's gradient (the same tensor, no copy): the optimizer widens
  // it to float32 per parameter during its update.
  void link_gradients();
  void zero_gradients();
  // Rounds the masters into the working copies (after each update, and after loading masters).
  void refresh();

 private:
  DType working_type_;
  bool stochastic_;
  std::uint64_t seed_;
  std::uint64_t refreshes_ = 0;
  train::NamedTensors masters_, working_;
};

}  // namespace lowbit::amp
