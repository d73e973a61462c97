// Fast packing for operands whose elements go into the packed words unchanged (bf16 codes, int8/uint8
// bytes): whole 32-bit words and 64-byte rows are copied instead of element by element. Same layouts as
// pack_b_words (packed_driver.hpp) and pack_a_amx (amx.hpp); edges (partial panels, the last partial group
// of k) go through those generic packers.
#pragma once

#include <emmintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/amx.hpp"
#include "cpu/bf16_read.hpp"
#include "cpu/fp8_bf16_avx512.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/transpose_block.hpp"

namespace lowbit::kernels::cpu {

// B panels of 32 columns, `groups` words per column (zero past kc). Elem: std::uint16_t (2 per word) or
// std::uint8_t (4 per word). `flip` is XORed into every element of B (not into the zero padding): 0x80
// turns uint8 codes into the int8 codes b - 128 that vpdpbusd's signed side takes.
template <class Elem>
void pack_b_raw(const MatrixIn& b, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                std::uint32_t* out, std::int64_t groups, Elem flip = 0) {
  constexpr std::int64_t kNR = 32, kPer = 4 / sizeof(Elem);
  const auto* data = static_cast<const Elem*>(b.data);
  const std::int64_t full_groups = kc / kPer;
  const std::uint32_t word_flip = flip * (sizeof(Elem) == 1 ? 0x01010101u : 0x00010001u);
  const __m128i vector_flip = _mm_set1_epi32(static_cast<int>(word_flip));
  auto read = [flip](const void* d, std::int64_t i) {
    return static_cast<Elem>(static_cast<const Elem*>(d)[i] ^ flip);
  };
  auto load = [&](const Elem* src) {
    return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), vector_flip);
  };
  for (std::int64_t q = 0; q < nc; q += kNR) {
    if (q + kNR > nc) {  // partial panel: the generic packer
      pack_b_words<kNR, kPer, Elem>(b, p0, kc, j0 + q, nc - q, out, Elem{0}, read, groups);
      break;
    }
    if (b.transpose == Transpose::yes) {  // column j is contiguous in k: one word is kPer consecutive k
      for (std::int64_t jj = 0; jj < kNR; ++jj) {
        const Elem* src = data + (j0 + q + jj) * b.ld + p0;
        for (std::int64_t g = 0; g < full_groups; ++g) {
          std::uint32_t word;
          std::memcpy(&word, src + g * kPer, 4);
          out[g * kNR + jj] = word ^ word_flip;
        }
      }
    } else {  // kPer rows of B interleaved element by element, 16 columns at a time
      for (std::int64_t g = 0; g < full_groups; ++g) {
        const Elem* r0 = data + (p0 + g * kPer) * b.ld + j0 + q;
        std::uint32_t* dst = out + g * kNR;
        for (std::int64_t h = 0; h < kNR; h += 16) {
          if constexpr (kPer == 2) {
            for (std::int64_t c = 0; c < 16; c += 8) {
              const __m128i x0 = load(r0 + h + c), x1 = load(r0 + b.ld + h + c);
              _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h + c), _mm_unpacklo_epi16(x0, x1));
              _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h + c + 4), _mm_unpackhi_epi16(x0, x1));
            }
          } else {
            const __m128i x0 = load(r0 + h), x1 = load(r0 + b.ld + h);
            const __m128i x2 = load(r0 + 2 * b.ld + h), x3 = load(r0 + 3 * b.ld + h);
            const __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
            const __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h), _mm_unpacklo_epi16(lo01, lo23));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h + 4), _mm_unpackhi_epi16(lo01, lo23));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h + 8), _mm_unpacklo_epi16(hi01, hi23));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + h + 12), _mm_unpackhi_epi16(hi01, hi23));
          }
        }
      }
    }
    // The last partial group of k and the zero words up to `groups`.
    for (std::int64_t g = full_groups; g < groups; ++g) {
      for (std::int64_t jj = 0; jj < kNR; ++jj) {
        std::uint32_t word = 0;
        for (std::int64_t t = 0; t < kPer; ++t) {
          const std::int64_t p = g * kPer + t;
          if (p < kc) {
            word |= static_cast<std::uint32_t>(read(b.data, operand_index(b, p0 + p, j0 + q + jj)))
                    << (8 * sizeof(Elem) * t);
          }
        }
        out[g * kNR + jj] = word;
      }
    }
    out += groups * kNR;
  }
}

