#include "lowbit/train/module.hpp"

#include <fmt/format.h>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/activation_checkpoint.hpp"

namespace lowbit::train {

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out = parameters_;
  for (const auto& [name, child] : children_) {
    for (auto& [sub, t] : child->named_parameters()) out.emplace_back(name + "." + sub, t);
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::cast_parameters(DType dtype) {
  for (auto& [name, p] : named_parameters()) {
    const Tensor converted = cast(p.detach(), dtype);
    TensorImpl& impl = *p.impl();
    impl.storage = converted.storage();
    impl.dtype = dtype;
    impl.strides = converted.strides();
    impl.offset = converted.offset();
    impl.grad.reset();
  }
}

void Module::set_training(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->set_training(on);
}

Tensor Module::register_parameter(std::string name, Tensor value) {
  value.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

void Sequential::add(std::shared_ptr<Module> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward_range(const Tensor& x, std::size_t begin, std::size_t end) {
  Tensor y = x;
  for (std::size_t i = begin; i < end; ++i) y = layers_[i]->forward(y);
  return y;
}

Tensor Sequential::forward(const Tensor& x) {
  const std::size_t n = layers_.size();
  const std::size_t segments = std::min(checkpoint_segments_, n);
  if (segments <= 1) return forward_range(x, 0, n);
  Tensor y = x;
  for (std::size_t s = 0; s < segments; ++s) {
    const std::size_t begin = s * n / segments, end = (s + 1) * n / segments;
    std::vector<Tensor> params;
    for (std::size_t i = begin; i < end; ++i) {
      for (Tensor& p : layers_[i]->parameters()) params.push_back(p);
    }
    y = checkpoint([this, begin, end](const Tensor& in) { return forward_range(in, begin, end); }, y, params);
  }
  return y;
}

}  // namespace lowbit::train
