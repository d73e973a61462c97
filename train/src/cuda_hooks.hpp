// Internal: where train/'s ops meet the CUDA device. A CUDA build compiles train/src/cuda (the storage
// backend with its caching allocator, and CudaOps over kernels/' device kernels); a build without nvcc
// compiles train/src/no_cuda instead, whose make_cuda_backend says so and whose cuda_ops is never reached
// (no tensor can be on a device that has no backend). Each op that runs on CUDA branches to CudaOps at its
// top when its tensors are there; the CPU loops stay as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lowbit/kernels/cuda_train.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train::detail {

// The CUDA storage backend, or null with `why` set (no CUDA build, no driver, no usable GPU).
std::unique_ptr<StorageBackend> make_cuda_backend(std::string* why);

inline bool on_cuda(const Tensor& t) {
  return t.defined() && t.device() == Device::cuda;
}
// Throws RangeError naming `op` unless a and b (when defined) are on one device.
void require_same_device(const Tensor& a, const Tensor& b, const char* op);

class CudaOps {
 public:
  virtual ~CudaOps() = default;
  // Elementwise float32 maps (binary ones broadcast as numpy does); new contiguous outputs.
  virtual Tensor unary(kernels::cuda::UnaryOp op, const Tensor& a, double scalar, const char* name) = 0;
  virtual Tensor binary(kernels::cuda::BinaryOp op, const Tensor& a, const Tensor& b, double scalar,
                        const char* name) = 0;
  // a summed over `axes` (sorted, unique), kept as extent-1 dimensions.
  virtual Tensor sum_keepdim(const Tensor& a, const std::vector<std::int64_t>& axes) = 0;
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;  // same shape and dtype, any strides
  virtual Tensor cast(const Tensor& contiguous_src, DType to) = 0;
  virtual void fill(const Tensor& contiguous_dst, double value) = 0;
  virtual void scale_in_place(const Tensor& contiguous_t, double factor) = 0;
  // gemm_2d's contract (gemm_2d.hpp) on device tensors; `bias` is a device pointer.
  virtual void gemm(const Tensor& a, const Tensor& b, Tensor& out, float beta, const float* bias,
                    float alpha) = 0;
  // Whole differentiable ops (forward and the recorded backward) on device tensors.
  virtual Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                        std::int64_t padding) = 0;
  virtual Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride) = 0;
  virtual Tensor cross_entropy(const Tensor& logits, const Tensor& labels) = 0;
  virtual Tensor dropout(const Tensor& x, double p, Rng& rng) = 0;
  // Optimizer updates of a float32 parameter by its gradient (float32/bfloat16/float16) times multiplier.
  virtual void adam_update(const Tensor& param, const Tensor& grad, double multiplier, const Tensor& exp_avg,
                           const Tensor& exp_avg_sq, const kernels::cuda::AdamStep& step) = 0;
  virtual void sgd_update(const Tensor& param, const Tensor& grad, double multiplier, const Tensor& buffer,
                          const kernels::cuda::SgdStep& step) = 0;
  // One host round trip for all tensors (undefined ones are skipped).
  virtual double sum_squares(std::span<const Tensor> tensors) = 0;
  virtual bool all_finite(std::span<const Tensor> tensors) = 0;
  virtual void synchronize() = 0;
  // The fp8 recipe's steps (amp/fp8.cpp through device.hpp).
  virtual float abs_max(const Tensor& t) = 0;
  virtual Tensor convert_scaled(const Tensor& t, DType to, float scale) = 0;
  virtual Tensor scaled_gemm(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, DType out,
                             float alpha, const Tensor& bias32) = 0;
};

CudaOps& cuda_ops();

}  // namespace lowbit::train::detail
