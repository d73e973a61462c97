#include "gemm_2d.hpp"

#include <algorithm>

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

void gemm_2d(const Tensor& a, const Tensor& b, Tensor& out, float beta) {
  const std::int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  const Operand x = as_operand(a), y = as_operand(b);
  if (a.dtype() == DType::float32) {
    kernels::sgemm(x.transpose, y.transpose, m, n, k, 1.0f, x.keep.data<float>(), x.ld, y.keep.data<float>(),
                   y.ld, beta, out.data<float>(), out.strides()[0]);
    return;
  }
  // float64: the gradient-check path, plain loops.
  double* o = out.data<double>();
  const std::int64_t ldo = out.strides()[0];
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < k; ++p) s += at<double>(x, i, p) * at<double>(y, p, j);
      o[i * ldo + j] = s + (beta != 0 ? o[i * ldo + j] : 0.0);
    }
  }
}

}  // namespace lowbit::train::detail
