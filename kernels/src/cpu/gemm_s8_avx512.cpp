// int8 GEMM with int32 accumulation on AVX512_VNNI. vpdpbusd multiplies unsigned bytes (from A) by signed
// bytes (from B), four per 32-bit lane, and adds them to int32 accumulators. Other signedness is handled
// exactly by offsets: A's s8 codes are packed as a + 128 (u8), B's u8 codes as b - 128 (s8), and
//   sum a*b = sum (a + oa)(b - ob) + ob * rowsum(A) - oa * colsum(B) + oa * ob * k,
// all in wrapping int32 arithmetic, so the result is the exact int32 sum (modulo 2^32 like any int32 GEMM).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/pack_raw.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/problem.hpp"
#include "cpu/thread_pool.hpp"

namespace lowbit::kernels::cpu {

namespace {

#define LOWBIT_VNNI_TARGET __attribute__((target("avx512vnni,avx512f,avx512bw,avx512vl,avx512dq")))

struct S8Kernel {
  using Acc = std::int32_t;
  static constexpr std::int64_t kMR = 14, kNR = 32, kKGroup = 4;
  // k blocks of 2048: fewer passes over C measured faster than B panels that fit the 32 KiB L1 (RESULTS.md,
  // "On Zen 4"); the 336-row A block is then 688 KiB, inside a 1 MiB L2.
  static constexpr std::int64_t kKC = 2048;
  static constexpr std::int64_t kMCTiles = 24;
  static constexpr std::int64_t kNC = 2048;
  static std::int64_t groups(std::int64_t kc) { return (kc + kKGroup - 1) / kKGroup; }
  static void begin() {}
  static void end() {}

  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    const std::uint8_t flip = p.a.type == DType::int8 ? 0x80 : 0;  // s8 -> u8 = a + 128
    pack_a_rows_raw<kMR, std::uint8_t>(p.a, i0, mc, p0, kc, out, flip);
  }
  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    const std::uint8_t flip = p.b.type == DType::uint8 ? 0x80 : 0;  // u8 -> s8 = b - 128
    pack_b_raw<std::uint8_t>(p.b, p0, kc, j0, nc, out, groups(kc), flip);
  }

  // out = acc (beta == 0) or out + acc (otherwise), plus row_add[r] + col_add[j] where given (the offset
  // corrections, on the last k block); alpha is applied in the epilogue.
  static constexpr bool kTakesAdds = true;
  LOWBIT_VNNI_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                      std::int32_t* c, std::int64_t ldc, float, float beta, int mr, int nr,
                                      const std::int32_t* row_add, const std::int32_t* col_add) {
    __m512i c0[kMR], c1[kMR];
    if (beta != 0.0f) prefetch_tile(c, ldc, mr);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) c0[r] = c1[r] = _mm512_setzero_si512();
    for (std::int64_t q = 0; q < groups; ++q) {
      const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 16);
#pragma GCC unroll 16
      for (int r = 0; r < kMR; ++r) {
        const __m512i av = _mm512_set1_epi32(static_cast<int>(a[r]));
        c0[r] = _mm512_dpbusd_epi32(c0[r], av, b0);
        c1[r] = _mm512_dpbusd_epi32(c1[r], av, b1);
      }
      a += kMR;
      b += kNR;
    }
    // Through a buffer: with the partial-tile epilogue reading c0/c1 directly, GCC 12 stored 9 of the 28
    // accumulators to the stack on every k step (and the kernel ran at half the vpdpbusd rate on Zen 4).
    alignas(64) std::int32_t acc[kMR][kNR];
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      _mm512_store_si512(acc[r], c0[r]);
      _mm512_store_si512(acc[r] + 16, c1[r]);
    }
    const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
    const __m512i add0 = col_add ? _mm512_maskz_loadu_epi32(m0, col_add) : _mm512_setzero_si512();
    const __m512i add1 = col_add ? _mm512_maskz_loadu_epi32(m1, col_add + 16) : _mm512_setzero_si512();
    for (int r = 0; r < mr; ++r) {
      std::int32_t* row = c + r * ldc;
      const __m512i add = row_add ? _mm512_set1_epi32(row_add[r]) : _mm512_setzero_si512();
      __m512i v0 = _mm512_add_epi32(_mm512_load_si512(acc[r]), _mm512_add_epi32(add0, add));
      __m512i v1 = _mm512_add_epi32(_mm512_load_si512(acc[r] + 16), _mm512_add_epi32(add1, add));
      if (beta != 0.0f) {
        v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(m0, row));
        v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(m1, row + 16));
      }
      _mm512_mask_storeu_epi32(row, m0, v0);
      _mm512_mask_storeu_epi32(row + 16, m1, v1);
    }
  }
};

