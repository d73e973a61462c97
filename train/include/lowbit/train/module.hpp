// Module: a layer or model with named parameters and sub-modules (PyTorch's nn.Module, reduced to what the
// trainer needs). Sequential runs its children in order and can be split into segments for activation
// checkpointing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Parameters of this module and its sub-modules, depth first, named "child.sub.weight".
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::int64_t parameter_count() const;

  // Converts every parameter, in place, to `dtype` (float64 for gradient checks of whole layers). Every
  // handle to a parameter sees the change, since they share one TensorImpl.
  void cast_parameters(DType dtype);

  // Training mode (dropout on) or evaluation mode, for this module and every sub-module.
  void set_training(bool on);
  bool training() const { return training_; }

 protected:
  // Registers a leaf that requires grad; its storage is charged to MemoryCategory::weights by the caller's
  // scope (layers create parameters inside a weights scope).
  Tensor register_parameter(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;

  friend class Sequential;
};

class Sequential : public Module {
 public:
  Sequential() = default;
  // Appends a layer named by its index ("0", "1", ...).
  void add(std::shared_ptr<Module> layer);
  std::size_t size() const { return layers_.size(); }
  Tensor forward(const Tensor& x) override;
  // Runs layers [begin, end) only.
  Tensor forward_range(const Tensor& x, std::size_t begin, std::size_t end);

  // With segments > 1, forward splits the layers into that many contiguous segments and checkpoints each
  // (activation checkpointing: only segment inputs are kept; the rest is recomputed in backward).
  void set_checkpoint_segments(std::size_t segments) { checkpoint_segments_ = segments; }
  std::size_t checkpoint_segments() const { return checkpoint_segments_; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
  std::size_t checkpoint_segments_ = 1;
};

}  // namespace lowbit::train
