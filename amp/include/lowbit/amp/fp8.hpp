// FP8 training for linear layers (the recipe of NVIDIA Transformer Engine's DelayedScaling, "HYBRID"
// format): the forward GEMM reads the input and the weight in float8_e4m3fn, the backward GEMMs read the
// output gradient in float8_e5m2 (wider range, fewer digits), all with fp32 accumulation and bfloat16
// results. Each tensor is multiplied by a per-tensor scale before the (saturating) conversion and the GEMM
// divides it out:
//   delayed: scale = fp8_max / (amax * 2^margin), amax taken over a history of the last `history` steps'
//            amaxes (their max, or the most recent); the first step, with no history, uses its own amax;
//   current: the amax of the tensor being converted (exact, one more pass over it);
//   mxfp8:   OCP MX block scaling instead: blocks of 32 along each row, E8M0 scale per block (formats'
//            MX encoder), here emulated as quantize-then-dequantize to bfloat16 and a bfloat16 GEMM (exact:
//            every MX value is a bfloat16), since kernels/ GEMM takes no per-block scales for float8.
// Scales and amax histories are per weight (and its layer's input and output gradient), saved in
// checkpoints. Other GEMM ops (conv2d, matmul) keep the autocast dtype, as in Transformer Engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "lowbit/train/optim.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::amp {

enum class Fp8Scaling : std::uint8_t { delayed, current, mxfp8 };
enum class AmaxReduction : std::uint8_t { max, most_recent };

struct Fp8Options {
  Fp8Scaling scaling = Fp8Scaling::delayed;
  std::int64_t history = 16;  // amax history length (steps)
  AmaxReduction reduction = AmaxReduction::max;
  int margin = 0;  // scale = fp8_max / amax / 2^margin
  void validate() const;
};
// "delayed" | "current" | "mxfp8"; RangeError naming the text otherwise.
Fp8Scaling parse_fp8_scaling(std::string_view text);

// The per-tensor scales of one linear layer: index 0 input (e4m3), 1 weight (e4m3), 2 output gradient
// (e5m2).
struct Fp8TensorState {
  train::Tensor scale;         // float32 [3]: the scales the next step uses (delayed scaling)
  train::Tensor amax_history;  // float32 [3, history]: column 0 is the current step's amax
};

class Fp8Recipe {
 public:
  explicit Fp8Recipe(Fp8Options options);
  const Fp8Options& options() const { return options_; }

  // Registers the weight of a linear layer under its parameter name (before training, so checkpoints find
  // the state). Weights not registered run linear without float8.
  void register_weight(const std::string& name, const train::Tensor& weight);
  bool registered(const train::Tensor& weight) const;
  // y = x * weight^T + bias through float8 GEMMs, differentiable (backward through float8 too).
  train::Tensor linear(const train::Tensor& x, const train::Tensor& weight, const train::Tensor& bias);
  // Marks the state loaded from a checkpoint as a history (delayed scaling then uses its scales).
  void set_has_history() { steps_ = std::max<std::int64_t>(steps_, 1); }
  // After each optimizer step: rolls the amax histories and computes the next scales.
  void end_step();
  // Drops the per-step cache of converted weights.
  void clear_cache() { weight_cache_.clear(); }
  // "<weight>.scale" [3] and "<weight>.amax_history" [3, history], for checkpoints.
  train::NamedTensors state() const;
  const Fp8TensorState& state_of(const std::string& name) const;

 private:
  struct Layer {
    std::string name;
    Fp8TensorState state;
  };
  Layer& layer_of(const train::Tensor& weight);

  Fp8Options options_;
  std::int64_t steps_ = 0;  // end_step calls: delayed scaling has a history from the first on
  std::map<const train::TensorImpl*, Layer> layers_;
  struct CachedWeight {
    train::Tensor source, quantized;
    float scale;
  };
  std::map<const train::TensorImpl*, CachedWeight> weight_cache_;
};

// Largest finite magnitude of a float8 dtype (448 for e4m3fn, 57344 for e5m2).
double fp8_max(DType dtype);

}  // namespace lowbit::amp
