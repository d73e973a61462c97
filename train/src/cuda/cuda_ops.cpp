// CudaOps on device tensors: elementwise maps, sums, copies, casts, fills, GEMMs (lowbit's tensor-core
// kernels, or cuBLAS for float32 and under `--gemm cublas`) and optimizer updates.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>

#include "../gemm_2d.hpp"
#include "../strided.hpp"
#include "check.hpp"
#include "cuda_ops_impl.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"
#include "lowbit/train/device.hpp"

namespace lowbit::train::detail {

namespace kc = kernels::cuda;

namespace {

// The iteration space of `shape` with each operand's strides, merged where contiguous in all of them.
template <std::size_t N>
kc::Layout layout_of(const Shape& shape, const std::array<Shape, N>& strides, const char* op) {
  kc::Layout l;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = l.dims > 0;
    for (std::size_t o = 0; o < N && merge; ++o) merge = l.strides[o][l.dims - 1] == strides[o][d] * shape[d];
    if (merge) {
      l.shape[l.dims - 1] *= shape[d];
      for (std::size_t o = 0; o < N; ++o) l.strides[o][l.dims - 1] = strides[o][d];
      continue;
    }
    if (l.dims == kc::kMaxDims) {
      throw ShapeError(fmt::format("{}: shape {} has more than {} dimensions that do not merge on cuda", op,
                                   shape_string(shape), kc::kMaxDims));
    }
    l.shape[l.dims] = shape[d];
    for (std::size_t o = 0; o < N; ++o) l.strides[o][l.dims] = strides[o][d];
    ++l.dims;
  }
  return l;
}

Tensor device_empty(const Shape& shape, DType dtype) {
  return empty(shape, dtype, Device::cuda);
}

// A 2-D operand as a GEMM reads it: data, leading dimension, transpose (a contiguous copy when the strides
// fit neither layout), as gemm_2d.cpp does on the CPU.
struct Operand {
  Tensor keep;
  kernels::Transpose transpose = kernels::Transpose::no;
  std::int64_t ld = 0;
};

Operand as_operand(const Tensor& t) {
  const std::int64_t rows = t.shape()[0], cols = t.shape()[1];
  const std::int64_t s0 = t.strides()[0], s1 = t.strides()[1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<std::int64_t>(cols, 1)) return {t, kernels::Transpose::no, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<std::int64_t>(rows, 1))
    return {t, kernels::Transpose::yes, s1};
  return {clone(t), kernels::Transpose::no, std::max<std::int64_t>(cols, 1)};
}

// lowbit's GEMM gives each 128 x 128 (or smaller) output tile to one thread block and has no split-K: an
// output of a few tiles with a long K (a convolution's weight gradient: [o, taps] summed over every output
// pixel of the batch, K = 50176 for the CNN's first layer at batch 64) would run on a few of the GPU's
// multiprocessors for the whole K. Those go to cuBLAS, which splits K.
bool needs_split_k(std::int64_t m, std::int64_t n, std::int64_t k) {
  constexpr std::int64_t kTile = 128, kFewTiles = 8, kLongK = 2048;
  const std::int64_t tiles = ((m + kTile - 1) / kTile) * ((n + kTile - 1) / kTile);
  return tiles < kFewTiles && k >= kLongK;
}

// A device scalar the host reads back (one round trip, which also waits for the queued work).
template <class T>
T read_back(const Tensor& t) {
  T value{};
  backend(Device::cuda).copy_to_host(&value, *t.storage(), 0, sizeof(T));
  return value;
}

}  // namespace

void require_f32(const Tensor& t, const char* op) {
  if (t.dtype() != DType::float32) {
    throw RangeError(fmt::format("{}: dtype {} on cuda; this op computes in float32 there (cast first)", op,
                                 dtype_name(t.dtype())));
  }
}

Tensor CudaOpsImpl::unary(kc::UnaryOp op, const Tensor& a, double scalar, const char* name) {
  require_f32(a, name);
  Tensor out = device_empty(a.shape(), DType::float32);
  kc::unary_f32(op, static_cast<float>(scalar), layout_of<2>(a.shape(), {out.strides(), a.strides()}, name),
                out.data<float>(), a.data<float>());
  return out;
}

Tensor CudaOpsImpl::binary(kc::BinaryOp op, const Tensor& a, const Tensor& b, double scalar,
                           const char* name) {
  require_same_device(a, b, name);
  require_f32(a, name);
  require_f32(b, name);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = device_empty(shape, DType::float32);
  kc::binary_f32(
      op, static_cast<float>(scalar),
      layout_of<3>(shape, {out.strides(), broadcast_strides(a, shape), broadcast_strides(b, shape)}, name),
      out.data<float>(), a.data<float>(), b.data<float>());
  return out;
}

