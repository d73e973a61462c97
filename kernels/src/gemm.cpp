#include "lowbit/kernels/gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "cpu/problem.hpp"
#include "cpu/sgemm.hpp"
#include "gemm_args.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cpu_path.hpp"

namespace lowbit::kernels {

namespace {
int g_threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 2);
CpuPath g_path_limit = CpuPath::best;

}  // namespace

void set_num_threads(int threads) {
  if (threads < 1) throw RangeError(fmt::format("thread count {} must be at least 1", threads));
  g_threads = threads;
}

int num_threads() {
  return g_threads;
}

void set_cpu_path_limit(CpuPath limit) {
  g_path_limit = limit;
}

CpuPath cpu_path_limit() {
  return g_path_limit;
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

namespace {

bool is_bf16_like(DType t) {
  return t == DType::bfloat16 || t == DType::float8_e4m3fn || t == DType::float8_e5m2;
}
bool is_byte_int(DType t) {
  return t == DType::int8 || t == DType::uint8;
}
bool is_integer(DType t) {
  return is_byte_int(t) || t == DType::int4 || t == DType::int32;
}

}  // namespace

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
          const MatrixOut& c, const Epilogue& epilogue) {
  check_gemm_args("gemm", m, n, k, a, b, c);
  if (m == 0 || n == 0) return;
  const cpu::GemmProblem p{m, n, k, a, b, c, epilogue, g_threads};
  const bool grouped = a.group_size > 0 || b.group_size > 0;
  const bool amx = g_path_limit == CpuPath::best && cpu::cpu_has_amx();
  const bool avx512_bf16 = g_path_limit != CpuPath::portable && cpu::cpu_has_avx512_bf16();
  const bool avx512_vnni = g_path_limit != CpuPath::portable && cpu::cpu_has_avx512_vnni();
  if (k == 0) {  // no products: the epilogue of a zero accumulator
    const std::vector<float> zero(static_cast<std::size_t>(n), 0.0f);
    cpu::apply_epilogue(p, zero.data(), 0, 0, m, 0, n);
    return;
  }
  if (!grouped && a.type == DType::float32 && b.type == DType::float32 && cpu::epilogue_is_plain_f32(p)) {
    sgemm(a.transpose, b.transpose, m, n, k, epilogue.alpha, static_cast<const float*>(a.data), a.ld,
          static_cast<const float*>(b.data), b.ld, epilogue.beta, static_cast<float*>(c.data), c.ld);
  } else if (!grouped && is_bf16_like(a.type) && is_bf16_like(b.type) && amx) {
    cpu::gemm_bf16_amx(p);
  } else if (!grouped && is_byte_int(a.type) && is_byte_int(b.type) && amx) {
    cpu::gemm_s8_amx(p);
  } else if (!grouped && is_bf16_like(a.type) && is_bf16_like(b.type) && avx512_bf16) {
    cpu::gemm_bf16_avx512(p);
  } else if (!grouped && is_byte_int(a.type) && is_byte_int(b.type) && avx512_vnni) {
    cpu::gemm_s8_avx512(p);
  } else if (!grouped && is_integer(a.type) && is_integer(b.type)) {
    cpu::gemm_int_portable(p);
  } else if (g_path_limit != CpuPath::portable && cpu::gemv_w4_applies(p)) {
    cpu::gemv_w4_avx512(p);
  } else if (amx && cpu::gemm_w4_applies(p)) {
    cpu::gemm_w4_amx(p);
  } else if (avx512_bf16 && cpu::gemm_w4_applies(p)) {
    cpu::gemm_w4_avx512(p);
  } else {
    cpu::gemm_widen_f32(p);
  }
}

}  // namespace lowbit::kernels
