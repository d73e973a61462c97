#include "lowbit/amp/master_weights.hpp"

#include <fmt/format.h>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/memory.hpp"

namespace lowbit::amp {

MasterWeights::MasterWeights(train::Module& model, DType working, bool stochastic_rounding,
                             std::uint64_t seed)
    : working_type_(working), stochastic_(stochastic_rounding), seed_(seed) {
  if (working != DType::bfloat16 && working != DType::float16) {
    throw RangeError(
        fmt::format("master weights: working dtype {} must be bfloat16 or float16", dtype_name(working)));
  }
  {
    train::MemoryCategoryScope scope(train::MemoryCategory::master_weights);
    for (const auto& [name, p] : model.named_parameters()) {
      if (p.dtype() != DType::float32) {
        throw RangeError(fmt::format("master weights: parameter '{}' is {}, expected float32", name,
                                     dtype_name(p.dtype())));
      }
      train::Tensor master = train::clone(p);
      master.set_requires_grad(true);  // the optimizer reads its .grad, which link_gradients sets
      masters_.emplace_back(name, master);
    }
  }
  {
    train::MemoryCategoryScope scope(train::MemoryCategory::weights);
    model.cast_parameters(working);
  }
  working_ = model.named_parameters();
  refresh();  // the same rounding as every later refresh (stochastic when asked)
}

std::vector<train::Tensor> MasterWeights::working_gradients() const {
  std::vector<train::Tensor> grads;
  for (const auto& [name, w] : working_) grads.push_back(w.grad());
  return grads;
}

void MasterWeights::link_gradients() {
  for (std::size_t i = 0; i < masters_.size(); ++i) masters_[i].second.set_grad(working_[i].second.grad());
}

void MasterWeights::zero_gradients() {
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    masters_[i].second.set_grad(train::Tensor());
    working_[i].second.set_grad(train::Tensor());
  }
}

void MasterWeights::refresh() {
  BulkOptions options;
  if (stochastic_) {
    options.rounding = Rounding::stochastic;
    options.seed = seed_ + refreshes_;
  }
  ++refreshes_;
  std::uint64_t index = 0;  // one random stream over all parameters of a refresh
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    const train::Tensor& m = masters_[i].second;
    const train::Tensor& w = working_[i].second;
    const auto n = static_cast<std::size_t>(m.numel());
    if (m.device() != train::Device::cpu) {
      if (stochastic_) {
        throw RangeError("master weights: stochastic rounding of the working copies runs on the cpu only");
      }
      train::copy_into(w, train::cast(m, working_type_));  // the device's nearest-even conversion
      continue;
    }
    options.first_index = index;
    convert_bulk(dtype_format(DType::float32), m.raw_data(), dtype_format(working_type_), w.raw_data(), n,
                 options);
    index += n;
  }
}

}  // namespace lowbit::amp
