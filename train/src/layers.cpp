#include "lowbit/train/layers.hpp"

#include <cmath>

#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

namespace lowbit::train {

Tensor uniform_parameter(const Shape& shape, double bound, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
  for (float& v : values) v = static_cast<float>((2 * rng.next_double() - 1) * bound);
  MemoryCategoryScope scope(MemoryCategory::weights);
  return from_values(values, shape);
}

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", uniform_parameter({out_features, in_features}, bound, rng));
  if (bias) bias_ = register_parameter("bias", uniform_parameter({out_features}, bound, rng));
}

Tensor Linear::forward(const Tensor& x) {
  return linear(x, weight_, bias_);
}

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel, Rng& rng,
               std::int64_t stride, std::int64_t padding)
    : stride_(stride), padding_(padding) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel * kernel));
  weight_ = register_parameter("weight",
                               uniform_parameter({out_channels, in_channels, kernel, kernel}, bound, rng));
  bias_ = register_parameter("bias", uniform_parameter({out_channels}, bound, rng));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight_, bias_, stride_, padding_);
}

LayerNorm::LayerNorm(std::int64_t features, double eps) : eps_(eps) {
  MemoryCategoryScope scope(MemoryCategory::weights);
  weight_ = register_parameter("weight", ones({features}));
  bias_ = register_parameter("bias", zeros({features}));
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, weight_, bias_, eps_);
}

Tensor ReLU::forward(const Tensor& x) {
  return relu(x);
}
Tensor GELU::forward(const Tensor& x) {
  return gelu(x);
}
Tensor Flatten::forward(const Tensor& x) {
  return flatten(x, 1);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, kernel_, kernel_);
}
Tensor Dropout::forward(const Tensor& x) {
  return dropout(x, p_, training());
}

}  // namespace lowbit::train