// Sums over k of the lines [l0, l1) of an int8 / uint8 operand (wrapping uint32): line l's element q is
// at data[l * line_stride + q * k_stride], and one of the strides is 1, so the inner loop runs along
// memory and vectorizes.
template <class Elem>
void sum_lines(const Elem* data, std::int64_t line_stride, std::int64_t k_stride, std::int64_t l0,
               std::int64_t l1, std::int64_t k, std::uint32_t* out) {
  if (k_stride == 1) {
    for (std::int64_t l = l0; l < l1; ++l) {
      const Elem* line = data + l * line_stride;
      std::uint32_t s = 0;
      for (std::int64_t q = 0; q < k; ++q)
        s += static_cast<std::uint32_t>(static_cast<std::int32_t>(line[q]));
      out[l - l0] = s;
    }
    return;
  }
  std::fill(out, out + (l1 - l0), 0u);
  for (std::int64_t q = 0; q < k; ++q) {
    const Elem* across = data + q * k_stride;
    for (std::int64_t l = l0; l < l1; ++l)
      out[l - l0] += static_cast<std::uint32_t>(static_cast<std::int32_t>(across[l]));
  }
}

// The sums over k of op(A)'s rows (rows == true) or op(B)'s columns [l0, l1).
void k_sums(const MatrixIn& x, bool rows, std::int64_t l0, std::int64_t l1, std::int64_t k,
            std::uint32_t* out) {
  const bool along_memory = (x.transpose == Transpose::yes) != rows;  // line l contiguous in memory
  const std::int64_t line_stride = along_memory ? x.ld : 1, k_stride = along_memory ? 1 : x.ld;
  if (x.type == DType::int8) {
    sum_lines(static_cast<const std::int8_t*>(x.data), line_stride, k_stride, l0, l1, k, out);
  } else {
    sum_lines(static_cast<const std::uint8_t*>(x.data), line_stride, k_stride, l0, l1, k, out);
  }
}

// The offset corrections as a row and a column term (wrapping int32; empty where zero):
//   row_add[i] = ob * rowsum(A)(i),  col_add[j] = oa * ob * k - oa * colsum(B)(j),
// computed on the kernels' threads, each over a range of rows or columns.
struct OffsetCorrections {
  std::vector<std::int32_t> row_add, col_add;
};

OffsetCorrections offset_corrections(const GemmProblem& p) {
  const std::uint32_t oa = p.a.type == DType::int8 ? 128 : 0, ob = p.b.type == DType::uint8 ? 128 : 0;
  OffsetCorrections out;
  if (ob != 0) out.row_add.resize(static_cast<std::size_t>(p.m));
  if (oa != 0) out.col_add.resize(static_cast<std::size_t>(p.n));
  const std::uint32_t constant = oa * ob * static_cast<std::uint32_t>(p.k);
  const int threads = p.m * p.n * p.k < kThreadedMinMacs ? 1 : p.threads;
  run_parallel(threads, [&](int t, int count) {
    std::int64_t begin, end;
    std::vector<std::uint32_t> sums;
    if (ob != 0) {
      split_range(p.m, 64, t, count, begin, end);
      sums.resize(static_cast<std::size_t>(end - begin));
      if (begin < end) k_sums(p.a, true, begin, end, p.k, sums.data());
      for (std::int64_t i = begin; i < end; ++i)
        out.row_add[i] = static_cast<std::int32_t>(ob * sums[i - begin]);
    }
    if (oa != 0) {
      split_range(p.n, 64, t, count, begin, end);
      sums.resize(static_cast<std::size_t>(end - begin));
      if (begin < end) k_sums(p.b, false, begin, end, p.k, sums.data());
      for (std::int64_t j = begin; j < end; ++j)
        out.col_add[j] = static_cast<std::int32_t>(constant - oa * sums[j - begin]);
    }
  });
  return out;
}

}  // namespace

bool epilogue_is_exact_int32(const GemmProblem& p) {
  const Epilogue& e = p.epilogue;
  return p.c.type == DType::int32 && e.alpha == 1.0f && (e.beta == 0.0f || e.beta == 1.0f) && !e.row_scale &&
         !e.col_scale && !e.bias && e.activation == Activation::none;
}

void gemm_s8_avx512(const GemmProblem& p) {
  const OffsetCorrections corrections = offset_corrections(p);
  const std::int32_t* row_add = corrections.row_add.empty() ? nullptr : corrections.row_add.data();
  const std::int32_t* col_add = corrections.col_add.empty() ? nullptr : corrections.col_add.data();
  auto no_finish = [](std::int64_t, std::int64_t, std::int64_t, std::int64_t) {};
  if (epilogue_is_exact_int32(p)) {
    // C holds the running int32 sums (added to its old values when beta == 1), corrected on the last k block.
    packed_gemm<S8Kernel>(p, static_cast<std::int32_t*>(p.c.data), p.c.ld, 1.0f, p.epilogue.beta, no_finish,
                          row_add, col_add);
    return;
  }
  const auto acc = accumulators<std::int32_t>(p);
  packed_gemm<S8Kernel>(
      p, acc.get(), p.n, 1.0f, 0.0f,
      [&](std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
        apply_epilogue_int32(p, acc.get(), p.n, i0, i1, j0, j1);
      },
      row_add, col_add);
}

}  // namespace lowbit::kernels::cpu
