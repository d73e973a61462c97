#include "autocast_dispatch.hpp"

namespace lowbit::train::detail {

DType op_compute_type(std::string_view op, std::initializer_list<const Tensor*> inputs) {
  std::vector<DType> types;
  for (const Tensor* t : inputs) {
    if (t->defined()) types.push_back(t->dtype());
  }
  if (const PrecisionPolicy* policy = current_precision_policy()) return policy->compute_type(op, types);
  return widest_float_type(types);
}

Tensor to_compute_type(const Tensor& t, DType dtype) {
  if (!t.defined() || t.dtype() == dtype) return t;
  if (const PrecisionPolicy* policy = current_precision_policy()) return policy->cast_input(t, dtype);
  return cast(t, dtype);
}

}  // namespace lowbit::train::detail
