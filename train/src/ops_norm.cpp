// layer_norm over the last axis, fused: forward computes mean and 1/std per row (saved for backward) and the
// affine output in one pass per row; backward recomputes the normalised row from x, mean and rstd and gives
// dx, dweight and dbias together:
//   xhat = (x - mean) * rstd,  gy = grad * weight
//   dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)),  dweight = sum_rows(grad * xhat),  dbias =
//   sum_rows(grad)
// Row statistics accumulate in double, so float32 rows of any length normalise to float32 rounding.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "autocast_dispatch.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

void check_affine(const Tensor& x, const Tensor& p, const char* name) {
  if (!p.defined()) return;
  detail::require_cpu(p, "layer_norm");
  if (p.shape() != Shape{x.shape().back()}) {
    throw ShapeError(fmt::format("layer_norm: {} {} does not match the last axis of x {} (expected [{}])",
                                 name, shape_string(p.shape()), shape_string(x.shape()), x.shape().back()));
  }
  if (p.dtype() != x.dtype()) {
    throw RangeError(fmt::format("layer_norm: {} has dtype {}, x has {}", name, dtype_name(p.dtype()),
                                 dtype_name(x.dtype())));
  }
}

// What backward keeps: x, the weight (for gy) and the per-row statistics.
struct LayerNormSaved {
  Tensor x, weight, mean, rstd;  // contiguous; weight may be undefined
  std::int64_t d, rows;
  bool need_x, need_w, need_b;
};

std::vector<Tensor> layer_norm_backward(const LayerNormSaved& s, const Tensor& grad_out) {
  const Tensor gc = contiguous(grad_out);
  Tensor gx, gw, gb;
  detail::dispatch_float(gc.dtype(), "layer_norm backward", [&](auto tag) {
    using T = decltype(tag);
    const T* px = s.x.data<T>();
    const T* pg = gc.data<T>();
    const T* pw = s.weight.defined() ? s.weight.data<T>() : nullptr;
    const T* pm = s.mean.data<T>();
    const T* pr = s.rstd.data<T>();
    T* pgx = nullptr;
    if (s.need_x) {
      gx = empty(s.x.shape(), gc.dtype());
      pgx = gx.data<T>();
    }
    std::vector<double> acc_w(s.need_w ? static_cast<std::size_t>(s.d) : 0, 0.0);
    std::vector<double> acc_b(s.need_b ? static_cast<std::size_t>(s.d) : 0, 0.0);
    std::vector<T> xhat(static_cast<std::size_t>(s.d)), gy(static_cast<std::size_t>(s.d));
    const double inv_d = 1.0 / static_cast<double>(s.d);
    for (std::int64_t r = 0; r < s.rows; ++r) {
      const T* row = px + r * s.d;
      const T* g = pg + r * s.d;
      const T m = pm[r], inv = pr[r];
      double sum_gy = 0, sum_gy_xhat = 0;
      for (std::int64_t i = 0; i < s.d; ++i) {
        const auto k = static_cast<std::size_t>(i);
        xhat[k] = (row[i] - m) * inv;
        gy[k] = pw != nullptr ? g[i] * pw[i] : g[i];
        sum_gy += gy[k];
        sum_gy_xhat += gy[k] * xhat[k];
      }
      if (s.need_x) {
        const T a = static_cast<T>(sum_gy * inv_d), b = static_cast<T>(sum_gy_xhat * inv_d);
        T* out_row = pgx + r * s.d;
        for (std::int64_t i = 0; i < s.d; ++i) {
          const auto k = static_cast<std::size_t>(i);
          out_row[i] = inv * (gy[k] - a - xhat[k] * b);
        }
      }
      if (s.need_w) {
        for (std::size_t k = 0; k < xhat.size(); ++k) acc_w[k] += g[k] * xhat[k];
      }
      if (s.need_b) {
        for (std::int64_t i = 0; i < s.d; ++i) acc_b[static_cast<std::size_t>(i)] += g[i];
      }
    }
    auto to_tensor = [&](const std::vector<double>& acc) {
      Tensor t = empty({s.d}, gc.dtype());
      T* p = t.data<T>();
      for (std::int64_t i = 0; i < s.d; ++i) p[i] = static_cast<T>(acc[static_cast<std::size_t>(i)]);
      return t;
    };
    if (s.need_w) gw = to_tensor(acc_w);
    if (s.need_b) gb = to_tensor(acc_b);
  });
  return std::vector<Tensor>{gx, gw, gb};
}

}  // namespace

static Tensor layer_norm_native(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  detail::require_cpu(x, "layer_norm");
  if (x.dim() < 1 || x.shape().back() == 0) {
    throw ShapeError(fmt::format("layer_norm: x {} needs a non-empty last axis", shape_string(x.shape())));
  }
  if (!(eps >= 0) || !std::isfinite(eps)) {
    throw RangeError(fmt::format("layer_norm: eps {} must be finite and not negative", eps));
  }
  check_affine(x, weight, "weight");
  check_affine(x, bias, "bias");
  const DType type = x.dtype();
  const std::int64_t d = x.shape().back(), rows = x.numel() / d;
  const Tensor xc = contiguous(x.detach());
  const Tensor wc = weight.defined() ? contiguous(weight.detach()) : Tensor();
  const Tensor bc = bias.defined() ? contiguous(bias.detach()) : Tensor();
  Tensor out = empty(x.shape(), type);
  Tensor mean = empty({rows}, type), rstd = empty({rows}, type);
  detail::dispatch_float(type, "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    const T* pw = wc.defined() ? wc.data<T>() : nullptr;
    const T* pb = bc.defined() ? bc.data<T>() : nullptr;
    T* po = out.data<T>();
    T* pm = mean.data<T>();
    T* pr = rstd.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = px + r * d;
      T* y = po + r * d;
      // Two passes (mean, then squared deviations): no cancellation for rows with a large mean.
      double s = 0;
      for (std::int64_t i = 0; i < d; ++i) s += row[i];
      const double m = s / static_cast<double>(d);
      double v = 0;
      for (std::int64_t i = 0; i < d; ++i) v += (row[i] - m) * (row[i] - m);
      const double inv = 1.0 / std::sqrt(v / static_cast<double>(d) + eps);
      pm[r] = static_cast<T>(m);
      pr[r] = static_cast<T>(inv);
      const T tm = static_cast<T>(m), ti = static_cast<T>(inv);
      for (std::int64_t i = 0; i < d; ++i) {
        T value = (row[i] - tm) * ti;
        if (pw != nullptr) value *= pw[i];
        if (pb != nullptr) value += pb[i];
        y[i] = value;
      }
    }
  });
  LayerNormSaved saved{xc,
                       wc,
                       mean,
                       rstd,
                       d,
                       rows,
                       x.requires_grad(),
                       weight.defined() && weight.requires_grad(),
                       bias.defined() && bias.requires_grad()};
  return record(out, "layer_norm", {x, weight, bias}, [saved = std::move(saved)](const Tensor& grad_out) {
    return layer_norm_backward(saved, grad_out);
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return detail::autocast_op(
      "layer_norm",
      [&](const Tensor& x_, const Tensor& weight_, const Tensor& bias_) {
        return layer_norm_native(x_, weight_, bias_, eps);
      },
      x, weight, bias);
}

}  // namespace lowbit::train
