// Elementwise kernels of train/'s CUDA tensors (cuda_train.hpp): strided unary/binary float32 maps with
// broadcasting, strided copies of any element width, sums over axes, widening casts and fills.
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cmath>
#include <string>

#include "cuda_check.hpp"
#include "launch_grid.cuh"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda_train.hpp"

namespace lowbit::kernels::cuda {

namespace {

void check_launch(const char* kernel) {
  check_cuda(cudaGetLastError(), kernel);
}

// Drops extent-1 dimensions and merges neighbours that are contiguous in every operand, so most tensors
// become one or two dimensions (less index arithmetic per element).
Layout merged(const Layout& in, int operands) {
  Layout out;
  for (int d = 0; d < in.dims; ++d) {
    if (in.shape[d] == 1) continue;
    bool merge = out.dims > 0;
    for (int o = 0; o < operands && merge; ++o)
      merge = out.strides[o][out.dims - 1] == in.strides[o][d] * in.shape[d];
    if (merge) {
      out.shape[out.dims - 1] *= in.shape[d];
      for (int o = 0; o < operands; ++o) out.strides[o][out.dims - 1] = in.strides[o][d];
    } else {
      out.shape[out.dims] = in.shape[d];
      for (int o = 0; o < operands; ++o) out.strides[o][out.dims] = in.strides[o][d];
      ++out.dims;
    }
  }
  return out;
}

std::int64_t element_count(const Layout& l) {
  std::int64_t n = 1;
  for (int d = 0; d < l.dims; ++d) n *= l.shape[d];
  return n;
}

// The offsets of element i (row-major over the layout) in the first N operands.
template <int N>
__device__ void offsets_of(const Layout& l, std::int64_t i, std::int64_t (&off)[N]) {
  for (int o = 0; o < N; ++o) off[o] = 0;
  for (int d = l.dims - 1; d >= 0; --d) {
    const std::int64_t extent = l.shape[d];
    const std::int64_t c = i % extent;
    i /= extent;
    for (int o = 0; o < N; ++o) off[o] += c * l.strides[o][d];
  }
}

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;

__device__ float unary_value(UnaryOp op, float x, float s) {
  switch (op) {
    case UnaryOp::add_scalar:
      return x + s;
    case UnaryOp::mul_scalar:
      return x * s;
    case UnaryOp::relu:
      return x > 0 ? x : 0.0f;
    case UnaryOp::gelu_tanh:
      return 0.5f * x * (1.0f + tanhf(kGeluC * (x + kGeluA * x * x * x)));
    case UnaryOp::tanh:
      return tanhf(x);
    case UnaryOp::sigmoid:
      return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case UnaryOp::exp:
      return expf(x);
    case UnaryOp::log:
      return logf(x);
    case UnaryOp::pow:
      return powf(x, s);
    case UnaryOp::sqrt:
      return sqrtf(x);
  }
  return x;
}

__device__ float binary_value(BinaryOp op, float a, float b, float s) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
    case BinaryOp::relu_backward:
      return b > 0 ? a : 0.0f;
    case BinaryOp::gelu_backward: {
      const float u = kGeluC * (b + kGeluA * b * b * b);
      const float t = tanhf(u);
      const float du = kGeluC * (1.0f + 3.0f * kGeluA * b * b);
      return a * (0.5f * (1.0f + t) + 0.5f * b * (1.0f - t * t) * du);
    }
    case BinaryOp::tanh_backward:
      return a * (1 - b * b);
    case BinaryOp::sigmoid_backward:
      return a * b * (1 - b);
    case BinaryOp::pow_backward:
      return a * s * powf(b, s - 1);
    case BinaryOp::sqrt_backward:
      return a / (2 * b);
  }
  return a;
}

__global__ void unary_kernel(UnaryOp op, float s, Layout l, std::int64_t count, float* out, const float* in) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < count;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t off[2];
    offsets_of<2>(l, i, off);
    out[off[0]] = unary_value(op, in[off[1]], s);
  }
}

__global__ void binary_kernel(BinaryOp op, float s, Layout l, std::int64_t count, float* out, const float* a,
                              const float* b) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < count;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t off[3];
    offsets_of<3>(l, i, off);
    out[off[0]] = binary_value(op, a[off[1]], b[off[2]], s);
  }
}

template <class T>
__global__ void copy_kernel(Layout l, std::int64_t count, T* out, const T* in) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < count;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t off[2];
    offsets_of<2>(l, i, off);
    out[off[0]] = in[off[1]];
  }
}

// One block per output element; its threads stride over the reduced elements and meet in shared memory.
__global__ void sum_kernel(Reduction r, std::int64_t reduced_count, float* out, const float* in) {
  std::int64_t base = 0;
  for (std::int64_t rest = blockIdx.x, d = r.kept_dims - 1; d >= 0; --d) {
    base += rest % r.kept_shape[d] * r.kept_strides[d];
    rest /= r.kept_shape[d];
  }
  double s = 0;
  for (std::int64_t j = threadIdx.x; j < reduced_count; j += blockDim.x) {
    std::int64_t off = base;
    for (std::int64_t rest = j, d = r.reduced_dims - 1; d >= 0; --d) {
      off += rest % r.reduced_shape[d] * r.reduced_strides[d];
      rest /= r.reduced_shape[d];
    }
    s += in[off];
  }
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<float>(partial[0]);
}