// A panels of kMR rows for the AVX-512 register-tile kernels (pack_a_words' layout: for each word of k, one
// word per row). With A not transposed a row's words are kPer consecutive elements, so whole words are
// copied, row by row into the panel's stride, instead of element by element; `flip` as in pack_b_raw.
// Transposed A and partial panels go through pack_a_words. `words` per row (default ceil(kc / kPer); more
// pads with zero words), panels `panel_words` apart (default words * kMR).
template <int kMR, class Elem>
void pack_a_rows_raw(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out, Elem flip = 0, std::int64_t words = 0,
                     std::int64_t panel_words = 0) {
  constexpr std::int64_t kPer = 4 / sizeof(Elem);
  auto read = [flip](const void* d, std::int64_t i) {
    return static_cast<Elem>(static_cast<const Elem*>(d)[i] ^ flip);
  };
  const std::int64_t full_groups = kc / kPer;
  if (words == 0) words = (kc + kPer - 1) / kPer;
  if (panel_words == 0) panel_words = words * kMR;
  const std::uint32_t word_flip = flip * (sizeof(Elem) == 1 ? 0x01010101u : 0x00010001u);
  const auto* data = static_cast<const Elem*>(a.data);
  for (std::int64_t q = 0; q < mc; q += kMR) {
    if (a.transpose == Transpose::yes || q + kMR > mc) {
      pack_a_words<kMR, kPer, Elem>(a, i0 + q, std::min<std::int64_t>(kMR, mc - q), p0, kc, out, Elem{0},
                                    read, words, panel_words);
    } else {
      // Blocks of 16 words of the kMR rows through the 16 x 16 register transpose where the rows are whole
      // words apart (2-3x fewer instructions than the word copies below), then the rest word by word.
      const Elem* panel = data + (i0 + q) * a.ld + p0;
      std::int64_t g_fast = 0;
      if (a.ld % kPer == 0 && has_transpose_block_16()) {
        for (; g_fast + 16 <= full_groups; g_fast += 16) {
          std::uint32_t* dst = out + g_fast * kMR;
          transpose_block_16(reinterpret_cast<const float*>(panel + g_fast * kPer), a.ld / kPer, kMR,
                             reinterpret_cast<float*>(dst), kMR, kMR);
          if (word_flip != 0)
            for (std::int64_t i = 0; i < 16 * kMR; ++i) dst[i] ^= word_flip;
        }
      }
      for (std::int64_t r = 0; r < kMR; ++r) {
        const Elem* src = panel + r * a.ld;
        for (std::int64_t g = g_fast; g < full_groups; ++g) {
          std::uint32_t word;
          std::memcpy(&word, src + g * kPer, 4);
          out[g * kMR + r] = word ^ word_flip;
        }
        for (std::int64_t g = full_groups; g < words; ++g) {  // the last partial word of k, then zeros
          std::uint32_t word = 0;
          for (std::int64_t t = 0; t < kPer && g * kPer + t < kc; ++t)
            word |= std::uint32_t{static_cast<Elem>(src[g * kPer + t] ^ flip)} << (8 * sizeof(Elem) * t);
          out[g * kMR + r] = word;
        }
      }
    }
    out += panel_words;
  }
}

// The same for fp8 A into bf16 pair words: each row's codes decoded 32 at a time in registers
// (fp8_bf16_avx512.hpp) into a row buffer, then copied word by word into the panel's stride.
template <int kMR>
void pack_a_rows_fp8(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out, std::int64_t words = 0, std::int64_t panel_words = 0) {
  const std::uint16_t* table = table_for(a.type).data();
  const Fp8Bf16Table& vector_table = fp8_bf16_table_for(a.type);
  auto read = [table](const void* d, std::int64_t i) {
    return table[static_cast<const std::uint8_t*>(d)[i]];
  };
  const std::int64_t chunks = kc / 32;
  if (words == 0) words = (kc + 1) / 2;
  if (panel_words == 0) panel_words = words * kMR;
  thread_local std::vector<std::uint32_t> row;
  row.resize(static_cast<std::size_t>(words + 16));
  const auto* data = static_cast<const std::uint8_t*>(a.data);
  for (std::int64_t q = 0; q < mc; q += kMR) {
    if (a.transpose == Transpose::yes || q + kMR > mc) {
      pack_a_words<kMR, 2, std::uint16_t>(a, i0 + q, std::min<std::int64_t>(kMR, mc - q), p0, kc, out,
                                          std::uint16_t{0}, read, words, panel_words);
    } else {
      for (std::int64_t r = 0; r < kMR; ++r) {
        const std::uint8_t* src = data + (i0 + q + r) * a.ld + p0;
        decode_row_fp8(src, chunks, row.data(), vector_table);  // words [0, 16 * chunks)
        for (std::int64_t g = 16 * chunks; g < words; ++g) {    // the tail of k, then zeros
          const std::int64_t p = 2 * g;
          row[static_cast<std::size_t>(g)] =
              (p < kc ? table[src[p]] : 0u) | (p + 1 < kc ? std::uint32_t{table[src[p + 1]]} << 16 : 0u);
        }
        for (std::int64_t g = 0; g < words; ++g) out[g * kMR + r] = row[static_cast<std::size_t>(g)];
      }
    }
    out += panel_words;
  }
}

