// conv2d as im2col + GEMM. The column buffer is [C*kh*kw, N*OH*OW]: row r = (c, ki, kj) holds, for every
// output position of every image, the input element that kernel tap meets there. Then
//   forward   out[O, N*P]    = W[O, K] * col[K, N*P]         (P = OH*OW, K = C*kh*kw)
//   backward  dW^T[K, O]     = col * g_rows[N*P, O]          (one GEMM; g_rows: the gradient channels-last)
//             dcol[K, N*P]   = W^T * g[O, N*P]               then col2im scatter-adds into dx
// The forward and dcol products run over blocks of images whose columns fit in L2 (images_per_block): a
// few hundred to tens of thousands of columns per GEMM keep the packed kernel busy on both cores, where a
// GEMM per image (n = P = 576 columns for 28x28 inputs) would spend much of its time packing. Every GEMM
// reads its large operand row-major (kernels/ packs a transposed B element by element). The
// [O, N, P] <-> [N, O, P] reorders are contiguous row copies, fused with the bias add in the forward.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "gemm_2d.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

struct ConvGeometry {
  std::int64_t n, c, h, w;  // input
  std::int64_t o, kh, kw;   // weight
  std::int64_t stride, padding;
  std::int64_t oh, ow;                               // output
  std::int64_t taps() const { return c * kh * kw; }  // K of the GEMMs
  std::int64_t plane() const { return oh * ow; }
  std::int64_t columns() const { return n * oh * ow; }
};

ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                           std::int64_t padding) {
  detail::require_cpu(x, "conv2d");
  detail::require_cpu(weight, "conv2d");
  if (x.dim() != 4 || weight.dim() != 4) {
    throw ShapeError(fmt::format("conv2d: input x {} and weight {} must be [N, C, H, W] and [O, C, kh, kw]",
                                 shape_string(x.shape()), shape_string(weight.shape())));
  }
  if (x.dtype() != weight.dtype() ||
      (bias.defined() && bias.dtype() != detail::gemm_output_type(x.dtype()))) {
    throw RangeError(fmt::format("conv2d: x, weight and bias have dtypes {}, {} and {}; they must agree",
                                 dtype_name(x.dtype()), dtype_name(weight.dtype()),
                                 bias.defined() ? dtype_name(bias.dtype()) : "(none)"));
  }
  if (stride < 1) throw RangeError(fmt::format("conv2d: stride {} must be at least 1", stride));
  if (padding < 0) throw RangeError(fmt::format("conv2d: padding {} must not be negative", padding));
  ConvGeometry g{};
  g.n = x.shape()[0], g.c = x.shape()[1], g.h = x.shape()[2], g.w = x.shape()[3];
  g.o = weight.shape()[0], g.kh = weight.shape()[2], g.kw = weight.shape()[3];
  g.stride = stride, g.padding = padding;
  if (weight.shape()[1] != g.c) {
    throw ShapeError(fmt::format("conv2d: weight {} expects {} input channels, x {} has {}",
                                 shape_string(weight.shape()), weight.shape()[1], shape_string(x.shape()),
                                 g.c));
  }
  if (g.kh < 1 || g.kw < 1 || g.h + 2 * padding < g.kh || g.w + 2 * padding < g.kw) {
    throw ShapeError(fmt::format("conv2d: kernel {}x{} of weight {} does not fit x {} padded by {}", g.kh,
                                 g.kw, shape_string(weight.shape()), shape_string(x.shape()), padding));
  }
  if (bias.defined()) {
    detail::require_cpu(bias, "conv2d");
    if (bias.shape() != Shape{g.o}) {
      throw ShapeError(fmt::format("conv2d: bias {} does not fit weight {} (expected [{}])",
                                   shape_string(bias.shape()), shape_string(weight.shape()), g.o));
    }
  }
  g.oh = (g.h + 2 * padding - g.kh) / stride + 1;
  g.ow = (g.w + 2 * padding - g.kw) / stride + 1;
  return g;
}

