#include "lowbit/train/device.hpp"

#include <fmt/format.h>

#include <atomic>

#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::train {

namespace {

std::atomic<CudaGemm> g_cuda_gemm{CudaGemm::lowbit};

}  // namespace

Device parse_device(std::string_view text) {
  if (text == "cpu") return Device::cpu;
  if (text == "cuda") return Device::cuda;
  throw RangeError(fmt::format("--device {}: use cpu or cuda", text));
}

Tensor to_device(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  const std::size_t bytes = dtype_storage_bytes(t.dtype(), static_cast<std::size_t>(t.numel()));
  // Contiguous on the source device first, so one copy moves the bytes.
  const Tensor src = contiguous(t.detach());
  const std::size_t src_offset = dtype_storage_bytes(src.dtype(), static_cast<std::size_t>(src.offset()));
  Tensor out = empty(t.shape(), t.dtype(), device);
  if (device == Device::cpu) {
    backend(src.device()).copy_to_host(out.raw_data(), *src.storage(), src_offset, bytes);
  } else {
    backend(device).copy_from_host(*out.storage(), 0, src.raw_data(), bytes);
  }
  return out;
}

void move_to_device(const Tensor& t, Device device) {
  if (t.device() == device) return;
  MemoryCategoryScope scope(t.storage()->category());
  const Tensor moved = to_device(t, device);
  TensorImpl& impl = *t.impl();
  impl.storage = moved.storage();
  impl.strides = moved.strides();
  impl.offset = moved.offset();
  impl.grad.reset();
}

void synchronize(Device device) {
  if (device == Device::cpu) return;
  detail::cuda_ops().synchronize();
}

CudaGemm parse_cuda_gemm(std::string_view text) {
  if (text == "lowbit") return CudaGemm::lowbit;
  if (text == "cublas") return CudaGemm::cublas;
  throw RangeError(fmt::format("--gemm {}: use lowbit or cublas", text));
}

void set_cuda_gemm(CudaGemm gemm) {
  g_cuda_gemm = gemm;
}

CudaGemm cuda_gemm() {
  return g_cuda_gemm;
}

bool all_finite_cuda(std::span<const Tensor> tensors) {
  return detail::cuda_ops().all_finite(tensors);
}

float abs_max_cuda(const Tensor& t) {
  return detail::cuda_ops().abs_max(t);
}

Tensor convert_scaled_cuda(const Tensor& t, DType to, float scale) {
  return detail::cuda_ops().convert_scaled(t, to, scale);
}

Tensor scaled_gemm_cuda(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, DType out,
                        float alpha, const Tensor& bias32) {
  return detail::cuda_ops().scaled_gemm(a, transpose_a, b, transpose_b, out, alpha, bias32);
}

namespace detail {

void require_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (a.defined() && b.defined() && a.device() != b.device()) {
    throw RangeError(fmt::format("{}: operands are on devices {} and {}; move one first (to_device)", op,
                                 device_name(a.device()), device_name(b.device())));
  }
}

}  // namespace detail

}  // namespace lowbit::train
