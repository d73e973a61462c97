#include "lowbit/train/models.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

namespace lowbit::train {

std::shared_ptr<Sequential> make_mlp(Rng& rng, const std::vector<std::int64_t>& hidden) {
  auto model = std::make_shared<Sequential>();
  model->add(std::make_shared<Flatten>());
  std::int64_t width = 28 * 28;
  for (std::int64_t h : hidden) {
    model->add(std::make_shared<Linear>(width, h, rng));
    model->add(std::make_shared<ReLU>());
    width = h;
  }
  model->add(std::make_shared<Linear>(width, 10, rng));
  return model;
}

std::shared_ptr<Sequential> make_cnn(Rng& rng) {
  auto model = std::make_shared<Sequential>();
  model->add(std::make_shared<Conv2d>(1, 32, 3, rng, 1, 1));
  model->add(std::make_shared<ReLU>());
  model->add(std::make_shared<MaxPool2d>(2));
  model->add(std::make_shared<Conv2d>(32, 64, 3, rng, 1, 1));
  model->add(std::make_shared<ReLU>());
  model->add(std::make_shared<MaxPool2d>(2));
  model->add(std::make_shared<Flatten>());
  model->add(std::make_shared<Linear>(64 * 7 * 7, 128, rng));
  model->add(std::make_shared<ReLU>());
  model->add(std::make_shared<Dropout>(0.25));
  model->add(std::make_shared<Linear>(128, 10, rng));
  return model;
}

std::shared_ptr<Sequential> make_model(std::string_view name, Rng& rng) {
  if (name == "mlp") return make_mlp(rng);
  if (name == "cnn") return make_cnn(rng);
  throw RangeError(fmt::format("unknown model '{}'; use mlp or cnn", name));
}

MultiHeadAttention::MultiHeadAttention(std::int64_t dim, std::int64_t heads, Rng& rng, bool causal)
    : dim_(dim), heads_(heads), causal_(causal) {
  if (heads <= 0 || dim % heads != 0) {
    throw RangeError(fmt::format("attention: dim {} is not a multiple of heads {}", dim, heads));
  }
  qkv_ = register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, rng));
  proj_ = register_module("proj", std::make_shared<Linear>(dim, dim, rng));
}

Tensor MultiHeadAttention::forward(const Tensor& x) {
  if (x.dim() != 3 || x.shape()[2] != dim_) {
    throw ShapeError(
        fmt::format("attention: input {} is not [batch, time, {}]", shape_string(x.shape()), dim_));
  }
  const std::int64_t b = x.shape()[0], t = x.shape()[1], d = dim_ / heads_;
  const Tensor qkv = (*qkv_)(x);  // [b, t, 3 dim]
  // [b, t, dim] -> [b, t, heads, d] -> [b, heads, t, d] -> [b*heads, t, d]
  auto split_heads = [&](std::int64_t part) {
    const Tensor p = slice(qkv, 2, part * dim_, (part + 1) * dim_);
    return reshape(permute(reshape(p, {b, t, heads_, d}), {0, 2, 1, 3}), {b * heads_, t, d});
  };
  const Tensor q = split_heads(0), k = split_heads(1), v = split_heads(2);
  Tensor scores = mul_scalar(matmul(q, transpose(k, 1, 2)), 1.0 / std::sqrt(static_cast<double>(d)));
  if (causal_) {
    std::vector<double> mask(static_cast<std::size_t>(t * t), 0.0);
    for (std::int64_t i = 0; i < t; ++i) {
      for (std::int64_t j = i + 1; j < t; ++j) mask[static_cast<std::size_t>(i * t + j)] = -INFINITY;
    }
    scores = add(scores, from_values(mask, {t, t}, scores.dtype()));
  }
  const Tensor attended = matmul(softmax(scores, -1), v);  // [b*heads, t, d]
  const Tensor merged = reshape(permute(reshape(attended, {b, heads_, t, d}), {0, 2, 1, 3}), {b, t, dim_});
  return (*proj_)(merged);
}

TransformerBlock::TransformerBlock(std::int64_t dim, std::int64_t heads, Rng& rng, std::int64_t mlp_ratio,
                                   bool causal) {
  norm1_ = register_module("norm1", std::make_shared<LayerNorm>(dim));
  attention_ = register_module("attention", std::make_shared<MultiHeadAttention>(dim, heads, rng, causal));
  norm2_ = register_module("norm2", std::make_shared<LayerNorm>(dim));
  fc1_ = register_module("fc1", std::make_shared<Linear>(dim, mlp_ratio * dim, rng));
  fc2_ = register_module("fc2", std::make_shared<Linear>(mlp_ratio * dim, dim, rng));
}

Tensor TransformerBlock::forward(const Tensor& x) {
  const Tensor h = add(x, (*attention_)((*norm1_)(x)));
  return add(h, (*fc2_)(gelu((*fc1_)((*norm2_)(h)))));
}

}  // namespace lowbit::train
