// Internal: the CUDA implementation of CudaOps (cuda_hooks.hpp), split by subject: cuda_ops.cpp (elementwise
// maps, sums, copies, casts, GEMMs, optimizer updates), cuda_nn_ops.cpp (convolution, pooling,
// cross-entropy, dropout), and the helpers they share.
#pragma once

#include "../cuda_hooks.hpp"

namespace lowbit::train::detail {

class CudaOpsImpl final : public CudaOps {
 public:
  Tensor unary(kernels::cuda::UnaryOp op, const Tensor& a, double scalar, const char* name) override;
  Tensor binary(kernels::cuda::BinaryOp op, const Tensor& a, const Tensor& b, double scalar,
                const char* name) override;
  Tensor sum_keepdim(const Tensor& a, const std::vector<std::int64_t>& axes) override;
  void copy(const Tensor& dst, const Tensor& src) override;
  Tensor cast(const Tensor& contiguous_src, DType to) override;
  void fill(const Tensor& contiguous_dst, double value) override;
  void scale_in_place(const Tensor& contiguous_t, double factor) override;
  void gemm(const Tensor& a, const Tensor& b, Tensor& out, float beta, const float* bias,
            float alpha) override;
  Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                std::int64_t padding) override;
  Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride) override;
  Tensor cross_entropy(const Tensor& logits, const Tensor& labels) override;
  Tensor dropout(const Tensor& x, double p, Rng& rng) override;
  void adam_update(const Tensor& param, const Tensor& grad, double multiplier, const Tensor& exp_avg,
                   const Tensor& exp_avg_sq, const kernels::cuda::AdamStep& step) override;
  void sgd_update(const Tensor& param, const Tensor& grad, double multiplier, const Tensor& buffer,
                  const kernels::cuda::SgdStep& step) override;
  double sum_squares(std::span<const Tensor> tensors) override;
  bool all_finite(std::span<const Tensor> tensors) override;
  void synchronize() override;
  float abs_max(const Tensor& t) override;
  Tensor convert_scaled(const Tensor& t, DType to, float scale) override;
  Tensor scaled_gemm(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, DType out,
                     float alpha, const Tensor& bias32) override;
};

// Throws RangeError naming `op` unless t is float32 (the device maps compute in float32; autocast widens
// narrower dtypes before they get here).
void require_f32(const Tensor& t, const char* op);

}  // namespace lowbit::train::detail