Tensor CudaOpsImpl::sum_keepdim(const Tensor& a, const std::vector<std::int64_t>& axes) {
  require_f32(a, "sum");
  Shape out_shape = a.shape();
  kc::Reduction r;
  for (std::size_t d = 0; d < a.shape().size(); ++d) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), static_cast<std::int64_t>(d));
    if (reduced) out_shape[d] = 1;
    if (a.shape()[d] == 1) continue;
    const int limit = kc::kMaxDims;
    int& count = reduced ? r.reduced_dims : r.kept_dims;
    if (count == limit) {
      throw ShapeError(
          fmt::format("sum: shape {} has more than {} dimensions on cuda", shape_string(a.shape()), limit));
    }
    (reduced ? r.reduced_shape : r.kept_shape)[count] = a.shape()[d];
    (reduced ? r.reduced_strides : r.kept_strides)[count] = a.strides()[d];
    ++count;
  }
  Tensor out = device_empty(out_shape, DType::float32);
  kc::sum_f32(r, out.data<float>(), a.data<float>());
  return out;
}

void CudaOpsImpl::copy(const Tensor& dst, const Tensor& src) {
  require_same_device(dst, src, "copy_into");
  if (dtype_bits(src.dtype()) < 8) throw RangeError("copy_into: packed 4-bit tensors do not run on cuda");
  kc::copy_strided(dtype_storage_bytes(src.dtype(), 1),
                   layout_of<2>(src.shape(), {dst.strides(), src.strides()}, "copy_into"), dst.raw_data(),
                   src.raw_data());
}

Tensor CudaOpsImpl::cast(const Tensor& src, DType to) {
  const DType from = src.dtype();
  const auto n = static_cast<std::size_t>(src.numel());
  auto narrowing_source = [](DType t) { return t == DType::float32 || t == DType::bfloat16; };
  auto narrow_target = [](DType t) {
    return t == DType::bfloat16 || t == DType::float16 || t == DType::float8_e4m3fn ||
           t == DType::float8_e5m2;
  };
  auto widenable = [](DType t) {
    return t == DType::bfloat16 || t == DType::float16 || t == DType::float8_e4m3fn ||
           t == DType::float8_e5m2;
  };
  Tensor out = device_empty(src.shape(), to);
  if (to == DType::float32 && widenable(from)) {
    kc::widen_to_f32(src.raw_data(), from, out.data<float>(), n);
  } else if (narrow_target(to) && narrowing_source(from)) {
    kc::convert(src.raw_data(), from, out.raw_data(), to, n);
  } else if (narrow_target(to) && widenable(from)) {
    // float16 or float8 to another narrow type: widening is exact, so this still rounds once.
    const Tensor wide = device_empty(src.shape(), DType::float32);
    kc::widen_to_f32(src.raw_data(), from, wide.data<float>(), n);
    kc::convert(wide.raw_data(), DType::float32, out.raw_data(), to, n);
  } else {
    throw RangeError(
        fmt::format("cast: {} to {} does not run on cuda (float32, bfloat16, float16 and float8 "
                    "types do)",
                    dtype_name(from), dtype_name(to)));
  }
  return out;
}

void CudaOpsImpl::fill(const Tensor& dst, double value) {
  if (dst.dtype() == DType::float32) {
    kc::fill_f32(dst.data<float>(), static_cast<float>(value), static_cast<std::size_t>(dst.numel()));
    return;
  }
  Tensor wide = device_empty(dst.shape(), DType::float32);
  fill(wide, value);
  copy(dst, cast(wide, dst.dtype()));
}

void CudaOpsImpl::scale_in_place(const Tensor& t, double factor) {
  require_f32(t, "scale");
  kc::unary_f32(kc::UnaryOp::mul_scalar, static_cast<float>(factor),
                layout_of<2>(t.shape(), {t.strides(), t.strides()}, "scale"), t.data<float>(),
                t.data<float>());
}

void CudaOpsImpl::gemm(const Tensor& a, const Tensor& b, Tensor& out, float beta, const float* bias,
                       float alpha) {
  if (a.dtype() == DType::float64) throw RangeError("matmul: float64 does not run on cuda");
  const std::int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  const Operand x = as_operand(a), y = as_operand(b);
  kernels::Epilogue e;
  e.alpha = alpha;
  e.beta = beta;
  e.bias = bias;
  const kernels::MatrixIn ma{
      .data = x.keep.raw_data(), .type = a.dtype(), .ld = x.ld, .transpose = x.transpose};
  const kernels::MatrixIn mb{
      .data = y.keep.raw_data(), .type = b.dtype(), .ld = y.ld, .transpose = y.transpose};
  const kernels::MatrixOut mc{.data = out.raw_data(), .type = out.dtype(), .ld = out.strides()[0]};
  // lowbit's tensor cores take 8- and 16-bit inputs; float32 goes to cuBLAS (no TF32), as does everything
  // but float8 under --gemm cublas, and the 16-bit products lowbit's kernels have no good schedule for.
  const bool cublas = a.dtype() == DType::float32 ||
                      (!is_float8(a.dtype()) && (cuda_gemm() == CudaGemm::cublas || needs_split_k(m, n, k)));
  if (cublas) {
    kc::gemm_cublas(m, n, k, ma, mb, mc, e);
  } else {
    kc::gemm(m, n, k, ma, mb, mc, e);
  }
}

