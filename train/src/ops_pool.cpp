// max_pool2d and avg_pool2d over [N, C, H, W], plane by plane. Max pooling saves the argmax of every window
// (an int32 offset inside its H*W plane), so backward is one scatter and needs neither x nor the output.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "max_pool_2x2.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

struct PoolGeometry {
  std::int64_t planes, h, w;  // planes = N * C
  std::int64_t kernel, stride;
  std::int64_t oh, ow;
};

PoolGeometry pool_geometry(const Tensor& x, std::int64_t kernel, std::int64_t stride, const char* op) {
  detail::require_cpu(x, op);
  if (x.dim() != 4) {
    throw ShapeError(fmt::format("{}: input x {} is not [N, C, H, W]", op, shape_string(x.shape())));
  }
  if (kernel < 1) throw RangeError(fmt::format("{}: kernel {} must be at least 1", op, kernel));
  if (stride < 0)
    throw RangeError(fmt::format("{}: stride {} must not be negative (0: the kernel)", op, stride));
  PoolGeometry g{};
  g.planes = x.shape()[0] * x.shape()[1], g.h = x.shape()[2], g.w = x.shape()[3];
  g.kernel = kernel, g.stride = stride == 0 ? kernel : stride;
  if (g.h < kernel || g.w < kernel) {
    throw ShapeError(fmt::format("{}: kernel {} is larger than the {}x{} planes of x {}", op, kernel, g.h,
                                 g.w, shape_string(x.shape())));
  }
  if (g.h * g.w > std::numeric_limits<std::int32_t>::max()) {
    throw ShapeError(
        fmt::format("{}: planes of x {} have more than 2^31 elements", op, shape_string(x.shape())));
  }
  g.oh = (g.h - kernel) / g.stride + 1;
  g.ow = (g.w - kernel) / g.stride + 1;
  return g;
}

// float32 2x2 windows with stride 2 (the CNN's pooling) take the AVX-512 path when the CPU has it.
bool pools_2x2_fast(DType type, const PoolGeometry& g) {
  return type == DType::float32 && g.kernel == 2 && g.stride == 2 && detail::max_pool_2x2_available();
}

Shape pooled_shape(const Tensor& x, const PoolGeometry& g) {
  return {x.shape()[0], x.shape()[1], g.oh, g.ow};
}

// Max of every window and its offset in the plane; kFixed > 0 is the window size at compile time.
// Planes per thread for the parallel 2x2 paths: enough input elements to be worth a thread's wake-up.
std::int64_t planes_per_task(std::int64_t plane_elements) {
  return std::max<std::int64_t>(1, (std::int64_t{1} << 15) / std::max<std::int64_t>(plane_elements, 1));
}

template <class T, std::int64_t kFixed>
void max_pool_planes(const T* px, T* po, std::int32_t* pi, const PoolGeometry& g) {
  const std::int64_t kernel = kFixed > 0 ? kFixed : g.kernel;
  for (std::int64_t plane = 0; plane < g.planes; ++plane) {
    const T* in = px + plane * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.oh; ++oh) {
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        const std::int64_t top = oh * g.stride, left = ow * g.stride;
        std::int64_t best = top * g.w + left;
        T best_value = in[best];
        for (std::int64_t i = top; i < top + kernel; ++i) {
          for (std::int64_t j = left; j < left + kernel; ++j) {
            const T v = in[i * g.w + j];
            // PyTorch's rule: strictly larger wins (the first maximum is kept), and a NaN wins, so it
            // propagates. Selects instead of branches: on real activations the comparison is a coin toss
            // that a branch predictor loses half the time.
            const bool take = (v > best_value) | ((v != v) & (best_value == best_value));
            best_value = take ? v : best_value;
            best = take ? i * g.w + j : best;
          }
        }
        *po++ = best_value;
        *pi++ = static_cast<std::int32_t>(best);
      }
    }
  }
}

}  // namespace

