#include "gemm_2d.hpp"

#include <algorithm>

#include "cuda_hooks.hpp"
#include "lowbit/kernels/gemm.hpp"

namespace lowbit::train::detail {

namespace {

using kernels::Transpose;

// A 2-D operand as the GEMM reads it: data, leading dimension, transpose.
struct Operand {
  Tensor keep;  // owns the data (a contiguous copy when the strides fit no GEMM layout)
  Transpose transpose = Transpose::no;
  std::int64_t ld = 0;
};

Operand as_operand(const Tensor& t) {
  const std::int64_t rows = t.shape()[0], cols = t.shape()[1];
  const std::int64_t s0 = t.strides()[0], s1 = t.strides()[1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<std::int64_t>(cols, 1)) return {t, Transpose::no, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<std::int64_t>(rows, 1)) return {t, Transpose::yes, s1};
  const Tensor c = clone(t);
  return {c, Transpose::no, std::max<std::int64_t>(cols, 1)};
}

template <class T>
T at(const Operand& o, std::int64_t i, std::int64_t j) {
  const T* p = o.keep.data<T>();
  return o.transpose == Transpose::no ? p[i * o.ld + j] : p[j * o.ld + i];
}

}  // namespace

bool is_float8(DType dtype) {
  return dtype == DType::float8_e4m3fn || dtype == DType::float8_e5m2;
}

DType gemm_output_type(DType input) {
  return is_float8(input) ? DType::bfloat16 : input;
}

void gemm_2d(const Tensor& a, const Tensor& b, Tensor& out, float beta, const float* bias, float alpha) {
  if (on_cuda(out)) return cuda_ops().gemm(a, b, out, beta, bias, alpha);
  const std::int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  const Operand x = as_operand(a);
  const Operand y = as_operand(b);
  if (a.dtype() == DType::float32 && out.dtype() == DType::float32 && bias == nullptr) {
    kernels::sgemm(x.transpose, y.transpose, m, n, k, alpha, x.keep.data<float>(), x.ld, y.keep.data<float>(),
                   y.ld, beta, out.data<float>(), out.strides()[0]);
    return;
  }
  if (a.dtype() != DType::float64) {
    // Low-precision operands (and float32 with a bias): fp32 accumulation, the epilogue adds beta * C and
    // the bias in fp32, and the result is rounded once to out's dtype.
    kernels::Epilogue epilogue;
    epilogue.alpha = alpha;
    epilogue.beta = beta;
    epilogue.bias = bias;
    kernels::gemm(m, n, k,
                  {.data = x.keep.raw_data(), .type = a.dtype(), .ld = x.ld, .transpose = x.transpose},
                  {.data = y.keep.raw_data(), .type = b.dtype(), .ld = y.ld, .transpose = y.transpose},
                  {.data = out.raw_data(), .type = out.dtype(), .ld = out.strides()[0]}, epilogue);
    return;
  }
  // float64: the gradient-check path, plain loops.
  double* o = out.data<double>();
  const std::int64_t ldo = out.strides()[0];
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < k; ++p) s += at<double>(x, i, p) * at<double>(y, p, j);
      o[i * ldo + j] = alpha * s + (beta != 0 ? o[i * ldo + j] : 0.0) + (bias != nullptr ? bias[j] : 0.0);
    }
  }
}

}  // namespace lowbit::train::detail
