// fp8 (e4m3fn, e5m2) codes to their exact bf16 codes, 32 at a time with AVX-512BW, for the packers of the
// AMX and AVX512_BF16 kernels (pack_raw.hpp). The scalar packers look each byte up in a 256-entry table
// (bf16_read.hpp); here the table's first 128 entries (the non-negative codes) sit in four registers and two
// 64-entry word permutes (vpermt2w) pick from them, bit 6 choosing between the two results; the sign bit is
// then moved into place, since bf16(-x) is bf16(x) with the sign set for every code, NaNs included (checked
// when the table is built). Only the AMX and AVX512_BF16 kernels call these, and every CPU with either has
// AVX-512BW.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include "cpu/bf16_read.hpp"
#include "lowbit/formats/dtype.hpp"

#define LOWBIT_AVX512BW_TARGET __attribute__((target("avx512f,avx512bw")))

namespace lowbit::kernels::cpu {

struct Fp8Bf16Table {
  alignas(64) std::array<std::uint16_t, 128> non_negative{};  // bf16 codes of fp8 codes 0x00 .. 0x7f
};

inline Fp8Bf16Table make_fp8_bf16_table(const std::array<std::uint16_t, 256>& table) {
  Fp8Bf16Table t;
  for (std::size_t c = 0; c < 128; ++c) {
    t.non_negative[c] = table[c];
    if (table[c | 0x80] != (table[c] | 0x8000))
      throw std::logic_error("fp8 -> bf16 table: a negative code is not its positive code with the sign set");
  }
  return t;
}

// The table of an fp8 type (float8_e4m3fn or float8_e5m2), built once.
inline const Fp8Bf16Table& fp8_bf16_table_for(DType type) {
  static const Fp8Bf16Table e4m3 = make_fp8_bf16_table(table_for(DType::float8_e4m3fn));
  static const Fp8Bf16Table e5m2 = make_fp8_bf16_table(table_for(DType::float8_e5m2));
  return type == DType::float8_e5m2 ? e5m2 : e4m3;
}

// The four registers holding Fp8Bf16Table::non_negative.
struct Fp8Bf16Registers {
  __m512i t0, t1, t2, t3;
};

LOWBIT_AVX512BW_TARGET inline Fp8Bf16Registers load_fp8_bf16(const Fp8Bf16Table& t) {
  const auto* p = t.non_negative.data();
  return {_mm512_load_si512(p), _mm512_load_si512(p + 32), _mm512_load_si512(p + 64),
          _mm512_load_si512(p + 96)};
}

// 32 fp8 codes (32 bytes at `codes`) -> 32 bf16 codes.
LOWBIT_AVX512BW_TARGET inline __m512i fp8_to_bf16_x32(const std::uint8_t* codes, const Fp8Bf16Registers& r) {
  const __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes)));
  // vpermt2w reads the low 6 bits of each index: codes 0..63 from (t0, t1), 64..127 from (t2, t3).
  const __m512i low = _mm512_permutex2var_epi16(r.t0, w, r.t1);
  const __m512i high = _mm512_permutex2var_epi16(r.t2, w, r.t3);
  const __mmask32 upper = _mm512_test_epi16_mask(w, _mm512_set1_epi16(0x40));
  const __m512i magnitude = _mm512_mask_blend_epi16(upper, low, high);
  const __m512i sign = _mm512_slli_epi16(_mm512_and_si512(w, _mm512_set1_epi16(0x80)), 8);
  return _mm512_or_si512(magnitude, sign);
}

// Row-major A for AMX: one row's first `chunks` x 32 codes (from `src`) into chunk s's 16 words at
// dst + s * 512 (the pack_a_amx layout: a 64-byte row of 16 pair-words per k step of the panel).
LOWBIT_AVX512BW_TARGET inline void pack_a_row_fp8(const std::uint8_t* src, std::int64_t chunks,
                                                  std::uint32_t* dst, const Fp8Bf16Table& t) {
  const Fp8Bf16Registers r = load_fp8_bf16(t);
  for (std::int64_t s = 0; s < chunks; ++s)
    _mm512_storeu_si512(dst + s * 512, fp8_to_bf16_x32(src + 32 * s, r));
}

// One row's first `chunks` x 32 codes (from `src`) into 16 x `chunks` consecutive pair words at dst.
LOWBIT_AVX512BW_TARGET inline void decode_row_fp8(const std::uint8_t* src, std::int64_t chunks,
                                                  std::uint32_t* dst, const Fp8Bf16Table& t) {
  const Fp8Bf16Registers r = load_fp8_bf16(t);
  for (std::int64_t s = 0; s < chunks; ++s)
    _mm512_storeu_si512(dst + s * 16, fp8_to_bf16_x32(src + 32 * s, r));
}

// Row-major B for AMX: `pairs` pairs of rows (row0 + 2g and the row after, `ld` bytes apart), 32 columns
// each, into 32 words per pair (column j's word: the first row's bf16 in the low half, the second's in the
// high half), the words of pair g at dst + 32 g.
LOWBIT_AVX512BW_TARGET inline void pack_b_rows_fp8(const std::uint8_t* row0, std::int64_t ld,
                                                   std::int64_t pairs, std::uint32_t* dst,
                                                   const Fp8Bf16Table& t) {
  const Fp8Bf16Registers r = load_fp8_bf16(t);
  // unpacklo/hi_epi16 interleave within 128-bit lanes: lanes of `low` hold columns 0-3, 8-11, 16-19, 24-27
  // and `high` 4-7, 12-15, ...; these indexes put the 64-bit halves back in column order.
  const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
  const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
  for (std::int64_t g = 0; g < pairs; ++g) {
    const std::uint8_t* r0 = row0 + 2 * g * ld;
    const __m512i x0 = fp8_to_bf16_x32(r0, r), x1 = fp8_to_bf16_x32(r0 + ld, r);
    const __m512i low = _mm512_unpacklo_epi16(x0, x1), high = _mm512_unpackhi_epi16(x0, x1);
    _mm512_storeu_si512(dst + 32 * g, _mm512_permutex2var_epi64(low, first, high));
    _mm512_storeu_si512(dst + 32 * g + 16, _mm512_permutex2var_epi64(low, second, high));
  }
}

}  // namespace lowbit::kernels::cpu