// The output columns [lo, hi) whose input column ow*stride - padding + kj lies inside [0, w); the rest
// read the zero padding. Computed once per tap, so the inner loops have no bounds checks.
std::pair<std::int64_t, std::int64_t> valid_columns(const ConvGeometry& g, std::int64_t kj) {
  const std::int64_t first = g.padding - kj;           // ow * stride >= first
  const std::int64_t last = g.w + g.padding - kj - 1;  // ow * stride <= last
  const std::int64_t lo = first <= 0 ? 0 : std::min(g.ow, (first + g.stride - 1) / g.stride);
  const std::int64_t hi = last < 0 ? 0 : std::min(g.ow, last / g.stride + 1);
  return {lo, std::max(lo, hi)};
}

// Calls f(dst_row, src_row_or_null, lo, hi, shift) for every (tap, image in [n0, n1), output row): dst_row
// is the OW entries of the column buffer, src_row the input row the tap reads (null in the vertical
// padding), and output column ow in [lo, hi) meets input column ow * stride + shift.
template <class T, class Col, class F>
void for_each_tap_row(const ConvGeometry& g, T* x, Col* col, std::int64_t n0, std::int64_t n1, F f) {
  const std::int64_t columns = g.columns(), plane = g.plane();
  for (std::int64_t c = 0; c < g.c; ++c) {
    for (std::int64_t ki = 0; ki < g.kh; ++ki) {
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        Col* row = col + ((c * g.kh + ki) * g.kw + kj) * columns;
        const auto [lo, hi] = valid_columns(g, kj);
        const std::int64_t shift = kj - g.padding;
        for (std::int64_t n = n0; n < n1; ++n) {
          T* image = x + (n * g.c + c) * g.h * g.w;
          for (std::int64_t oh = 0; oh < g.oh; ++oh) {
            const std::int64_t ih = oh * g.stride - g.padding + ki;
            T* src = ih >= 0 && ih < g.h ? image + ih * g.w : nullptr;
            f(row + n * plane + oh * g.ow, src, lo, hi, shift);
          }
        }
      }
    }
  }
}

// Stride 1 with the output as wide as the input (the CNN's "same" 3x3): output row oh of a tap reads input
// row oh - padding + ki at one column shift for all rows, and the rows follow each other in both buffers,
// so the rows of one image that meet the input are one contiguous copy; the columns that read the
// horizontal padding are zeroed after it. One copy per (tap, image) instead of one per output row (memcpy
// calls of 14 floats were most of im2col's time).
template <class T>
void im2col_same_width(const ConvGeometry& g, const T* x, T* col, std::int64_t n0, std::int64_t n1) {
  const std::int64_t w = g.w, plane = g.plane();
  for (std::int64_t c = 0; c < g.c; ++c) {
    for (std::int64_t ki = 0; ki < g.kh; ++ki) {
      // Output rows [r0, r1) meet input rows; the others read the vertical padding.
      const std::int64_t r0 = std::clamp(g.padding - ki, std::int64_t{0}, g.oh);
      const std::int64_t r1 = std::clamp(g.h + g.padding - ki, r0, g.oh);
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((c * g.kh + ki) * g.kw + kj) * g.columns();
        const auto [lo, hi] = valid_columns(g, kj);
        // dst index oh * w + j reads src index (oh - padding + ki) * w + j + kj - padding.
        const std::int64_t shift = (ki - g.padding) * w + kj - g.padding;
        for (std::int64_t n = n0; n < n1; ++n) {
          T* dst = row + n * plane;
          const T* image = x + (n * g.c + c) * g.h * w;
          std::fill(dst, dst + r0 * w, T(0));
          if (r1 > r0 && hi > lo) {
            const std::int64_t first = r0 * w + lo, last = (r1 - 1) * w + hi;
            std::memcpy(dst + first, image + first + shift,
                        static_cast<std::size_t>(last - first) * sizeof(T));
          }
          for (std::int64_t oh = r0; oh < r1; ++oh) {
            std::fill(dst + oh * w, dst + oh * w + lo, T(0));
            std::fill(dst + oh * w + hi, dst + (oh + 1) * w, T(0));
          }
          std::fill(dst + r1 * w, dst + plane, T(0));
        }
      }
    }
  }
}

