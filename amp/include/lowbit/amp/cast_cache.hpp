// The per-step cast cache: under autocast, a weight used by several ops or several micro-batches of a step
// is converted to the low-precision dtype once (PyTorch's autocast caches casts of leaf tensors that
// require grad in the same way, until autocast is left). Each use gets its own autograd node over the shared
// converted data, so every backward of the step finds a live node.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "lowbit/train/tensor.hpp"

namespace lowbit::amp {

class CastCache {
 public:
  // `t` converted to `dtype`: from the cache when `t` is a leaf that requires grad, else freshly.
  train::Tensor get(const train::Tensor& t, DType dtype);
  void clear() { entries_.clear(); }
  // Conversions done and uses served since construction (for tests and reports).
  std::int64_t conversions() const { return conversions_; }
  std::int64_t hits() const { return hits_; }

 private:
  struct Entry {
    train::Tensor source;     // keeps the key's TensorImpl alive, so its address is not reused
    train::Tensor converted;  // without autograd history
  };
  std::map<std::pair<const train::TensorImpl*, DType>, Entry> entries_;
  std::int64_t conversions_ = 0, hits_ = 0;
};

}  // namespace lowbit::amp
