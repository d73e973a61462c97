// The B side of the int4 weight-only GEMMs (gemm_w4_amx.cpp, gemm_w4_avx512.cpp): int4 weights with
// group-wise scales along K unpacked into panels of bf16 pairs, the values q - zero, exact (|q - zero| <=
// 15). The scale cannot be folded into bf16 without rounding, so the kernels multiply each group by itself
// and add its partial result, scaled per column, to an fp32 accumulator:
//   C(i, j) = sum_g scale(j, g) * sum_{p in g} A(i, p) * (q(p, j) - zero(j, g)).
// A panel of 32 columns holds, per pair of k, one row of 32 words (column j's word: bf16 of k in the low
// half, of k + 1 in the high half), the pairs padded with zeros to whole steps of 32 k, and after them one
// row of 32 column scales per step (the scale of the group that step belongs to), so a kernel finds its
// scales beside its weights.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/fp8_bf16_avx512.hpp"
#include "cpu/int4_bf16.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/problem.hpp"
#include "lowbit/kernels/packed_weights.hpp"

namespace lowbit::kernels::cpu {

// k steps (of 32) per quantization group, set by pack_b on the thread that then runs the tiles over it.
inline thread_local std::int64_t t_steps_per_group = 1;

// bf16 codes of the integers -15 .. 15 (index v + 15).
inline const std::uint16_t* small_int_bf16() {
  static const auto table = [] {
    std::array<std::uint16_t, 31> t{};
    for (int v = -15; v <= 15; ++v) {
      const float f = static_cast<float>(v);
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      t[v + 15] = static_cast<std::uint16_t>(bits >> 16);  // exact: small integers have 8 significant bits
    }
    return t;
  }();
  return table.data();
}

// For each zero point z in -8 .. 7 and each byte (two int4 weights, k even in the low nibble): the packed
// word of bf16 pairs (lo - z, hi - z). Weights stored N x K then pack a k pair with one load and one lookup.
inline const std::uint32_t* byte_to_pair_table(int zero) {
  static const auto tables = [] {
    std::vector<std::uint32_t> t(16 * 256);
    const std::uint16_t* to_bf16 = small_int_bf16();
    for (int z = -8; z < 8; ++z) {
      for (int byte = 0; byte < 256; ++byte) {
        const int lo = (byte & 0xf) >= 8 ? (byte & 0xf) - 16 : (byte & 0xf);
        const int hi = (byte >> 4) >= 8 ? (byte >> 4) - 16 : (byte >> 4);
        t[(z + 8) * 256 + byte] = to_bf16[lo - z + 15] | std::uint32_t{to_bf16[hi - z + 15]} << 16;
      }
    }
    return t;
  }();
  return tables.data() + (zero + 8) * 256;
}

// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*(), which -Wuninitialized flags
// once inlined here (a known false positive of the header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Transposes 16 x 16 32-bit words in place: r[i] word d becomes r[d] word i.
LOWBIT_AVX512BW_TARGET inline void transpose_16x16_words(__m512i r[16]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {  // lane L of a[2i]: rows 2i, 2i+1 at words 4L, 4L+1; a[2i+1]: 4L+2, 4L+3
    a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int j = 0; j < 4; ++j) {  // lane L of b[4j + e]: rows 4j .. 4j+3 at word 4L + e
    b[4 * j] = _mm512_unpacklo_epi64(a[4 * j], a[4 * j + 2]);
    b[4 * j + 1] = _mm512_unpackhi_epi64(a[4 * j], a[4 * j + 2]);
    b[4 * j + 2] = _mm512_unpacklo_epi64(a[4 * j + 1], a[4 * j + 3]);
    b[4 * j + 3] = _mm512_unpackhi_epi64(a[4 * j + 1], a[4 * j + 3]);
  }
  for (int e = 0; e < 4; ++e) {  // word 4L + e of every row: lane L of b[e], b[4 + e], b[8 + e], b[12 + e]
    const __m512i c0 = _mm512_shuffle_i32x4(b[e], b[4 + e], 0x88),
                  c1 = _mm512_shuffle_i32x4(b[e], b[4 + e], 0xdd);
    const __m512i c2 = _mm512_shuffle_i32x4(b[8 + e], b[12 + e], 0x88);
    const __m512i c3 = _mm512_shuffle_i32x4(b[8 + e], b[12 + e], 0xdd);
    r[e] = _mm512_shuffle_i32x4(c0, c2, 0x88);
    r[8 + e] = _mm512_shuffle_i32x4(c0, c2, 0xdd);
    r[4 + e] = _mm512_shuffle_i32x4(c1, c3, 0x88);
    r[12 + e] = _mm512_shuffle_i32x4(c1, c3, 0xdd);
  }
}

// The vector form of the table above for 16 columns at once (weights stored N x K, whole bytes per row):
// each 32-bit lane holds 4 bytes (4 k pairs) of one column, and each byte becomes the bf16 pair
// (lo - z, hi - z) by one vpermw over minus16_bf16: the low nibble goes to the low 16 bits of the lane, the
// high nibble to the high 16 bits, and xor 8 plus 8 - z makes each the index q - z + 16 in 1..31. The
// 4-byte words come 64 bytes per row at a time, transposed in registers (16 loads and 64 shuffles for 16
// vectors; a gather each took longer on Zen 4 than all the arithmetic), and by gathers for the last few.
// Writes pairs [0, pairs4) of the 16 columns (pairs4 a multiple of 4); `zero` holds each column's zero
// point per group (or is null), `row_bytes` is the stride between weight rows.
// Words w .. w + 3 of 16 columns from their 4 code bytes per lane of `x`; `offset` holds 8 - z in both
// halves of each lane (zero points), or is null (symmetric: the raw nibbles index code_bf16, the low one
// through the low 16 bits of x >> 8t, the high one through the high 16 bits of x shifted by 12 - 8t).
LOWBIT_AVX512BW_TARGET inline void emit_w4_pairs(__m512i x, std::int64_t w, __mmask16 mask,
                                                 const __m512i* offset, std::uint32_t* out) {
  if (!offset) {
    const __m512i values = _mm512_loadu_si512(code_bf16(false).data());
    const __m512i high[4] = {_mm512_slli_epi32(x, 12), _mm512_slli_epi32(x, 4), _mm512_srli_epi32(x, 4),
                             _mm512_srli_epi32(x, 12)};
    for (int t = 0; t < 4; ++t) {
      const __m512i index = _mm512_mask_blend_epi16(0xaaaaaaaa, _mm512_srli_epi32(x, 8 * t), high[t]);
      _mm512_store_si512(out + (w + t) * 32,
                         _mm512_maskz_mov_epi32(mask, _mm512_permutexvar_epi16(index, values)));
    }
    return;
  }
  const __m512i values = _mm512_loadu_si512(minus16_bf16().data());
  const __m512i low_nibble = _mm512_set1_epi32(0xf), high_nibble = _mm512_set1_epi32(0xf0000);
  const __m512i sign = _mm512_set1_epi32(0x80008);
  for (int t = 0; t < 4; ++t) {
    const __m512i byte = _mm512_srli_epi32(x, 8 * t);
    const __m512i index = _mm512_ternarylogic_epi32(
        _mm512_and_si512(byte, low_nibble), _mm512_slli_epi32(byte, 12), high_nibble, 0xf8);  // A | (B & C)
    const __m512i pair =
        _mm512_permutexvar_epi16(_mm512_add_epi16(_mm512_xor_si512(index, sign), *offset), values);
    _mm512_store_si512(out + (w + t) * 32, _mm512_maskz_mov_epi32(mask, pair));
  }
}

LOWBIT_AVX512BW_TARGET inline void pack_w4_16_columns(const std::uint8_t* base, std::int64_t row_bytes,
                                                      int columns, std::int64_t pairs4,
                                                      std::int64_t pairs_per_group, const std::int8_t* zero,
                                                      std::int64_t zero_stride, std::int64_t first_group,
                                                      std::uint32_t* out) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i vindex = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(static_cast<int>(row_bytes)));
  const __mmask16 mask = columns >= 16 ? 0xffff : static_cast<__mmask16>((1u << columns) - 1);
  __m512i offset = _mm512_set1_epi32(0x80008);  // 8 - z in both halves
  for (std::int64_t w = 0; w < pairs4;) {
    __m512i r[16];
    const bool whole = w + 64 <= pairs4;
    if (whole) {
      for (int i = 0; i < 16; ++i)
        r[i] = _mm512_maskz_loadu_epi32(i < columns ? 0xffff : 0, base + i * row_bytes + w);
      transpose_16x16_words(r);
    } else {
      r[0] = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, vindex, base + w, 1);
    }
    for (int d = 0; d < (whole ? 16 : 1); ++d, w += 4) {
      if (zero && w % pairs_per_group == 0) {
        alignas(64) std::int32_t zs[16] = {};
        for (int l = 0; l < columns; ++l) {
          const std::int32_t v = 8 - zero[l * zero_stride + first_group + w / pairs_per_group];
          zs[l] = v | (v << 16);
        }
        offset = _mm512_load_si512(zs);
      }
      emit_w4_pairs(r[d], w, mask, zero ? &offset : nullptr, out);
    }
  }
}

