// Models: the Fashion-MNIST MLP and CNN that `lowbit train` builds, and a pre-norm transformer block
// (multi-head self-attention + MLP) for sequence work.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "lowbit/train/layers.hpp"
#include "lowbit/train/module.hpp"
#include "lowbit/train/random.hpp"

namespace lowbit::train {

// [n, 1, 28, 28] -> flatten -> Linear(784, h0) -> ReLU -> ... -> Linear(h_last, 10).
std::shared_ptr<Sequential> make_mlp(Rng& rng, const std::vector<std::int64_t>& hidden = {512, 256});

// [n, 1, 28, 28] -> Conv(1->32, 3x3, pad 1) -> ReLU -> MaxPool 2 -> Conv(32->64, 3x3, pad 1) -> ReLU ->
// MaxPool 2
// -> flatten (64*7*7) -> Linear(3136, 128) -> ReLU -> Dropout(0.25) -> Linear(128, 10).
std::shared_ptr<Sequential> make_cnn(Rng& rng);

// "mlp" or "cnn"; throws RangeError naming the text otherwise.
std::shared_ptr<Sequential> make_model(std::string_view name, Rng& rng);

// Multi-head self-attention over [batch, time, dim]; causal masks attention to later positions.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(std::int64_t dim, std::int64_t heads, Rng& rng, bool causal = true);
  Tensor forward(const Tensor& x) override;

 private:
  std::int64_t dim_, heads_;
  bool causal_;
  std::shared_ptr<Linear> qkv_, proj_;
};

// x + attention(layer_norm(x)), then x + mlp(layer_norm(x)) with a GELU MLP of width mlp_ratio * dim.
class TransformerBlock : public Module {
 public:
  TransformerBlock(std::int64_t dim, std::int64_t heads, Rng& rng, std::int64_t mlp_ratio = 4,
                   bool causal = true);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<LayerNorm> norm1_, norm2_;
  std::shared_ptr<MultiHeadAttention> attention_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

}  // namespace lowbit::train