// The columns of images [n0, n1).
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col, std::int64_t n0, std::int64_t n1) {
  if (g.stride == 1 && g.ow == g.w) return im2col_same_width(g, x, col, n0, n1);
  const std::int64_t ow = g.ow, stride = g.stride;
  for_each_tap_row(g, x, col, n0, n1,
                   [ow, stride](T* dst, const T* src, std::int64_t lo, std::int64_t hi, std::int64_t shift) {
                     if (src == nullptr) {
                       std::fill(dst, dst + ow, T(0));
                       return;
                     }
                     std::fill(dst, dst + lo, T(0));
                     if (stride == 1) {
                       std::memcpy(dst + lo, src + lo + shift, static_cast<std::size_t>(hi - lo) * sizeof(T));
                     } else {
                       for (std::int64_t j = lo; j < hi; ++j) dst[j] = src[j * stride + shift];
                     }
                     std::fill(dst + hi, dst + ow, T(0));
                   });
}

// dx += col2im(dcol) for images [n0, n1): every column entry goes back to the input element it was copied
// from (taps that overlap sum). dx must be zeroed first.
template <class T>
void col2im(const ConvGeometry& g, const T* dcol, T* dx, std::int64_t n0, std::int64_t n1) {
  const std::int64_t stride = g.stride;
  for_each_tap_row(g, dx, dcol, n0, n1,
                   [stride](const T* src, T* dst, std::int64_t lo, std::int64_t hi, std::int64_t shift) {
                     if (dst == nullptr) return;
                     if (stride == 1) {
                       T* d = dst + shift;
                       for (std::int64_t j = lo; j < hi; ++j) d[j] += src[j];
                     } else {
                       for (std::int64_t j = lo; j < hi; ++j) dst[j * stride + shift] += src[j];
                     }
                   });
}

// Calls f(i0, i1) on ranges of the images [n0, n1), split across the kernels' threads: im2col, col2im and
// the output reorder write each image's own entries, so the split does not change any value.
template <class F>
void for_images(const ConvGeometry& g, std::int64_t n0, std::int64_t n1, F f) {
  const std::int64_t per_image = std::max<std::int64_t>(1, g.taps() * g.plane());
  detail::parallel_items(
      n1 - n0, [&](std::int64_t begin, std::int64_t end) { f(n0 + begin, n0 + end); },
      std::max<std::int64_t>(1, (std::int64_t{1} << 15) / per_image));
}

// Images per block of the column buffer: a block's columns (K x images * P) stay in L2 (about 1 MiB) from
// im2col to the GEMM that reads them (forward), and from the GEMM that writes them to col2im (backward),
// where whole-batch passes sent the CNN's 14 MB buffer to memory and back in between. At least one image.
std::int64_t images_per_block(const ConvGeometry& g, DType type) {
  constexpr std::int64_t kBlockBytes = std::int64_t{1} << 20;
  const auto image_bytes = static_cast<std::int64_t>(dtype_storage_bytes(type, 1)) * g.taps() * g.plane();
  return std::max<std::int64_t>(1, kBlockBytes / image_bytes);
}

// The columns of images [n0, n1) of a [rows, N*P] matrix, as a view.
Tensor image_columns(const Tensor& m, const ConvGeometry& g, std::int64_t n0, std::int64_t n1) {
  return detail::strided_view(m, {m.shape()[0], (n1 - n0) * g.plane()}, {m.strides()[0], 1},
                              m.offset() + n0 * g.plane());
}

