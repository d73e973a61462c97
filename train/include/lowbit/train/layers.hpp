// Layers: Linear, Conv2d, LayerNorm, and the parameter-free steps of a model (activations, pooling,
// flatten, dropout). Initialisation follows PyTorch's defaults (uniform in +-1/sqrt(fan_in)), from an Rng.
#pragma once

#include <cstdint>

#include "lowbit/train/module.hpp"
#include "lowbit/train/random.hpp"

namespace lowbit::train {

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }  // [out, in]
  const Tensor& bias() const { return bias_; }      // [out] or undefined

 private:
  Tensor weight_, bias_;
};

class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel, Rng& rng,
         std::int64_t stride = 1, std::int64_t padding = 0);
  Tensor forward(const Tensor& x) override;

 private:
  Tensor weight_, bias_;
  std::int64_t stride_, padding_;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::int64_t features, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;

 private:
  Tensor weight_, bias_;
  double eps_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;  // [n, ...] -> [n, prod(...)]
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(std::int64_t kernel) : kernel_(kernel) {}
  Tensor forward(const Tensor& x) override;

 private:
  std::int64_t kernel_;
};

// Inverted dropout drawing from default_rng() (so activation checkpointing can replay its masks).
class Dropout : public Module {
 public:
  explicit Dropout(double p) : p_(p) {}
  Tensor forward(const Tensor& x) override;

 private:
  double p_;
};

// Uniform values in [-bound, bound) of the given shape (float32), charged to MemoryCategory::weights.
Tensor uniform_parameter(const Shape& shape, double bound, Rng& rng);

}  // namespace lowbit::train
