// Inverted dropout. The keep mask is drawn from the Rng in element order (row-major over x's shape), two
// elements per next_u64 (its low, then its high 32 bits), and kept as one byte per element for backward.
// Because the Rng is counter-based, restoring its state before a recompute (activation checkpointing)
// reproduces the mask exactly.
#include <fmt/format.h>

#include <cmath>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

static Tensor dropout_native(const Tensor& x, double p, bool training, Rng& rng) {
  if (!(p >= 0.0 && p < 1.0)) {
    throw RangeError(fmt::format("dropout: p = {} is outside [0, 1)", p));
  }
  if (!training || p == 0.0) return x;
  if (detail::on_cuda(x)) return detail::cuda_ops().dropout(x, p, rng);
  detail::require_cpu(x, "dropout");
  const Tensor xc = contiguous(x.detach());
  const std::int64_t count = xc.numel();
  Tensor mask = empty(x.shape(), DType::uint8);
  Tensor out = empty(x.shape(), x.dtype());
  // Element dropped when its 32-bit draw is below p * 2^32: probability p to within 2^-32.
  const auto threshold = static_cast<std::uint64_t>(std::llround(p * 4294967296.0));
  const double scale = 1.0 / (1.0 - p);
  detail::dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    std::uint8_t* m = mask.data<std::uint8_t>();
    for (std::int64_t i = 0; i < count; i += 2) {
      const std::uint64_t bits = rng.next_u64();
      m[i] = (bits & 0xffffffffu) >= threshold ? 1 : 0;
      if (i + 1 < count) m[i + 1] = (bits >> 32) >= threshold ? 1 : 0;
    }
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    const T s = static_cast<T>(scale);
    for (std::int64_t i = 0; i < count; ++i) po[i] = m[i] != 0 ? px[i] * s : T(0);
  });
  return record(out, "dropout", {x}, [mask, scale](const Tensor& grad_out) {
    const Tensor gc = contiguous(grad_out);
    Tensor gx = empty(gc.shape(), gc.dtype());
    detail::dispatch_float(gc.dtype(), "dropout backward", [&](auto tag) {
      using T = decltype(tag);
      const std::uint8_t* m = mask.data<std::uint8_t>();
      const T* g = gc.data<T>();
      T* o = gx.data<T>();
      const T s = static_cast<T>(scale);
      for (std::int64_t i = 0; i < gc.numel(); ++i) o[i] = m[i] != 0 ? g[i] * s : T(0);
    });
    return std::vector<Tensor>{gx};
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng) {
  return detail::autocast_op(
      "dropout", [&](const Tensor& x_) { return dropout_native(x_, p, training, rng); }, x);
}

}  // namespace lowbit::train
