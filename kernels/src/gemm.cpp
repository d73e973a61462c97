#include "lowbit/kernels/gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "lowbit/formats/error.hpp"

namespace lowbit::kernels {

namespace {
int g_threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 2);
}

void set_num_threads(int threads) {
  if (threads < 1) throw RangeError(fmt::format("thread count {} must be at least 1", threads));
  g_threads = threads;
}

int num_threads() {
  return g_threads;
}

// Placeholder until the packed kernels land: straightforward loops in fp32 over fp32 inputs.
void sgemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
           float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
           float* c, std::int64_t ldc) {
  const bool ta = transpose_a == Transpose::yes, tb = transpose_b == Transpose::yes;
  std::vector<float> row(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < m; ++i) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (std::int64_t p = 0; p < k; ++p) {
      const float av = ta ? a[p * lda + i] : a[i * lda + p];
      for (std::int64_t j = 0; j < n; ++j) row[j] += av * (tb ? b[j * ldb + p] : b[p * ldb + j]);
    }
    for (std::int64_t j = 0; j < n; ++j) {
      float& out = c[i * ldc + j];
      out = alpha * row[j] + (beta == 0.0f ? 0.0f : beta * out);
    }
  }
}

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
          const MatrixOut& c, const Epilogue& epilogue) {
  if (a.type != DType::float32 || b.type != DType::float32 || c.type != DType::float32 ||
      epilogue.row_scale || epilogue.col_scale || epilogue.bias || epilogue.activation != Activation::none) {
    throw RangeError("gemm: only float32 without epilogue extras is implemented so far");
  }
  sgemm(a.transpose, b.transpose, m, n, k, epilogue.alpha, static_cast<const float*>(a.data), a.ld,
        static_cast<const float*>(b.data), b.ld, epilogue.beta, static_cast<float*>(c.data), c.ld);
}

}  // namespace lowbit::kernels
