#include "lowbit/train/precision.hpp"

namespace lowbit::train {

namespace {
thread_local const PrecisionPolicy* t_policy = nullptr;

int float_rank(DType t) {
  switch (t) {
    case DType::float64:
      return 4;
    case DType::float32:
      return 3;
    case DType::bfloat16:
    case DType::float16:
      return 2;
    case DType::float8_e4m3fn:
    case DType::float8_e5m2:
      return 1;
    default:
      return 0;
  }
}
}  // namespace

const PrecisionPolicy* current_precision_policy() {
  return t_policy;
}

PrecisionScope::PrecisionScope(const PrecisionPolicy* policy) : previous_(t_policy) {
  t_policy = policy;
}
PrecisionScope::~PrecisionScope() {
  t_policy = previous_;
}

bool is_low_precision_float(DType dtype) {
  return float_rank(dtype) == 1 || float_rank(dtype) == 2;
}

DType widest_float_type(std::span<const DType> inputs) {
  DType best = DType::float32;
  int rank = 0;
  for (DType t : inputs) {
    const int r = float_rank(t);
    if (r == 0) continue;
    if (r > rank) {
      best = t, rank = r;
    } else if (r == rank && t != best) {
      // Two different types of one width (float16 and bfloat16, e4m3fn and e5m2): neither holds the other.
      best = r == 1 ? DType::bfloat16 : DType::float32;
      rank = r == 1 ? 2 : 3;
    }
  }
  return best;
}

}  // namespace lowbit::train
