#include "lowbit/amp/fp8.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lowbit/formats/block.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/device.hpp"
#include "lowbit/train/ops.hpp"

namespace lowbit::amp {

using train::Tensor;

void Fp8Options::validate() const {
  if (history < 1 || history > 65536) {
    throw RangeError(fmt::format("fp8 amax history length {} must be in [1, 65536]", history));
  }
  if (margin < 0 || margin > 64) throw RangeError(fmt::format("fp8 margin {} must be in [0, 64]", margin));
}

Fp8Scaling parse_fp8_scaling(std::string_view text) {
  if (text == "delayed") return Fp8Scaling::delayed;
  if (text == "current") return Fp8Scaling::current;
  if (text == "mxfp8") return Fp8Scaling::mxfp8;
  throw RangeError(fmt::format("--fp8-scaling {}: use delayed, current or mxfp8", text));
}

double fp8_max(DType dtype) {
  return dtype == DType::float8_e5m2 ? 57344.0 : 448.0;
}

namespace {

constexpr int kInput = 0, kWeight = 1, kGrad = 2;

// A GEMM operand: float8 codes and the scale they were multiplied by (1 for MX, whose operand is the
// dequantized bfloat16).
struct Operand {
  Tensor data;
  float scale = 1.0f;
};

std::vector<float> as_floats(const Tensor& t) {
  const Tensor f = train::contiguous(train::cast(t.detach(), DType::float32));
  const float* p = f.data<float>();
  return std::vector<float>(p, p + f.numel());
}

// The scaling loop, compiled for AVX-512 too (the library targets baseline x86-64), like Adam's update.
__attribute__((target_clones("avx512f", "default"))) void scale_all(float* v, std::size_t n, float scale) {
  for (std::size_t i = 0; i < n; ++i) v[i] *= scale;
}

float scale_for(double amax, DType type, int margin) {
  if (!(amax > 0) || !std::isfinite(amax)) return 1.0f;
  return static_cast<float>(fp8_max(type) / amax / std::ldexp(1.0, margin));
}

// Per-tensor: codes of round_saturate(v * scale).
Tensor quantize_scaled(std::vector<float> v, const train::Shape& shape, DType type, float scale) {
  scale_all(v.data(), v.size(), scale);
  Tensor q = train::empty(shape, type);
  BulkOptions options;
  options.policy = Policy::saturate;  // beyond fp8_max clamps (Transformer Engine saturates too)
  convert_bulk(dtype_format(DType::float32), v.data(), dtype_format(type), q.raw_data(), v.size(), options);
  return q;
}

// MX: each row in blocks of 32 with E8M0 scales, decoded back to bfloat16 (exact).
Tensor quantize_mx(const std::vector<float>& v, const train::Shape& shape, DType type) {
  const BlockFormat& format = find_block_format(type == DType::float8_e5m2 ? "mxfp8_e5m2" : "mxfp8_e4m3");
  const std::int64_t cols = shape.back(),
                     rows = static_cast<std::int64_t>(v.size()) / std::max<std::int64_t>(cols, 1);
  std::vector<float> out(v.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::span<const float> row(v.data() + r * cols, static_cast<std::size_t>(cols));
    const EncodedBlocks e = encode_blocks(format, row);
    decode_blocks(format, e.elements, e.scales,
                  std::span<float>(out.data() + r * cols, static_cast<std::size_t>(cols)));
  }
  return train::from_values(std::span<const float>(out), shape, DType::bfloat16);
}

// C[m, n] = op(A) op(B) / (sa * sb) (+ bias), fp32 accumulation, rounded once to `out_type`.
Tensor scaled_gemm(const Operand& a, bool ta, const Operand& b, bool tb, DType out_type,
                   const Tensor& bias32) {
  if (a.data.device() != train::Device::cpu) {
    return train::scaled_gemm_cuda(a.data, ta, b.data, tb, out_type, 1.0f / (a.scale * b.scale), bias32);
  }
  const float* bias = bias32.defined() ? bias32.data<float>() : nullptr;
  const auto& as = a.data.shape();
  const auto& bs = b.data.shape();
  const std::int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1], n = tb ? bs[0] : bs[1];
  Tensor out = train::empty({m, n}, out_type);
  kernels::Epilogue e;
  e.alpha = 1.0f / (a.scale * b.scale);
  e.bias = bias;
  using kernels::Transpose;
  kernels::gemm(m, n, k,
                {.data = a.data.raw_data(),
                 .type = a.data.dtype(),
                 .ld = as[1],
                 .transpose = ta ? Transpose::yes : Transpose::no},
                {.data = b.data.raw_data(),
                 .type = b.data.dtype(),
                 .ld = bs[1],
                 .transpose = tb ? Transpose::yes : Transpose::no},
                {.data = out.raw_data(), .type = out_type, .ld = n}, e);
  return out;
}

DType gradient_type(DType t) {
  return t == DType::float32 || t == DType::float16 ? t : DType::bfloat16;
}

}  // namespace

Fp8Recipe::Fp8Recipe(Fp8Options options) : options_(options) {
  options_.validate();
}

void Fp8Recipe::register_weight(const std::string& name, const Tensor& weight) {
  if (weight.dim() != 2) {
    throw ShapeError(fmt::format("fp8: weight '{}' of shape {} is not a linear layer's [out, in]", name,
                                 train::shape_string(weight.shape())));
  }
  train::MemoryCategoryScope scope(train::MemoryCategory::optimizer);
  Layer layer{name, {train::ones({3}), train::zeros({3, options_.history})}};
  layers_.insert_or_assign(weight.impl().get(), std::move(layer));
}

bool Fp8Recipe::registered(const Tensor& weight) const {
  return layers_.count(weight.impl().get()) != 0;
}

