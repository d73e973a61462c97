// Network-op kernels of train/'s CUDA tensors (cuda_train.hpp): im2col/col2im for convolution as GEMMs,
// max pooling, fused softmax cross-entropy and dropout's masked scale.
#include <cmath>
#include <cstdint>

#include "cuda_check.hpp"
#include "launch_grid.cuh"
#include "lowbit/kernels/cuda_train.hpp"

namespace lowbit::kernels::cuda {

namespace {

#define LOWBIT_GRID_LOOP(i, count)                                                        \
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < (count); \
       i += std::int64_t{gridDim.x} * blockDim.x)

// rows[(n * oh + y) * ow + x][(c * kh + i) * kw + j] = x[n, c, y * stride - padding + i, x * stride - padding
// + j]
template <class T>
__global__ void im2col_kernel(ConvShape s, const T* x, T* rows) {
  const std::int64_t taps = s.c * s.kh * s.kw;
  const std::int64_t count = s.n * s.oh * s.ow * taps;
  LOWBIT_GRID_LOOP(e, count) {
    const std::int64_t tap = e % taps, row = e / taps;
    const std::int64_t j = tap % s.kw, i = tap / s.kw % s.kh, c = tap / (s.kw * s.kh);
    const std::int64_t ox = row % s.ow, oy = row / s.ow % s.oh, n = row / (s.ow * s.oh);
    const std::int64_t iy = oy * s.stride - s.padding + i, ix = ox * s.stride - s.padding + j;
    rows[e] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w ? x[((n * s.c + c) * s.h + iy) * s.w + ix] : T(0);
  }
}

__global__ void col2im_kernel(ConvShape s, const float* rows, float* dx) {
  const std::int64_t taps = s.c * s.kh * s.kw;
  const std::int64_t count = s.n * s.c * s.h * s.w;
  LOWBIT_GRID_LOOP(e, count) {
    const std::int64_t ix = e % s.w, iy = e / s.w % s.h, c = e / (s.w * s.h) % s.c, n = e / (s.w * s.h * s.c);
    float sum = 0;
    for (std::int64_t i = 0; i < s.kh; ++i) {
      const std::int64_t ty = iy + s.padding - i;  // = oy * stride
      if (ty < 0 || ty % s.stride != 0 || ty / s.stride >= s.oh) continue;
      for (std::int64_t j = 0; j < s.kw; ++j) {
        const std::int64_t tx = ix + s.padding - j;
        if (tx < 0 || tx % s.stride != 0 || tx / s.stride >= s.ow) continue;
        const std::int64_t row = (n * s.oh + ty / s.stride) * s.ow + tx / s.stride;
        sum += rows[row * taps + (c * s.kh + i) * s.kw + j];
      }
    }
    dx[e] = sum;
  }
}

__global__ void max_pool_kernel(const float* x, std::int64_t planes, std::int64_t h, std::int64_t w,
                                std::int64_t kernel, std::int64_t stride, std::int64_t oh, std::int64_t ow,
                                float* out, std::int32_t* argmax) {
  LOWBIT_GRID_LOOP(e, planes * oh * ow) {
    const std::int64_t ox = e % ow, oy = e / ow % oh, plane = e / (ow * oh);
    const float* in = x + plane * h * w;
    const std::int64_t top = oy * stride, left = ox * stride;
    std::int64_t best = top * w + left;
    float best_value = in[best];
    for (std::int64_t i = top; i < top + kernel; ++i) {
      for (std::int64_t j = left; j < left + kernel; ++j) {
        const float v = in[i * w + j];
        // The CPU op's rule: strictly larger wins, and the first NaN wins over any number.
        if (v > best_value || (v != v && best_value == best_value)) {
          best_value = v;
          best = i * w + j;
        }
      }
    }
    out[e] = best_value;
    argmax[e] = static_cast<std::int32_t>(best);
  }
}

__global__ void max_pool_backward_kernel(const float* grad, const std::int32_t* argmax, std::int64_t planes,
                                         std::int64_t h, std::int64_t w, std::int64_t oh, std::int64_t ow,
                                         float* dx) {
  LOWBIT_GRID_LOOP(e, planes * oh * ow) {
    const std::int64_t plane = e / (oh * ow);
    atomicAdd(dx + plane * h * w + argmax[e], grad[e]);
  }
}

// One block: each thread takes rows, in fp64 like the CPU op; the block sums the rows' losses.
__global__ void cross_entropy_kernel(const float* logits, const std::int32_t* labels, std::int64_t n,
                                     std::int64_t classes, float* probs, float* loss) {
  double total = 0;
  for (std::int64_t r = threadIdx.x; r < n; r += blockDim.x) {
    const float* row = logits + r * classes;
    double m = row[0];
    for (std::int64_t i = 1; i < classes; ++i) m = row[i] > m ? row[i] : m;
    double s = 0;
    for (std::int64_t i = 0; i < classes; ++i) s += exp(static_cast<double>(row[i]) - m);
    const double logsum = log(s);
    const std::int32_t label = labels[r];
    total += label >= 0 && label < classes ? m + logsum - static_cast<double>(row[label]) : NAN;
    for (std::int64_t i = 0; i < classes; ++i)
      probs[r * classes + i] = static_cast<float>(exp(static_cast<double>(row[i]) - m - logsum));
  }
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = total;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss = static_cast<float>(n == 0 ? 0.0 : partial[0] / static_cast<double>(n));
}

__global__ void cross_entropy_backward_kernel(const float* probs, const std::int32_t* labels, std::int64_t n,
                                              std::int64_t classes, const float* seed, float* grad) {
  const float scale = static_cast<float>(static_cast<double>(*seed) / static_cast<double>(n));
  LOWBIT_GRID_LOOP(e, n * classes) {
    const std::int64_t r = e / classes, i = e % classes;
    grad[e] = (probs[e] - (labels[r] == i ? 1.0f : 0.0f)) * scale;
  }
}

__global__ void masked_scale_kernel(const float* in, const std::uint8_t* mask, float scale,
                                    std::int64_t count, float* out) {
  LOWBIT_GRID_LOOP(e, count) out[e] = mask[e] != 0 ? in[e] * scale : 0.0f;
}

}  // namespace

