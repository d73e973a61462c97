#include "lowbit/kernels/gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "cpu/sgemm.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::kernels {

namespace {
int g_threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 2);

void check_dims(const char* fn, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (m < 0) throw RangeError(fmt::format("{}: m = {} is negative", fn, m));
  if (n < 0) throw RangeError(fmt::format("{}: n = {} is negative", fn, n));
  if (k < 0) throw RangeError(fmt::format("{}: k = {} is negative", fn, k));
}

// A stored rows x cols matrix (before any transpose) with leading dimension ld.
void check_matrix(const char* fn, const char* name, const void* data, std::int64_t rows, std::int64_t cols,
                  std::int64_t ld) {
  if (rows == 0 || cols == 0) return;
  if (data == nullptr)
    throw RangeError(fmt::format("{}: {} is null for a {}x{} matrix", fn, name, rows, cols));
  if (ld < cols) {
    throw RangeError(
        fmt::format("{}: ld{} = {} is less than the {} elements of a stored row", fn, name, ld, cols));
  }
}
}  // namespace

void set_num_threads(int threads) {
  if (threads < 1) throw RangeError(fmt::format("thread count {} must be at least 1", threads));
  g_threads = threads;
}

int num_threads() {
  return g_threads;
}

void sgemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
           float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
           float* c, std::int64_t ldc) {
  const bool ta = transpose_a == Transpose::yes, tb = transpose_b == Transpose::yes;
  check_dims("sgemm", m, n, k);
  check_matrix("sgemm", "a", a, ta ? k : m, ta ? m : k, lda);
  check_matrix("sgemm", "b", b, tb ? n : k, tb ? k : n, ldb);
  check_matrix("sgemm", "c", c, m, n, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {  // BLAS semantics: no product to add, C is only scaled (zeroed if beta == 0)
    for (std::int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (std::int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  cpu::sgemm_packed({ta, tb, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc, g_threads});
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
