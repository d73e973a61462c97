#include "lowbit/train/precision.hpp"

namespace lowbit::train {

namespace {
thread_local const PrecisionPolicy* t_policy = nullptr;
}

const PrecisionPolicy* current_precision_policy() {
  return t_policy;
}

PrecisionScope::PrecisionScope(const PrecisionPolicy* policy) : previous_(t_policy) {
  t_policy = policy;
}
PrecisionScope::~PrecisionScope() {
  t_policy = previous_;
}

}  // namespace lowbit::train
