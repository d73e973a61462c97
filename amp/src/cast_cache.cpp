#include "lowbit/amp/cast_cache.hpp"

#include "lowbit/train/autograd.hpp"

namespace lowbit::amp {

train::Tensor CastCache::get(const train::Tensor& t, DType dtype) {
  if (!t.requires_grad() || t.grad_fn()) return train::cast(t, dtype);
  const auto key = std::make_pair(t.impl().get(), dtype);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    train::Tensor converted;
    {
      train::NoGradGuard no_grad;
      converted = train::cast(t, dtype);
    }
    ++conversions_;
    it = entries_.emplace(key, Entry{t, converted}).first;
  } else {
    ++hits_;
  }
  const DType from = t.dtype();
  return train::record(it->second.converted.detach(), "cast", {t}, [from](const train::Tensor& g) {
    return std::vector<train::Tensor>{train::cast(g, from)};
  });
}

}  // namespace lowbit::amp