// Pre-packed weights (PackedInt4Weights) into bf16 pair rows: `steps` steps of 32 k of one 32-column panel.
// Each 64-byte block of codes holds four output vectors, one per nibble of its 16-bit words (the layout is
// made for this): a shift and a mask isolate the nibble q + 8, adding 8 - zero (per column, per group)
// makes the index q - zero + 16 in 1..31, and one vpermw reads the exact bf16 of q - zero from a table of
// -16..15. Per 128 weights: one load, 15 vector operations, 4 stores, and no transposition.
LOWBIT_AVX512BW_TARGET inline void unpack_w4_steps(const std::uint8_t* codes, std::int64_t steps,
                                                   const std::int8_t* zero, std::int64_t first_step,
                                                   std::int64_t steps_per_group, std::uint32_t* out) {
  const __m512i values = _mm512_loadu_si512(minus16_bf16().data()), nibble = _mm512_set1_epi16(0xf);
  const __m512i biased = _mm512_loadu_si512(code_bf16(true).data());
  // Index offsets 8 - zero for the columns of each half (word 2c and 2c + 1 belong to column c).
  __m512i offset[2] = {_mm512_set1_epi16(8), _mm512_set1_epi16(8)};
  for (std::int64_t s = 0; s < steps; ++s) {
    const std::int64_t step = first_step + s;
    if (zero && (s == 0 || step % steps_per_group == 0)) {
      const std::int8_t* z = zero + step / steps_per_group * 32;
      for (int h = 0; h < 2; ++h) {
        const __m512i v = _mm512_sub_epi32(
            _mm512_set1_epi32(8),
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(z + 16 * h))));
        offset[h] = _mm512_or_si512(v, _mm512_slli_epi32(v, 16));
      }
    }
    const std::uint8_t* src = codes + s * 512;
    std::uint32_t* dst = out + s * 16 * 32;
    for (int u = 0; u < 8; ++u) {
      const __m512i x = _mm512_loadu_si512(src + 64 * u);
      for (int t = 0; t < 4; ++t) {
        const int o = 8 * t + u;  // output vector: tile row o / 2, half o % 2
        const __m512i shifted = _mm512_srli_epi16(x, 4 * t);
        // Symmetric: the nibble q + 8 indexes code_bf16(true) as it is (the bit above it is ignored).
        const __m512i pair =
            zero ? _mm512_permutexvar_epi16(
                       _mm512_add_epi16(_mm512_and_si512(shifted, nibble), offset[u % 2]), values)
                 : _mm512_permutexvar_epi16(shifted, biased);
        _mm512_store_si512(dst + (o / 2) * 32 + (o % 2) * 16, pair);
      }
    }
  }
}