// A panels for AMX (pack_a_amx's layout): with A not transposed, each row's 16 words of a k step are 64
// contiguous bytes of the row.
template <class Elem>
void pack_a_amx_raw(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                    std::int64_t groups, std::uint32_t* out, std::int64_t panel_words = 0) {
  constexpr int kPer = 4 / sizeof(Elem);
  auto read = [](const void* d, std::int64_t i) { return static_cast<const Elem*>(d)[i]; };
  if (a.transpose == Transpose::yes) {
    pack_a_amx<kPer, Elem>(a, i0, mc, p0, kc, groups, out, read, panel_words);
    return;
  }
  const auto* data = static_cast<const Elem*>(a.data);
  const std::int64_t steps = groups / 16, bytes = kc * static_cast<std::int64_t>(sizeof(Elem));
  for (std::int64_t q = 0; q < mc; q += 32) {
    for (std::int64_t r = 0; r < 32; ++r) {
      const auto* src = reinterpret_cast<const unsigned char*>(data + (i0 + q + r) * a.ld + p0);
      for (std::int64_t s = 0; s < steps; ++s) {
        auto* dst = reinterpret_cast<unsigned char*>(out + s * 512 + r * 16);
        const std::int64_t take = q + r < mc ? std::min<std::int64_t>(64, bytes - s * 64) : 0;
        if (take > 0) std::memcpy(dst, src + s * 64, static_cast<std::size_t>(take));
        if (take < 64)
          std::memset(dst + std::max<std::int64_t>(take, 0), 0,
                      static_cast<std::size_t>(64 - std::max<std::int64_t>(take, 0)));
      }
    }
    out += panel_words != 0 ? panel_words : steps * 512;
  }
}

// fp8 operands for the bf16 AMX kernel: like pack_b_raw and pack_a_amx_raw, each byte becoming its exact bf16
// code on the way: 32 at a time in registers (fp8_bf16_avx512.hpp) along row-major rows, through the
// 256-entry table (bf16_read.hpp) for transposed operands, partial panels and the tails of k.
inline void pack_b_fp8(const MatrixIn& b, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                       std::uint32_t* out, std::int64_t groups) {
  constexpr std::int64_t kNR = 32;
  const std::uint16_t* table = table_for(b.type).data();
  const Fp8Bf16Table& vector_table = fp8_bf16_table_for(b.type);
  const auto* data = static_cast<const std::uint8_t*>(b.data);
  const std::int64_t full_groups = kc / 2;
  auto read = [table](const void* d, std::int64_t i) {
    return table[static_cast<const std::uint8_t*>(d)[i]];
  };
  for (std::int64_t q = 0; q < nc; q += kNR) {
    if (q + kNR > nc) {
      pack_b_words<kNR, 2, std::uint16_t>(b, p0, kc, j0 + q, nc - q, out, std::uint16_t{0}, read, groups);
      break;
    }
    if (b.transpose == Transpose::yes) {
      for (std::int64_t jj = 0; jj < kNR; ++jj) {
        const std::uint8_t* src = data + (j0 + q + jj) * b.ld + p0;
        for (std::int64_t g = 0; g < full_groups; ++g) {
          out[g * kNR + jj] = table[src[2 * g]] | std::uint32_t{table[src[2 * g + 1]]} << 16;
        }
      }
    } else {
      pack_b_rows_fp8(data + p0 * b.ld + j0 + q, b.ld, full_groups, out, vector_table);
    }
    for (std::int64_t g = full_groups; g < groups; ++g) {
      for (std::int64_t jj = 0; jj < kNR; ++jj) {
        const std::int64_t p = 2 * g;
        out[g * kNR + jj] =
            p < kc ? read(b.data, operand_index(b, p0 + p, j0 + q + jj)) : 0;  // odd kc: one k
      }
    }
    out += groups * kNR;
  }
}

inline void pack_a_amx_fp8(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0,
                           std::int64_t kc, std::int64_t groups, std::uint32_t* out,
                           std::int64_t panel_words = 0) {
  const std::uint16_t* table = table_for(a.type).data();
  const Fp8Bf16Table& vector_table = fp8_bf16_table_for(a.type);
  auto read = [table](const void* d, std::int64_t i) {
    return table[static_cast<const std::uint8_t*>(d)[i]];
  };
  if (a.transpose == Transpose::yes) {
    pack_a_amx<2, std::uint16_t>(a, i0, mc, p0, kc, groups, out, read, panel_words);
    return;
  }
  const auto* data = static_cast<const std::uint8_t*>(a.data);
  for (std::int64_t q = 0; q < mc; q += 32) {
    for (std::int64_t r = 0; r < 32; ++r) {
      const std::uint8_t* src = data + (i0 + q + r) * a.ld + p0;
      const bool row_ok = q + r < mc;
      std::int64_t g = 0;
      if (row_ok) {  // whole k steps of 32 codes (16 words) at a time, then the scalar tail
        const std::int64_t chunks = kc / 32;
        pack_a_row_fp8(src, chunks, out + r * 16, vector_table);
        g = chunks * 16;
      }
      for (; g < groups; ++g) {
        std::uint32_t word = 0;
        if (row_ok && 2 * g + 1 < kc) {
          word = table[src[2 * g]] | std::uint32_t{table[src[2 * g + 1]]} << 16;
        } else if (row_ok && 2 * g < kc) {
          word = table[src[2 * g]];
        }
        out[(g / 16) * 512 + r * 16 + g % 16] = word;
      }
    }
    out += panel_words != 0 ? panel_words : groups / 16 * 512;
  }
}

}  // namespace lowbit::kernels::cpu