__device__ float widen(const void* src, DType from, std::size_t i) {
  switch (from) {
    case DType::bfloat16:
      return __uint_as_float(static_cast<unsigned>(static_cast<const unsigned short*>(src)[i]) << 16);
    case DType::float16:
      return __half2float(static_cast<const __half*>(src)[i]);
    case DType::float8_e4m3fn:
      return __half2float(
          __half(__nv_cvt_fp8_to_halfraw(static_cast<const __nv_fp8_storage_t*>(src)[i], __NV_E4M3)));
    case DType::float8_e5m2:
      return __half2float(
          __half(__nv_cvt_fp8_to_halfraw(static_cast<const __nv_fp8_storage_t*>(src)[i], __NV_E5M2)));
    default:
      return static_cast<const float*>(src)[i];
  }
}

__global__ void widen_kernel(const void* src, DType from, float* dst, std::size_t count) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x)
    dst[i] = widen(src, from, i);
}

__global__ void fill_kernel(float* dst, float value, std::size_t count) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x)
    dst[i] = value;
}

void check_dims(const Layout& l, const char* fn) {
  if (l.dims < 0 || l.dims > kMaxDims)
    throw RangeError(std::string(fn) + ": " + std::to_string(l.dims) + " dimensions; at most " +
                     std::to_string(kMaxDims) + " are supported");
}

}  // namespace

void unary_f32(UnaryOp op, float scalar, const Layout& layout, float* out, const float* in) {
  check_dims(layout, "cuda::unary_f32");
  const Layout l = merged(layout, 2);
  const std::int64_t count = element_count(layout);
  if (count == 0) return;
  unary_kernel<<<blocks_for(count), kThreads>>>(op, scalar, l, count, out, in);
  check_launch("unary_kernel");
}

void binary_f32(BinaryOp op, float scalar, const Layout& layout, float* out, const float* a, const float* b) {
  check_dims(layout, "cuda::binary_f32");
  const Layout l = merged(layout, 3);
  const std::int64_t count = element_count(layout);
  if (count == 0) return;
  binary_kernel<<<blocks_for(count), kThreads>>>(op, scalar, l, count, out, a, b);
  check_launch("binary_kernel");
}

void copy_strided(std::size_t element_bytes, const Layout& layout, void* out, const void* in) {
  check_dims(layout, "cuda::copy_strided");
  const Layout l = merged(layout, 2);
  const std::int64_t count = element_count(layout);
  if (count == 0) return;
  if (l.dims == 1 && l.strides[0][0] == 1 && l.strides[1][0] == 1) {
    check_cuda(cudaMemcpyAsync(out, in, static_cast<std::size_t>(count) * element_bytes,
                               cudaMemcpyDeviceToDevice, nullptr),
               "cudaMemcpyAsync");
    return;
  }
  switch (element_bytes) {
    case 1:
      copy_kernel<<<blocks_for(count), kThreads>>>(l, count, static_cast<std::uint8_t*>(out),
                                                   static_cast<const std::uint8_t*>(in));
      break;
    case 2:
      copy_kernel<<<blocks_for(count), kThreads>>>(l, count, static_cast<std::uint16_t*>(out),
                                                   static_cast<const std::uint16_t*>(in));
      break;
    case 4:
      copy_kernel<<<blocks_for(count), kThreads>>>(l, count, static_cast<std::uint32_t*>(out),
                                                   static_cast<const std::uint32_t*>(in));
      break;
    case 8:
      copy_kernel<<<blocks_for(count), kThreads>>>(l, count, static_cast<std::uint64_t*>(out),
                                                   static_cast<const std::uint64_t*>(in));
      break;
    default:
      throw RangeError("cuda::copy_strided: element size " + std::to_string(element_bytes) +
                       " is not 1, 2, 4 or 8 bytes");
  }
  check_launch("copy_kernel");
}

void sum_f32(const Reduction& r, float* out, const float* in) {
  if (r.kept_dims > kMaxDims || r.reduced_dims > kMaxDims)
    throw RangeError("cuda::sum_f32: " + std::to_string(r.kept_dims) + " kept and " +
                     std::to_string(r.reduced_dims) + " reduced dimensions; at most " +
                     std::to_string(kMaxDims));
  std::int64_t outputs = 1, reduced = 1;
  for (int d = 0; d < r.kept_dims; ++d) outputs *= r.kept_shape[d];
  for (int d = 0; d < r.reduced_dims; ++d) reduced *= r.reduced_shape[d];
  if (outputs == 0) return;
  if (outputs > 0x7fffffff)
    throw RangeError("cuda::sum_f32: " + std::to_string(outputs) + " outputs are too many");
  // Small reductions take fewer threads per output (the block size must stay a power of two).
  int threads = 32;
  while (threads < kThreads && threads < reduced) threads *= 2;
  sum_kernel<<<static_cast<unsigned>(outputs), threads>>>(r, reduced, out, in);
  check_launch("sum_kernel");
}

void widen_to_f32(const void* src, DType from, float* dst, std::size_t count) {
  if (from != DType::bfloat16 && from != DType::float16 && from != DType::float8_e4m3fn &&
      from != DType::float8_e5m2 && from != DType::float32)
    throw RangeError("cuda::widen_to_f32: from = " + std::string(dtype_name(from)) +
                     " is not bfloat16, float16 or a float8 type");
  if (count == 0) return;
  widen_kernel<<<blocks_for(static_cast<std::int64_t>(count)), kThreads>>>(src, from, dst, count);
  check_launch("widen_kernel");
}

void fill_f32(float* dst, float value, std::size_t count) {
  if (count == 0) return;
  fill_kernel<<<blocks_for(static_cast<std::int64_t>(count)), kThreads>>>(dst, value, count);
  check_launch("fill_kernel");
}

}  // namespace lowbit::kernels::cuda
