// The scoped switch: while an AutocastGuard lives, train/'s ops on this thread compute in the dtypes the
// policy picks (PyTorch's `with torch.autocast(...)`). Leaving the scope restores the previous policy and
// empties the policy's cast cache, so weights updated afterwards are converted afresh.
#pragma once

#include "lowbit/amp/autocast_policy.hpp"

namespace lowbit::amp {

class AutocastGuard {
 public:
  explicit AutocastGuard(const AutocastPolicy& policy) : policy_(policy), scope_(&policy) {}
  ~AutocastGuard() { policy_.clear_cache(); }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  const AutocastPolicy& policy_;
  train::PrecisionScope scope_;
};

}  // namespace lowbit::amp