void im2col_rows(std::size_t element_bytes, const ConvShape& s, const void* x, void* rows) {
  const std::int64_t count = s.n * s.oh * s.ow * s.c * s.kh * s.kw;
  if (count == 0) return;
  if (element_bytes == 1) {
    im2col_kernel<<<blocks_for(count), kThreads>>>(s, static_cast<const std::uint8_t*>(x),
                                                   static_cast<std::uint8_t*>(rows));
  } else if (element_bytes == 2) {
    im2col_kernel<<<blocks_for(count), kThreads>>>(s, static_cast<const std::uint16_t*>(x),
                                                   static_cast<std::uint16_t*>(rows));
  } else {
    im2col_kernel<<<blocks_for(count), kThreads>>>(s, static_cast<const std::uint32_t*>(x),
                                                   static_cast<std::uint32_t*>(rows));
  }
  check_cuda(cudaGetLastError(), "im2col_kernel");
}

void col2im_rows_f32(const ConvShape& s, const float* rows, float* dx) {
  const std::int64_t count = s.n * s.c * s.h * s.w;
  if (count == 0) return;
  col2im_kernel<<<blocks_for(count), kThreads>>>(s, rows, dx);
  check_cuda(cudaGetLastError(), "col2im_kernel");
}

void max_pool2d_f32(const float* x, std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t kernel,
                    std::int64_t stride, std::int64_t oh, std::int64_t ow, float* out, std::int32_t* argmax) {
  if (planes * oh * ow == 0) return;
  max_pool_kernel<<<blocks_for(planes * oh * ow), kThreads>>>(x, planes, h, w, kernel, stride, oh, ow, out,
                                                              argmax);
  check_cuda(cudaGetLastError(), "max_pool_kernel");
}

void max_pool2d_backward_f32(const float* grad, const std::int32_t* argmax, std::int64_t planes,
                             std::int64_t h, std::int64_t w, std::int64_t oh, std::int64_t ow, float* dx) {
  check_cuda(cudaMemsetAsync(dx, 0, static_cast<std::size_t>(planes * h * w) * sizeof(float), nullptr),
             "cudaMemsetAsync");
  if (planes * oh * ow == 0) return;
  max_pool_backward_kernel<<<blocks_for(planes * oh * ow), kThreads>>>(grad, argmax, planes, h, w, oh, ow,
                                                                       dx);
  check_cuda(cudaGetLastError(), "max_pool_backward_kernel");
}

void cross_entropy_f32(const float* logits, const std::int32_t* labels, std::int64_t n, std::int64_t classes,
                       float* probs, float* loss) {
  cross_entropy_kernel<<<1, kThreads>>>(logits, labels, n, classes, probs, loss);
  check_cuda(cudaGetLastError(), "cross_entropy_kernel");
}

void cross_entropy_backward_f32(const float* probs, const std::int32_t* labels, std::int64_t n,
                                std::int64_t classes, const float* seed, float* grad) {
  if (n * classes == 0) return;
  cross_entropy_backward_kernel<<<blocks_for(n * classes), kThreads>>>(probs, labels, n, classes, seed, grad);
  check_cuda(cudaGetLastError(), "cross_entropy_backward_kernel");
}

void masked_scale_f32(const float* in, const std::uint8_t* mask, float scale, std::size_t count, float* out) {
  if (count == 0) return;
  const auto n = static_cast<std::int64_t>(count);
  masked_scale_kernel<<<blocks_for(n), kThreads>>>(in, mask, scale, n, out);
  check_cuda(cudaGetLastError(), "masked_scale_kernel");
}

}  // namespace lowbit::kernels::cuda
