// The packed element stream of the block formats and the exact arithmetic their scales need.
#include <algorithm>
#include <bit>
#include <cmath>

#include "block_internal.hpp"

namespace lowbit::detail {

namespace {
using U128 = unsigned __int128;

// A 128-bit significand normalized into Unpacked's 64 bits, the dropped bits folded into `sticky`.
Unpacked normalize(bool negative, U128 sig, int exp_of_bit0, bool sticky) {
  const int top = sig >> 64 ? 127 - std::countl_zero(static_cast<std::uint64_t>(sig >> 64))
                            : 63 - std::countl_zero(static_cast<std::uint64_t>(sig));
  const int shift = top - 63;
  Unpacked u;
  u.kind = Unpacked::Kind::finite;
  u.negative = negative;
  if (shift >= 0) {
    u.sig = static_cast<std::uint64_t>(sig >> shift);
    sticky = sticky || (sig & ((U128{1} << shift) - 1)) != 0;
  } else {
    u.sig = static_cast<std::uint64_t>(sig) << -shift;
  }
  u.exp = top + exp_of_bit0;
  u.sticky = sticky;
  return u;
}
}  // namespace

std::size_t packed_bytes(std::size_t count, int bits) {
  return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

std::uint8_t read_code(std::span<const std::uint8_t> packed, int bits, std::size_t index) {
  const std::size_t bit = index * static_cast<std::size_t>(bits);
  const std::size_t byte = bit / 8;
  const int offset = static_cast<int>(bit % 8);
  unsigned window = packed[byte];
  if (offset + bits > 8) window |= static_cast<unsigned>(packed[byte + 1]) << 8;  // a code across two bytes
  return static_cast<std::uint8_t>((window >> offset) & ((1u << bits) - 1));
}

void write_code(std::span<std::uint8_t> packed, int bits, std::size_t index, std::uint8_t code) {
  const std::size_t bit = index * static_cast<std::size_t>(bits);
  const std::size_t byte = bit / 8;
  const int offset = static_cast<int>(bit % 8);
  const unsigned window = static_cast<unsigned>(code) << offset;
  packed[byte] |= static_cast<std::uint8_t>(window);
  if (offset + bits > 8) packed[byte + 1] |= static_cast<std::uint8_t>(window >> 8);
}

Unpacked multiply(const Unpacked& a, const Unpacked& b) {
  const bool negative = a.negative != b.negative;
  if (a.kind == Unpacked::Kind::zero || b.kind == Unpacked::Kind::zero) return Unpacked::zero(negative);
  // a.sig * 2^(a.exp - 63) * b.sig * 2^(b.exp - 63)
  return normalize(negative, U128{a.sig} * b.sig, a.exp + b.exp - 126, a.sticky || b.sticky);
}

Unpacked divide(const Unpacked& x, const Unpacked& d) {
  const bool negative = x.negative != d.negative;
  if (x.kind == Unpacked::Kind::zero) return Unpacked::zero(negative);
  // (x.sig * 2^64 / d.sig) * 2^(x.exp - d.exp - 64): a quotient of 64 or 65 bits and a remainder.
  const U128 numerator = U128{x.sig} << 64;
  const U128 quotient = numerator / d.sig;
  const bool remainder = numerator % d.sig != 0;
  return normalize(negative, quotient, x.exp - d.exp - 64, remainder || x.sticky);
}

BlockMagnitude block_magnitude(std::span<const float> values) {
  BlockMagnitude m;
  for (const float v : values) {
    if (!std::isfinite(v)) {
      m.has_special = true;
    } else {
      m.finite_amax = std::max(m.finite_amax, std::fabs(v));
    }
  }
  return m;
}

}  // namespace lowbit::detail