static Tensor max_pool2d_native(const Tensor& x, std::int64_t kernel, std::int64_t stride) {
  if (detail::on_cuda(x)) return detail::cuda_ops().max_pool2d(x, kernel, stride);
  const PoolGeometry g = pool_geometry(x, kernel, stride, "max_pool2d");
  const Tensor xc = contiguous(x.detach());
  Tensor out = empty(pooled_shape(x, g), x.dtype());
  Tensor argmax = empty(out.shape(), DType::int32);
  detail::dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {
      if (pools_2x2_fast(x.dtype(), g)) {
        const std::int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
        detail::parallel_items(
            g.planes,
            [&](std::int64_t begin, std::int64_t end) {
              detail::max_pool_2x2_forward(
                  xc.data<float>() + begin * in_plane, out.data<float>() + begin * out_plane,
                  argmax.data<std::int32_t>() + begin * out_plane, end - begin, g.h, g.w);
            },
            planes_per_task(in_plane));
        return;
      }
    }
    // Other 2x2 windows get a loop with the window size known at compile time (unrolled); other sizes
    // take the same code with a runtime size.
    if (g.kernel == 2) {
      max_pool_planes<T, 2>(xc.data<T>(), out.data<T>(), argmax.data<std::int32_t>(), g);
    } else {
      max_pool_planes<T, 0>(xc.data<T>(), out.data<T>(), argmax.data<std::int32_t>(), g);
    }
  });
  return record(out, "max_pool2d", {x}, [g, argmax, x_shape = x.shape()](const Tensor& grad_out) {
    const Tensor gc = contiguous(grad_out);
    if (pools_2x2_fast(gc.dtype(), g)) {
      // Writes every element of gx: no zeroing pass, no scatter.
      Tensor gx = empty(x_shape, gc.dtype());
      const std::int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
      detail::parallel_items(
          g.planes,
          [&](std::int64_t begin, std::int64_t end) {
            detail::max_pool_2x2_backward(gc.data<float>() + begin * out_plane,
                                          argmax.data<std::int32_t>() + begin * out_plane,
                                          gx.data<float>() + begin * in_plane, end - begin, g.h, g.w);
          },
          planes_per_task(in_plane));
      return std::vector<Tensor>{gx};
    }
    Tensor gx = zeros(x_shape, gc.dtype());
    detail::dispatch_float(gc.dtype(), "max_pool2d backward", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = gc.data<T>();
      const std::int32_t* pi = argmax.data<std::int32_t>();
      T* px = gx.data<T>();
      const std::int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
      for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        T* dst = px + plane * plane_in;
        for (std::int64_t j = 0; j < plane_out; ++j) dst[pi[j]] += pg[j];
        pg += plane_out;
        pi += plane_out;
      }
    });
    return std::vector<Tensor>{gx};
  });
}

static Tensor avg_pool2d_native(const Tensor& x, std::int64_t kernel, std::int64_t stride) {
  const PoolGeometry g = pool_geometry(x, kernel, stride, "avg_pool2d");
  const Tensor xc = contiguous(x.detach());
  Tensor out = empty(pooled_shape(x, g), x.dtype());
  const double inv_area = 1.0 / static_cast<double>(g.kernel * g.kernel);
  detail::dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    const T scale = static_cast<T>(inv_area);
    for (std::int64_t plane = 0; plane < g.planes; ++plane) {
      const T* in = px + plane * g.h * g.w;
      for (std::int64_t oh = 0; oh < g.oh; ++oh) {
        for (std::int64_t ow = 0; ow < g.ow; ++ow) {
          const std::int64_t top = oh * g.stride, left = ow * g.stride;
          T s = 0;
          for (std::int64_t i = top; i < top + g.kernel; ++i) {
            for (std::int64_t j = left; j < left + g.kernel; ++j) s += in[i * g.w + j];
          }
          *po++ = s * scale;
        }
      }
    }
  });
  return record(out, "avg_pool2d", {x}, [g, inv_area, x_shape = x.shape()](const Tensor& grad_out) {
    const Tensor gc = contiguous(grad_out);
    Tensor gx = zeros(x_shape, gc.dtype());
    detail::dispatch_float(gc.dtype(), "avg_pool2d backward", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = gc.data<T>();
      T* px = gx.data<T>();
      const T scale = static_cast<T>(inv_area);
      for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        T* dst = px + plane * g.h * g.w;
        for (std::int64_t oh = 0; oh < g.oh; ++oh) {
          for (std::int64_t ow = 0; ow < g.ow; ++ow) {
            const T v = *pg++ * scale;
            const std::int64_t top = oh * g.stride, left = ow * g.stride;
            for (std::int64_t i = top; i < top + g.kernel; ++i) {
              for (std::int64_t j = left; j < left + g.kernel; ++j) dst[i * g.w + j] += v;
            }
          }
        }
      }
    });
    return std::vector<Tensor>{gx};
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride) {
  return detail::autocast_op(
      "max_pool2d", [&](const Tensor& x_) { return max_pool2d_native(x_, kernel, stride); }, x);
}

Tensor avg_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride) {
  return detail::autocast_op(
      "avg_pool2d", [&](const Tensor& x_) { return avg_pool2d_native(x_, kernel, stride); }, x);
}

}  // namespace lowbit::train
