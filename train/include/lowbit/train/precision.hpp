// The precision interface ops consult (DESIGN.md section 2): train/ declares it, amp/ implements it with its
// allow/deny/promote lists, so train/ never depends on amp/. Without a policy installed, ops run in the
// dtype of their inputs.
#pragma once

#include <span>
#include <string_view>

#include "lowbit/formats/dtype.hpp"

namespace lowbit::train {

class PrecisionPolicy {
 public:
  virtual ~PrecisionPolicy() = default;
  // The dtype op `op` (e.g. "linear", "softmax") should compute in, given its inputs' dtypes.
  virtual DType compute_type(std::string_view op, std::span<const DType> inputs) const = 0;
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

}  // namespace lowbit::train