void CudaOpsImpl::adam_update(const Tensor& param, const Tensor& grad, double multiplier,
                              const Tensor& exp_avg, const Tensor& exp_avg_sq, const kc::AdamStep& step) {
  const Tensor g = contiguous(grad);
  kc::adam_update(param.data<float>(), g.raw_data(), g.dtype(), static_cast<float>(multiplier),
                  exp_avg.data<float>(), exp_avg_sq.data<float>(), static_cast<std::size_t>(param.numel()),
                  step);
}

void CudaOpsImpl::sgd_update(const Tensor& param, const Tensor& grad, double multiplier, const Tensor& buffer,
                             const kc::SgdStep& step) {
  const Tensor g = contiguous(grad);
  kc::sgd_update(param.data<float>(), g.raw_data(), g.dtype(), static_cast<float>(multiplier),
                 buffer.defined() ? buffer.data<float>() : nullptr, static_cast<std::size_t>(param.numel()),
                 step);
}

double CudaOpsImpl::sum_squares(std::span<const Tensor> tensors) {
  Tensor sum = device_empty({1}, DType::float64);
  backend(Device::cuda).zero(*sum.storage());
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    const Tensor c = contiguous(t);
    kc::add_sum_squares(c.raw_data(), c.dtype(), static_cast<std::size_t>(c.numel()), sum.data<double>());
  }
  return read_back<double>(sum);
}

bool CudaOpsImpl::all_finite(std::span<const Tensor> tensors) {
  Tensor flag = device_empty({1}, DType::int32);
  backend(Device::cuda).zero(*flag.storage());
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    const Tensor c = contiguous(t);
    kc::flag_nonfinite(c.raw_data(), c.dtype(), static_cast<std::size_t>(c.numel()),
                       static_cast<unsigned*>(flag.raw_data()));
  }
  return read_back<std::int32_t>(flag) == 0;
}

void CudaOpsImpl::synchronize() {
  check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

float CudaOpsImpl::abs_max(const Tensor& t) {
  Tensor amax = device_empty({1}, DType::float32);
  backend(Device::cuda).zero(*amax.storage());
  const Tensor c = contiguous(t);
  kc::abs_max(c.raw_data(), c.dtype(), static_cast<std::size_t>(c.numel()), amax.data<float>());
  return read_back<float>(amax);
}

Tensor CudaOpsImpl::convert_scaled(const Tensor& t, DType to, float scale) {
  Tensor src = contiguous(t);
  if (src.dtype() != DType::float32 && src.dtype() != DType::bfloat16) src = train::cast(src, DType::float32);
  const Tensor factor = to_device(full({1}, scale), Device::cuda);
  Tensor out = device_empty(t.shape(), to);
  kc::ConvertOptions options;
  options.policy = Policy::saturate;  // beyond the format's largest finite clamps, as on the CPU
  options.scale = factor.data<float>();
  kc::convert(src.raw_data(), src.dtype(), out.raw_data(), to, static_cast<std::size_t>(src.numel()),
              options);
  return out;
}

Tensor CudaOpsImpl::scaled_gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, DType out_type,
                                float alpha, const Tensor& bias32) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const std::int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1], n = tb ? bs[0] : bs[1];
  Tensor out = device_empty({m, n}, out_type);
  kernels::Epilogue e;
  e.alpha = alpha;
  e.bias = bias32.defined() ? bias32.data<float>() : nullptr;
  using kernels::Transpose;
  kc::gemm(m, n, k,
           {.data = a.raw_data(),
            .type = a.dtype(),
            .ld = as[1],
            .transpose = ta ? Transpose::yes : Transpose::no},
           {.data = b.raw_data(),
            .type = b.dtype(),
            .ld = bs[1],
            .transpose = tb ? Transpose::yes : Transpose::no},
           {.data = out.raw_data(), .type = out_type, .ld = n}, e);
  return out;
}

CudaOps& cuda_ops() {
  static CudaOpsImpl ops;
  return ops;
}

}  // namespace lowbit::train::detail