// What backward keeps: only what the needed gradients use (the column buffer for dW, the weight for dx).
struct ConvSaved {
  ConvGeometry g;
  Shape x_shape, w_shape;
  Tensor col;       // [K, N*P], when dW is needed
  Tensor w2;        // weight as [O, K], when dx is needed
  DType type;       // the compute dtype of x and the weight
  DType bias_type;  // the bias's dtype (the output's)
  bool need_x, need_w, need_b;
};

// Calls f(T{}) with the element's storage type: float/double for the arithmetic dtypes, and a same-sized
// unsigned integer for the low-precision ones (im2col only moves and zero-fills elements; code 0 is +0).
template <class F>
void dispatch_storage(DType type, F&& f) {
  switch (dtype_bits(type)) {
    case 8:
      return f(std::uint8_t{});
    case 16:
      return f(std::uint16_t{});
    default:
      detail::dispatch_float(type, "conv2d", f);
  }
}

// The dtype conv2d accumulates and reorders in: the compute dtype itself for float32/float64, float32 for
// the low-precision ones (the GEMM reads them and writes fp32).
DType accumulation_type(DType compute) {
  return detail::computes_natively(compute) ? compute : DType::float32;
}

std::vector<Tensor> conv2d_backward(const ConvSaved& saved, const Tensor& grad_out) {
  const ConvGeometry& g = saved.g;
  const DType acc = accumulation_type(saved.type);
  // The GEMMs read the gradient in the compute dtype, as the forward read its operands (float8 products
  // came out in bfloat16, and the saved float8 operands widen to it exactly).
  const DType operand_type = detail::is_float8(saved.type) ? DType::bfloat16 : saved.type;
  auto operand = [&](const Tensor& t) { return cast(t, operand_type); };
  const Tensor g3 = detail::reshaped_view(contiguous(cast(grad_out, acc)), {g.n, g.o, g.plane()});
  Tensor gx, gw, gb;
  // The bias gradient sums contiguous runs of P (one per image and channel).
  if (saved.need_b) gb = cast(sum(g3, {0, 2}), saved.bias_type);
  if (saved.need_w) {
    // The gradient channels-last, [N*P, O]: dW^T = col * g_rows reads both operands row-major (with
    // g [O, N*P] and col^T as operands, kernels/ packs the 14 MB col^T of the CNN's second conv element by
    // element and the product took twice as long).
    const Tensor g_rows = detail::reshaped_view(clone(permute(g3, {0, 2, 1})), {g.columns(), g.o});
    Tensor gw_t = empty({g.taps(), g.o}, acc);
    detail::gemm_2d(operand(saved.col), operand(g_rows), gw_t, 0.0f);
    gw = detail::reshaped_view(cast(clone(transpose(gw_t, 0, 1)), detail::gemm_output_type(saved.type)),
                               saved.w_shape);
  }
  if (saved.need_x) {
    // dcol = W^T * g with g as [O, N*P] ([N, O, P] -> [O, N, P]: contiguous rows of P), then col2im.
    const Tensor gmat = detail::reshaped_view(clone(permute(g3, {1, 0, 2})), {g.o, g.columns()});
    const Tensor w_t = transpose(operand(saved.w2), 0, 1), g_in = operand(gmat);
    Tensor dcol = empty({g.taps(), g.columns()}, acc);
    gx = zeros(saved.x_shape, acc);
    const std::int64_t block = images_per_block(g, acc);
    for (std::int64_t n0 = 0; n0 < g.n; n0 += block) {
      const std::int64_t n1 = std::min(g.n, n0 + block);
      Tensor dcol_block = image_columns(dcol, g, n0, n1);
      detail::gemm_2d(w_t, image_columns(g_in, g, n0, n1), dcol_block, 0.0f);
      detail::dispatch_float(acc, "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        for_images(g, n0, n1, [&](std::int64_t i0, std::int64_t i1) {
          col2im(g, dcol.data<T>(), gx.data<T>(), i0, i1);
        });
      });
    }
    gx = cast(gx, detail::gemm_output_type(saved.type));
  }
  return {gx, gw, gb};
}

