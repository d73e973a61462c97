// The precision interface ops consult (DESIGN.md section 2): train/ declares it, amp/ implements it with its
// allow/deny/promote lists, so train/ never depends on amp/. Without a policy installed, ops run in the
// widest dtype of their inputs (float64 > float32 > float16/bfloat16 > float8; float16 with bfloat16 gives
// float32, as PyTorch promotes). Low-precision dtypes compute in float32 inside the op and are rounded once
// to the op's dtype; the GEMM ops (matmul, linear, bmm, conv2d) feed them to kernels/ GEMM directly.
#pragma once

#include <span>
#include <string_view>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

class PrecisionPolicy {
 public:
  virtual ~PrecisionPolicy() = default;
  // The dtype op `op` (e.g. "linear", "softmax") should compute in, given its inputs' dtypes.
  virtual DType compute_type(std::string_view op, std::span<const DType> inputs) const = 0;
  // Converts an op's input to its compute type. A policy may serve repeated casts of one tensor (a weight
  // used by several micro-batches) from a cache; the default converts every time.
  virtual Tensor cast_input(const Tensor& t, DType dtype) const { return cast(t, dtype); }
  // A policy may run linear itself (float8 GEMMs with scales, amp/fp8.hpp): x [n, in], weight [out, in],
  // bias [out] or undefined, forward and backward. An undefined result declines, and linear runs as usual
  // in compute_type's dtype.
  virtual Tensor run_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) const {
    (void)x, (void)weight, (void)bias;
    return {};
  }
};

// The policy in force on this thread, or null.
const PrecisionPolicy* current_precision_policy();

// Installs a policy (or null) for the scope's lifetime.
class PrecisionScope {
 public:
  explicit PrecisionScope(const PrecisionPolicy* policy);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  const PrecisionPolicy* previous_;
};

// float64 > float32 > float16 = bfloat16 > float8 types; float16 with bfloat16 gives float32. Only float
// dtypes take part (integer inputs such as labels are not passed).
DType widest_float_type(std::span<const DType> inputs);
// bfloat16, float16, float8_e4m3fn, float8_e5m2: dtypes ops accept and compute on in float32.
bool is_low_precision_float(DType dtype);

}  // namespace lowbit::train