#pragma GCC diagnostic pop

struct W4Panels {
  using Acc = float;
  static constexpr std::int64_t kNR = 32, kKGroup = 2;
  static constexpr std::int64_t kKC = 1024;  // a multiple of every supported group size (32, 64, ... 1024)
  static constexpr std::int64_t kNC = 2048;
  // Words per packed row of A / column of B: the bf16 pairs, padded to whole k steps of 16 pairs, plus one
  // row of 32 scales per k step (B panels only; A panels just leave the room unused).
  static std::int64_t pairs(std::int64_t kc) { return ((kc + 1) / 2 + 15) / 16 * 16; }
  static std::int64_t groups(std::int64_t kc) { return pairs(kc) + pairs(kc) / 16; }
  // Pairs of k in a packed B panel of `groups` words per column.
  static std::int64_t pairs_of_groups(std::int64_t groups) { return groups * 16 / 17; }

  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    const MatrixIn& b = p.b;
    const std::int64_t gs = b.group_size, ngroups = (p.k + gs - 1) / gs;
    t_steps_per_group = gs / 32;
    const std::uint16_t* to_bf16 = small_int_bf16();
    const auto* bytes = static_cast<const std::uint8_t*>(b.data);
    const std::int64_t np = pairs(kc), words = groups(kc);
    // Weights stored N x K with whole bytes per row: each k pair is one byte.
    const bool fast = b.transpose == Transpose::yes && b.ld % 2 == 0 && p0 % 2 == 0;
    const std::int64_t full = kc / 2, full4 = full / 4 * 4;  // whole pairs inside the block; SIMD part
    for (std::int64_t q = 0; q < nc; q += kNR) {
      if (fast) {
        for (std::int64_t h = 0; h < kNR && q + h < nc; h += 16) {
          const std::int64_t j = j0 + q + h;
          pack_w4_16_columns(bytes + (j * b.ld + p0) / 2, b.ld / 2,
                             static_cast<int>(std::min<std::int64_t>(16, nc - q - h)), full4, gs / 2,
                             b.group_zero ? b.group_zero + j * ngroups : nullptr, ngroups, p0 / gs, out + h);
        }
      }
      for (std::int64_t jj = 0; jj < kNR; ++jj) {
        const std::int64_t j = j0 + q + jj;
        const bool col_ok = q + jj < nc;
        if (fast && col_ok) {
          const std::uint8_t* src = bytes + (j * b.ld + p0) / 2;
          for (std::int64_t g0 = full4 / (gs / 2) * (gs / 2); g0 < full; g0 += gs / 2) {
            const int z = b.group_zero ? b.group_zero[j * ngroups + (p0 + 2 * g0) / gs] : 0;
            const std::uint32_t* table = byte_to_pair_table(z);
            const std::int64_t g1 = std::min(full, g0 + gs / 2);
            for (std::int64_t w = std::max(g0, full4); w < g1; ++w) out[w * kNR + jj] = table[src[w]];
          }
          for (std::int64_t w = full; w < np; ++w) out[w * kNR + jj] = 0;
          if (kc % 2 != 0) {  // a last lone k: its high half stays zero
            const std::int64_t kk = p0 + kc - 1;
            const std::int64_t idx = j * b.ld + kk;
            int v = (bytes[idx / 2] >> (4 * (idx % 2))) & 0xf;
            v = v >= 8 ? v - 16 : v;
            if (b.group_zero) v -= b.group_zero[j * ngroups + kk / gs];
            out[full * kNR + jj] = to_bf16[v + 15];
          }
        }
        for (std::int64_t w = 0; w < np && !(fast && col_ok); ++w) {
          std::uint32_t word = 0;
          for (int t = 0; t < 2; ++t) {
            const std::int64_t pk = 2 * w + t;
            if (!col_ok || pk >= kc) continue;
            const std::int64_t kk = p0 + pk;
            const std::int64_t idx = operand_index(b, kk, j);
            int v = (bytes[idx / 2] >> (4 * (idx % 2))) & 0xf;
            v = v >= 8 ? v - 16 : v;
            if (b.group_zero) v -= b.group_zero[j * ngroups + kk / gs];
            word |= std::uint32_t{to_bf16[v + 15]} << (16 * t);
          }
          out[w * kNR + jj] = word;
        }
      }
      // One row of 32 column scales per step, written row by row (a column at a time, with a division per
      // element, took 8% of a 64 x 4096 x 4096 product on Zen 4).
      float* scales = reinterpret_cast<float*>(out + np * kNR);
      const std::int64_t columns = std::min(kNR, nc - q);
      for (std::int64_t s = 0; s < np / 16; ++s) {
        const std::int64_t kk = p0 + s * 32;
        float* row = scales + s * kNR;
        std::fill(row, row + kNR, 0.0f);
        if (kk >= p.k) continue;
        const float* column_scales = b.group_scale + (j0 + q) * ngroups + kk / gs;
        for (std::int64_t jj = 0; jj < columns; ++jj) row[jj] = column_scales[jj * ngroups];
      }
      out += words * kNR;
    }
  }
};