Fp8Recipe::Layer& Fp8Recipe::layer_of(const Tensor& weight) {
  auto it = layers_.find(weight.impl().get());
  if (it == layers_.end()) throw RangeError("fp8: linear weight was not registered");
  return it->second;
}

const Fp8TensorState& Fp8Recipe::state_of(const std::string& name) const {
  for (const auto& [key, layer] : layers_) {
    if (layer.name == name) return layer.state;
  }
  throw RangeError(fmt::format("fp8: no state for weight '{}'", name));
}

namespace {

// Converts `t` for role `role` of a layer: records its amax in the history's current column and picks the
// scale (delayed: the one end_step computed from the history, once there is a history; the first step and
// current scaling: from this amax).
Operand quantize_role(const Tensor& t, DType type, int role, Fp8TensorState& state, const Fp8Options& o,
                      bool saved_scales, bool record_amax) {
  // On a GPU the tensor stays there: its amax comes back to the host (the histories and scales live on the
  // host), and the device converts with the chosen scale.
  const bool device = t.device() != train::Device::cpu;
  if (device && o.scaling == Fp8Scaling::mxfp8) {
    throw RangeError("--fp8-scaling mxfp8 runs on the cpu only; use delayed or current with --device cuda");
  }
  std::vector<float> v = device ? std::vector<float>() : as_floats(t);
  if (o.scaling == Fp8Scaling::mxfp8) return {quantize_mx(v, t.shape(), type), 1.0f};
  const float amax = device ? train::abs_max_cuda(t) : abs_max(v.data(), v.size());
  float* history = state.amax_history.data<float>() + role * o.history;
  if (record_amax) history[0] = std::max(history[0], amax);
  float scale = scale_for(amax, type, o.margin);
  if (o.scaling == Fp8Scaling::delayed && saved_scales) scale = state.scale.data<float>()[role];
  if (device) return {train::convert_scaled_cuda(t.detach(), type, scale), scale};
  return {quantize_scaled(std::move(v), t.shape(), type, scale), scale};
}

}  // namespace

Tensor Fp8Recipe::linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Layer& layer = layer_of(weight);
  Fp8TensorState* state = &layer.state;
  const Fp8Options o = options_;
  const bool saved = steps_ > 0;
  // Evaluation (no grad) uses the scales but leaves the training histories alone.
  const bool training = train::grad_enabled();
  if (x.dim() != 2 || x.shape()[1] != weight.shape()[1]) {
    throw ShapeError(fmt::format("fp8 linear: input {} does not fit weight {}",
                                 train::shape_string(x.shape()), train::shape_string(weight.shape())));
  }
  Operand xq, wq;
  {
    train::NoGradGuard no_grad;
    xq = quantize_role(x, DType::float8_e4m3fn, kInput, *state, o, saved, training);
    // The weight is converted once per step (the cast cache of float8), whatever the micro-batches.
    auto it = weight_cache_.find(weight.impl().get());
    if (it == weight_cache_.end()) {
      const Operand w = quantize_role(weight, DType::float8_e4m3fn, kWeight, *state, o, saved, training);
      it = weight_cache_.emplace(weight.impl().get(), CachedWeight{weight, w.data, w.scale}).first;
    }
    wq = {it->second.quantized, it->second.scale};
  }
  const Tensor bias32 = bias.defined() ? train::cast(bias.detach(), DType::float32) : Tensor();
  Tensor out = scaled_gemm(xq, false, wq, true, DType::bfloat16, bias32);
  const DType x_type = gradient_type(x.dtype()), w_type = gradient_type(weight.dtype());
  const DType b_type = bias.defined() ? bias.dtype() : DType::bfloat16;
  return train::record(
      out, "fp8_linear", {x, weight, bias},
      [xq, wq, state, o, saved, x_type, w_type, b_type, need_x = x.requires_grad(),
       need_w = weight.requires_grad(), need_b = bias.defined() && bias.requires_grad()](const Tensor& g) {
        const Operand gq = quantize_role(g, DType::float8_e5m2, kGrad, *state, o, saved, true);
        // dx = g W (e5m2 x e4m3), dW = g^T x (e5m2 x e4m3), fp32 accumulation; only those needed.
        Tensor gx = need_x ? scaled_gemm(gq, false, wq, false, x_type, Tensor()) : Tensor();
        Tensor gw = need_w ? scaled_gemm(gq, true, xq, false, w_type, Tensor()) : Tensor();
        Tensor gb = need_b ? train::cast(train::sum(train::cast(g, DType::float32), {0}), b_type) : Tensor();
        return std::vector<Tensor>{gx, gw, gb};
      });
}

void Fp8Recipe::end_step() {
  weight_cache_.clear();
  ++steps_;
  if (options_.scaling == Fp8Scaling::mxfp8) return;
  const std::int64_t len = options_.history;
  for (auto& [key, layer] : layers_) {
    float* scale = layer.state.scale.data<float>();
    for (int role = 0; role < 3; ++role) {
      float* h = layer.state.amax_history.data<float>() + role * len;
      const float amax = options_.reduction == AmaxReduction::max ? *std::max_element(h, h + len) : h[0];
      const DType type = role == kGrad ? DType::float8_e5m2 : DType::float8_e4m3fn;
      scale[role] = scale_for(amax, type, options_.margin);
      // Roll: the current column becomes the newest past one; a fresh current column starts at 0.
      std::rotate(h, h + len - 1, h + len);
      h[0] = 0.0f;
    }
  }
}

train::NamedTensors Fp8Recipe::state() const {
  train::NamedTensors out;
  for (const auto& [key, layer] : layers_) {
    out.emplace_back(layer.name + ".scale", layer.state.scale);
    out.emplace_back(layer.name + ".amax_history", layer.state.amax_history);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace lowbit::amp
