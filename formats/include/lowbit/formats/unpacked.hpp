// The exact value every conversion passes through: sign, class, and a 64-bit normalized significand with
// a sticky bit for anything below it. Sources wider than 64 bits (decimal text) set `sticky`, so one
// rounding from this form is a correct single rounding of the original value.
#pragma once

#include <bit>
#include <cstdint>

#include "lowbit/formats/rounding.hpp"

namespace lowbit {

struct Unpacked {
  enum class Kind : std::uint8_t { zero, finite, inf, nan };
  Kind kind = Kind::zero;
  bool negative = false;
  bool signaling = false;  // for NaN: an IEEE signaling NaN (raises invalid when converted)
  // For finite values: value = sig * 2^(exp - 63), with bit 63 of sig set, i.e. in [2^exp, 2^(exp+1)).
  std::int32_t exp = 0;
  std::uint64_t sig = 0;
  bool sticky = false;  // nonzero bits of the exact value below sig

  static constexpr Unpacked zero(bool negative) { return {Kind::zero, negative, false, 0, 0, false}; }
  static constexpr Unpacked inf(bool negative) { return {Kind::inf, negative, false, 0, 0, false}; }
  static constexpr Unpacked nan(bool negative, bool signaling = false) {
    return {Kind::nan, negative, signaling, 0, 0, false};
  }
  // value = magnitude * 2^scale, exactly (magnitude != 0).
  static constexpr Unpacked from_integer(bool negative, std::uint64_t magnitude, int scale = 0) {
#if defined(__CUDA_ARCH__)
    // kernels/src/cuda runs this engine on the GPU, where libstdc++'s std::countl_zero (a GCC builtin)
    // does not compile correctly; the device's own count-leading-zeros instruction does.
    const int lead = 63 - __clzll(static_cast<long long>(magnitude));
#else
    const int lead = 63 - std::countl_zero(magnitude);
#endif
    return {Kind::finite, negative, false, lead + scale, magnitude << (63 - lead), false};
  }
  constexpr bool is_finite_nonzero() const {
    return kind == Kind::finite;
  }
};

// Rounding of a significand to an integer: `q` = floor(sig / 2^shift) adjusted by the mode, `inexact` when
// any dropped bit (or the sticky bit) was set. Shared by the float, integer and fixed-point packers.
struct RoundedSignificand {
  std::uint64_t q;
  bool inexact;
};

constexpr RoundedSignificand round_significand(std::uint64_t sig, bool sticky, int shift, bool negative,
                                               const RoundOptions& options) {
  std::uint64_t q = 0, dropped = 0;  // dropped: the discarded fraction of one unit, left-aligned
  if (shift <= 0) {
    return {sig << -shift, sticky};  // callers never ask for shift < -1; kept total for safety
  } else if (shift < 64) {
    q = sig >> shift;
    dropped = sig << (64 - shift);
  } else if (shift == 64) {
    dropped = sig;
  } else if (shift < 128) {  // below half a unit; the fraction's top bits still matter to stochastic
    dropped = sig >> (shift - 64);
    sticky = sticky || (sig << (128 - shift)) != 0;
  } else {
    sticky = sticky || sig != 0;
  }
  const bool inexact = dropped != 0 || sticky;
  if (!inexact) return {q, false};
  constexpr std::uint64_t kHalf = 1ull << 63;
  bool up = false;
  switch (options.rounding) {
    case Rounding::nearest_even:
      up = dropped > kHalf || (dropped == kHalf && (sticky || (q & 1)));
      break;
    case Rounding::nearest_away:
      up = dropped >= kHalf;
      break;
    case Rounding::toward_zero:
      break;
    case Rounding::up:
      up = !negative;
      break;
    case Rounding::down:
      up = negative;
      break;
    case Rounding::odd:
      q |= 1;
      break;
    case Rounding::stochastic:
      // Up with probability (dropped fraction truncated to 32 bits) / 2^32: unbiased to 2^-32 of a unit.
      up = (dropped >> 32) + options.random >= (1ull << 32);
      break;
  }
  return {q + (up ? 1 : 0), true};
}

// True when an overflowing value goes to infinity (else to the largest finite), per IEEE 754 7.4.
constexpr bool overflow_goes_to_infinity(Rounding rounding, bool negative) {
  switch (rounding) {
    case Rounding::toward_zero:
    case Rounding::odd:
      return false;
    case Rounding::up:
      return !negative;
    case Rounding::down:
      return negative;
    default:
      return true;
  }
}

}  // namespace lowbit