// The same panels from pre-packed weights: pack_b only unpacks (no gather, no per-column lookups). Blocks of
// 256 columns (544 KiB at kc = 1024; the 2048 of the plain panels make 4.4 MiB, past the L2) keep the
// unpacked block in L2 while the rows of A sweep it; A is repacked per block, for bf16 a copy. (kc 256 and
// blocks of 512 columns measured no better at M = 64 with AMX on Sapphire Rapids.)
struct W4PackedPanels : W4Panels {
  static constexpr std::int64_t kNC = 256;

  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    const PackedInt4Weights& w = *p.packed_b;
    const std::int64_t steps_per_group = w.group_size() / 32, ngroups = w.groups();
    t_steps_per_group = steps_per_group;
    const std::int64_t np = pairs(kc), steps = np / 16, first = p0 / 32;
    for (std::int64_t q = 0; q < nc; q += kNR) {
      const std::int64_t panel = (j0 + q) / 32;
      unpack_w4_steps(w.codes() + (panel * w.steps() + first) * 512, steps,
                      w.zeros() ? w.zeros() + panel * ngroups * 32 : nullptr, first, steps_per_group, out);
      float* scales = reinterpret_cast<float*>(out + np * kNR);
      for (std::int64_t s = 0; s < steps; ++s) {
        std::memcpy(scales + s * kNR, w.scales() + (panel * ngroups + (first + s) / steps_per_group) * 32,
                    kNR * sizeof(float));
      }
      out += groups(kc) * kNR;
    }
  }
};

}  // namespace lowbit::kernels::cpu
