// cuda::gemm_cublas: cuBLAS in cuda::gemm's row-major shape, the fallback of train/'s CUDA GEMMs (and the
// only float32 path: lowbit's tensor-core kernels take 8- and 16-bit inputs).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <mutex>

#include "../gemm_args.hpp"
#include "cuda_check.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"
#include "lowbit/kernels/cuda_train.hpp"

namespace lowbit::kernels::cuda {

namespace {

constexpr const char* kFn = "cuda::gemm_cublas";

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(fmt::format("{}: {} failed: {} ({})", kFn, call, cublasGetStatusName(status),
                            cublasGetStatusString(status)));
  }
}

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    check_cublas(cublasCreate(&created), "cublasCreate");
    // Plain fp32 products in float32 (no TF32), as the CPU path computes.
    check_cublas(cublasSetMathMode(created, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
    return created;
  }();
  return h;
}

cudaDataType_t data_type(DType t, const char* what) {
  switch (t) {
    case DType::float32:
      return CUDA_R_32F;
    case DType::bfloat16:
      return CUDA_R_16BF;
    case DType::float16:
      return CUDA_R_16F;
    default:
      throw RangeError(
          fmt::format("{}: {} = {} is not float32, bfloat16 or float16", kFn, what, dtype_name(t)));
  }
}

// C's rows all set to the bias (rounded to C's dtype once, as the fp32 epilogue's sum rounds it anyway
// when the bias is already in that dtype, which is how train/ passes it).
void fill_rows_with_bias(std::int64_t m, std::int64_t n, const float* bias, const MatrixOut& c) {
  const std::size_t width = dtype_storage_bytes(c.type, 1);
  const void* row = bias;
  void* narrowed = nullptr;
  if (c.type != DType::float32) {
    check_cuda(cudaMallocAsync(&narrowed, static_cast<std::size_t>(n) * width, nullptr), "cudaMallocAsync");
    convert(bias, DType::float32, narrowed, c.type, static_cast<std::size_t>(n));
    row = narrowed;
  }
  Layout l;
  l.dims = 2;
  l.shape[0] = m, l.shape[1] = n;
  l.strides[0][0] = c.ld, l.strides[0][1] = 1;
  l.strides[1][0] = 0, l.strides[1][1] = 1;
  copy_strided(width, l, c.data, row);
  if (narrowed != nullptr) check_cuda(cudaFreeAsync(narrowed, nullptr), "cudaFreeAsync");
}

}  // namespace

void gemm_cublas(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
                 const MatrixOut& c, const Epilogue& e) {
  check_gemm_args(kFn, m, n, k, a, b, c);
  if (a.type != b.type) {
    throw RangeError(
        fmt::format("{}: a.type = {} and b.type = {} differ", kFn, dtype_name(a.type), dtype_name(b.type)));
  }
  const cudaDataType_t in = data_type(a.type, "a.type");
  const cudaDataType_t out = data_type(c.type, "c.type");
  if (c.type != DType::float32 && c.type != a.type) {
    throw RangeError(fmt::format("{}: c.type = {} must be float32 or the inputs' {}", kFn, dtype_name(c.type),
                                 dtype_name(a.type)));
  }
  if (e.row_scale || e.col_scale || e.activation != Activation::none || (e.bias && e.beta != 0.0f) ||
      a.group_size != 0 || b.group_size != 0) {
    throw RangeError(fmt::format(
        "{}: the epilogue takes alpha, beta and a bias (with beta 0) only; no scales, groups or activation",
        kFn));
  }
  if (m == 0 || n == 0) return;
  float beta = e.beta;
  if (e.bias) {
    fill_rows_with_bias(m, n, e.bias, c);
    beta = 1.0f;
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS sees each stored row-major
  // matrix as its transpose, so an operand is transposed for cuBLAS exactly when it is for us.
  const auto op = [](Transpose t) { return t == Transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N; };
  const float alpha = e.alpha;
  check_cublas(cublasGemmEx(handle(), op(b.transpose), op(a.transpose), static_cast<int>(n),
                            static_cast<int>(m), static_cast<int>(k), &alpha, b.data, in,
                            static_cast<int>(b.ld), a.data, in, static_cast<int>(a.ld), &beta, c.data, out,
                            static_cast<int>(c.ld), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

}  // namespace lowbit::kernels::cuda
