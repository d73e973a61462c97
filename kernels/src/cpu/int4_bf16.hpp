// Exact bf16 codes of int4 values, as 32-entry tables for vpermw (which reads 5 bits of each index): the
// unpackers of the int4 kernels (w4_panels.hpp, gemv_w4_avx512.cpp) turn nibbles into bf16 weights with one
// permute.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace lowbit::kernels::cpu {

// The exact bf16 of i - 16 for i in 0..31: the table of the vpermw unpackers below.
inline const std::array<std::uint16_t, 32>& minus16_bf16() {
  static const auto table = [] {
    std::array<std::uint16_t, 32> t{};
    for (int i = 0; i < 32; ++i) {
      const float f = static_cast<float>(i - 16);
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      t[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(bits >> 16);  // exact: small integers
    }
    return t;
  }();
  return table;
}

// The exact bf16 of the int4 value of code i & 15 for i in 0..31 (vpermw reads 5 index bits, so the fifth
// bit may hold anything): two's complement codes (weights as stored), or codes q + 8 (`biased`, the packed
// form). The symmetric unpackers index it with the raw nibble, which saves the masking and the offset.
inline const std::array<std::uint16_t, 32>& code_bf16(bool biased) {
  static const auto tables = [] {
    std::array<std::array<std::uint16_t, 32>, 2> t{};
    for (int b = 0; b < 2; ++b) {
      for (int i = 0; i < 32; ++i) {
        const int c = i & 15;
        const float f = static_cast<float>(b ? c - 8 : (c < 8 ? c : c - 16));
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        t[b][static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(bits >> 16);  // exact: small integers
      }
    }
    return t;
  }();
  return tables[biased ? 1 : 0];
}

}  // namespace lowbit::kernels::cpu