Tensor conv2d_native(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                     std::int64_t padding) {
  if (detail::on_cuda(x)) return detail::cuda_ops().conv2d(x, weight, bias, stride, padding);
  const ConvGeometry g = conv_geometry(x, weight, bias, stride, padding);
  const DType type = x.dtype(), acc = accumulation_type(type);
  const Tensor xc = contiguous(x.detach());
  const Tensor w2 = detail::reshaped_view(contiguous(weight.detach()), {g.o, g.taps()});
  const Tensor bc = bias.defined() ? contiguous(cast(bias.detach(), acc)) : Tensor();
  Tensor col = empty({g.taps(), g.columns()}, type);
  Tensor product = empty({g.o, g.columns()}, acc);
  Tensor out = empty({g.n, g.o, g.oh, g.ow}, acc);
  const std::int64_t block = images_per_block(g, type);
  for (std::int64_t n0 = 0; n0 < g.n; n0 += block) {
    const std::int64_t n1 = std::min(g.n, n0 + block);
    dispatch_storage(type, [&](auto tag) {
      using S = decltype(tag);
      for_images(g, n0, n1, [&](std::int64_t i0, std::int64_t i1) {
        im2col(g, static_cast<const S*>(xc.raw_data()), static_cast<S*>(col.raw_data()), i0, i1);
      });
    });
    Tensor product_block = image_columns(product, g, n0, n1);
    detail::gemm_2d(w2, image_columns(col, g, n0, n1), product_block, 0.0f);
  }
  detail::dispatch_float(acc, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    // [O, N, P] -> [N, O, P], adding the bias on the way.
    const T* pr = product.data<T>();
    const T* b = bc.defined() ? bc.data<T>() : nullptr;
    T* o = out.data<T>();
    const std::int64_t plane = g.plane(), columns = g.columns();
    for_images(g, 0, g.n, [&](std::int64_t n0, std::int64_t n1) {
      for (std::int64_t n = n0; n < n1; ++n) {
        for (std::int64_t oc = 0; oc < g.o; ++oc) {
          const T* src = pr + oc * columns + n * plane;
          T* dst = o + (n * g.o + oc) * plane;
          const T shift = b != nullptr ? b[oc] : T(0);
          for (std::int64_t p = 0; p < plane; ++p) dst[p] = src[p] + shift;
        }
      }
    });
  });
  // Rounded once from the fp32 result (no record: the conv2d node below covers it).
  out = cast(out, detail::gemm_output_type(type));
  ConvSaved saved{g,
                  x.shape(),
                  weight.shape(),
                  Tensor(),
                  Tensor(),
                  type,
                  bias.defined() ? bias.dtype() : type,
                  x.requires_grad(),
                  weight.requires_grad(),
                  bias.defined() && bias.requires_grad()};
  if (saved.need_w) saved.col = col;
  if (saved.need_x) saved.w2 = w2;
  return record(out, "conv2d", {x, weight, bias}, [saved = std::move(saved)](const Tensor& grad_out) {
    return conv2d_backward(saved, grad_out);
  });
}

}  // namespace

// conv2d is on autocast's allow list: the operands are cast to the compute dtype and the GEMM reads them
// there; the bias joins the output's dtype.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
              std::int64_t padding) {
  const DType t = detail::op_compute_type("conv2d", {&x, &weight, &bias});
  return conv2d_native(detail::to_compute_type(x, t), detail::to_compute_type(weight, t),
                       detail::to_compute_type(bias, detail::gemm_output_type(t)), stride, padding);
}

}  // namespace lowbit::train
