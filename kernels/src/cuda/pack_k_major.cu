// Copies an operand into the layout the tensor-core kernels read: K-major rows padded with zeros to a
// 16-byte multiple. Used only when the caller's layout is another (a transposed operand, an unaligned
// leading dimension); the fast path reads the caller's memory directly.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.hpp"
#include "device_gemm.hpp"

namespace lowbit::kernels::cuda {

namespace {

template <class T>
__global__ void pack_k_major_kernel(T* dst, std::int64_t ld_dst, const T* src, std::int64_t rows,
                                    std::int64_t k, std::int64_t row_stride, std::int64_t k_stride) {
  const std::int64_t total = rows * ld_dst;
  for (std::int64_t index = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = index / ld_dst, p = index % ld_dst;
    dst[index] = p < k ? src[r * row_stride + p * k_stride] : T{0};
  }
}

}  // namespace

void launch_pack_k_major(void* dst, std::int64_t ld_dst, const void* src, std::int64_t rows, std::int64_t k,
                         std::int64_t row_stride, std::int64_t k_stride, int element_bytes, void* stream) {
  const std::int64_t total = rows * ld_dst;
  if (total == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(total / threads + 1 < 65536 ? total / threads + 1 : 65536);
  auto s = static_cast<cudaStream_t>(stream);
  if (element_bytes == 2) {
    pack_k_major_kernel<<<blocks, threads, 0, s>>>(static_cast<std::uint16_t*>(dst), ld_dst,
                                                   static_cast<const std::uint16_t*>(src), rows, k,
                                                   row_stride, k_stride);
  } else {
    pack_k_major_kernel<<<blocks, threads, 0, s>>>(static_cast<std::uint8_t*>(dst), ld_dst,
                                                   static_cast<const std::uint8_t*>(src), rows, k, row_stride,
                                                   k_stride);
  }
  check_cuda(cudaGetLastError(), "launch of pack_k_major_kernel");
}

}  // namespace lowbit::kernels::cuda
