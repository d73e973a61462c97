// Internal: how an op picks its compute dtype and runs in it. The policy in force (precision.hpp) or, without
// one, the widest input dtype decides; float32 and float64 run the op's own loops, low-precision dtypes run
// them in float32 between two casts, so the result is rounded once and the gradient flows back through the
// casts in each tensor's own dtype.
#pragma once

#include <initializer_list>
#include <string_view>
#include <vector>

#include "lowbit/train/precision.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train::detail {

// The dtype `op` computes in for these inputs (undefined tensors are skipped).
DType op_compute_type(std::string_view op, std::initializer_list<const Tensor*> inputs);
// `t` converted to `dtype` through the policy (its cast cache) when one is in force; undefined stays so.
Tensor to_compute_type(const Tensor& t, DType dtype);
inline bool computes_natively(DType t) {
  return t == DType::float32 || t == DType::float64;
}

// Runs impl(inputs...) for compute dtype `type`: natively for float32/float64, else in float32 and rounded
// once to `type`.
template <class Impl, class... Ts>
Tensor run_in(DType type, Impl&& impl, const Ts&... inputs) {
  if (computes_natively(type)) return impl(to_compute_type(inputs, type)...);
  auto widen = [type](const Tensor& t) {
    const Tensor low = to_compute_type(t, type);
    return low.defined() ? cast(low, DType::float32) : low;
  };
  return cast(impl(widen(inputs)...), type);
}

// The common case: the op's compute dtype from its float inputs, then run_in.
template <class Impl, class... Ts>
Tensor autocast_op(std::string_view op, Impl&& impl, const Ts&... inputs) {
  return run_in(op_compute_type(op, {&inputs...}), std::forward<Impl>(impl), inputs...);
}

}  // namespace lowbit::train::detail
