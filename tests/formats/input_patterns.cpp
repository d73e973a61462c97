#include "input_patterns.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#include <fmt/format.h>

namespace lowbit::test {

TargetRange target_range(const RefFormat& f) {
  // The largest finite value: walk down from the all-ones magnitude past inf and NaN codes.
  std::uint64_t code = (1ull << (f.exp_bits + f.man_bits)) - 1;
  while (ref_decode(f, code).kind != RefValue::Kind::finite) --code;
  const int emax = static_cast<int>(floor_log2(ref_decode(f, code).value));
  return {f.man_bits, f.exponent_zero_is_normal ? -f.bias : 1 - f.bias, emax};
}

InputGenerator::InputGenerator(TargetRange target, std::uint64_t seed) : target_(target), rng_(seed) {}

int InputGenerator::next_exponent(int source_emin, int source_emax) {
  const int m = target_.man_bits, lo = target_.emin, hi = target_.emax;
  const int choice = static_cast<int>(below(100));
  int e = 0;
  if (choice < 30) {  // the target's whole range, subnormals and just past the largest value included
    e = lo - m - 3 + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + m + 6)));
  } else if (choice < 60) {  // the edges: below the smallest subnormal, the normal threshold, the top
    const std::array<int, 15> edges{lo - m - 2, lo - m - 1, lo - m, lo - m + 1, lo - 2, lo - 1, lo, lo + 1,
                                    hi - 1,     hi,         hi + 1, hi + 2,     -1,     0,      1};
    e = edges[below(edges.size())];
  } else if (choice < 75) {  // anywhere in the source's range
    e = source_emin - 60 +
        static_cast<int>(below(static_cast<std::uint64_t>(source_emax - source_emin + 61)));
  } else {  // a wider band around the target's range
    e = lo - m - 10 + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + m + 21)));
  }
  return e;
}

std::uint64_t InputGenerator::next_fraction(int frac_bits, int kept) {
  const std::uint64_t all = (1ull << frac_bits) - 1;
  auto random_bits = [&](int n) { return n <= 0 ? 0 : rng_() & ((1ull << n) - 1); };
  auto run = [&]() {  // ones from bit i to bit j
    const int i = static_cast<int>(below(static_cast<std::uint64_t>(frac_bits)));
    const int j = i + static_cast<int>(below(static_cast<std::uint64_t>(frac_bits - i)));
    return ((2ull << j) - 1) & ~((1ull << i) - 1) & all;
  };
  // The target's rounding position within this fraction: `kept` bits survive, then the round bit.
  const bool aligned = kept >= 0 && kept < frac_bits;
  const int tail = frac_bits - 1 - kept;  // bits below the round bit
  auto tie_like = [&](std::uint64_t kept_bits) {
    const std::uint64_t round_bit = below(4) != 0 ? 1 : 0;
    std::uint64_t rest = 0;
    switch (below(5)) {
      case 0:
        rest = 0;
        break;  // exact tie (or exact value)
      case 1:
        rest = tail > 0 ? (1ull << tail) - 1 : 0;
        break;  // just below the next tie
      case 2:
        rest = tail > 0 ? 1 : 0;
        break;  // sticky only in the last bit
      case 3:
        rest = tail > 0 ? 1ull << (tail - 1) : 0;
        break;  // top tail bit only
      default:
        rest = random_bits(tail);
        break;
    }
    return (kept_bits << (frac_bits - kept)) | (round_bit << tail) | rest;
  };
  switch (below(7)) {
    case 0:
      return random_bits(frac_bits);
    case 1:
    case 2:
      if (aligned) return tie_like(random_bits(kept));
      return random_bits(frac_bits);
    case 3:
      if (aligned) return tie_like(kept > 0 ? (1ull << kept) - 1 : 0);  // carries into the exponent
      return all;
    case 4:
      return run();
    case 5:
      return ~run() & all;
    default:
      return below(2) ? 0 : all;
  }
}

std::uint64_t InputGenerator::next_bits(int frac_bits, int exp_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int emin = 1 - bias, emax = bias;
  const std::uint64_t sign = below(2) ? 1ull << (frac_bits + exp_bits) : 0;
  if (below(100) == 0) return sign;  // a zero
  const int e = std::clamp(next_exponent(emin, emax), emin - frac_bits, emax);
  const int kept = target_.man_bits - std::max(0, target_.emin - e);
  const std::uint64_t fraction = next_fraction(frac_bits, kept);
  if (e >= emin) return sign | (static_cast<std::uint64_t>(e + bias) << frac_bits) | fraction;
  // Below the source's normal range: its own subnormals (the pattern's lowest bits fall off).
  const std::uint64_t significand = ((1ull << frac_bits) | fraction) >> (emin - e);
  return sign | std::max<std::uint64_t>(significand, 1);
}

double InputGenerator::next_double() {
  return std::bit_cast<double>(next_bits(52, 11));
}

float InputGenerator::next_float() {
  return std::bit_cast<float>(static_cast<std::uint32_t>(next_bits(23, 8)));
}

DecimalInput InputGenerator::next_decimal() {
  const int choice = static_cast<int>(below(10));
  if (choice < 4) {  // the exact expansion of a double: every digit matters
    const double d = next_double();
    const Rational v = rational_of(d);
    return {exact_decimal_text(v, below(2) == 0), v};
  }
  if (choice < 6) {  // a double nudged by 10^-k past its last decimal place: near-ties stay near
    const double d = next_double();
    if (d == 0) return {"0", 0};
    const Rational v = rational_of(d);
    const std::string plain = exact_decimal_text(v);
    const std::size_t point = plain.find('.');
    const long places = point == std::string::npos ? 0 : static_cast<long>(plain.size() - point - 1);
    const long k = places + 1 + static_cast<long>(below(12));
    const Rational nudge(BigInt(1), boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(k)));
    const Rational nudged = below(2) ? Rational(v + nudge) : Rational(v - nudge);
    return {exact_decimal_text(nudged, below(2) == 0), nudged};
  }
  // Random digits with an exponent that lands near the target's range.
  const int length_choice = static_cast<int>(below(20));
  const int n = length_choice < 12 ? 1 + static_cast<int>(below(9))
                                   : (length_choice < 17 ? 10 + static_cast<int>(below(11))
                                                         : 21 + static_cast<int>(below(20)));
  std::string digits(1, static_cast<char>('1' + below(9)));
  const int style = static_cast<int>(below(4));
  for (int i = 1; i < n; ++i) {
    char c = static_cast<char>('0' + below(10));
    if (style == 1) c = '9';
    if (style == 2) c = i == 1 ? '5' : '0';
    digits += c;
  }
  const int e2 = next_exponent(-1022, 1023);
  const long e10 =
      static_cast<long>(std::floor(e2 * 0.30102999566398120)) - (n - 1) + static_cast<long>(below(3)) - 1;
  const BigInt integer(digits);
  const BigInt scale = boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(std::labs(e10)));
  Rational value = e10 >= 0 ? Rational(integer * scale) : Rational(integer, scale);
  std::string text;
  if (below(2)) {
    text = fmt::format("{}e{}", digits, e10);
  } else {  // d.ddd form
    // fmt rather than string concatenation, which g++ 12 misreports here (-Wrestrict).
    text = fmt::format("{}{}{}E{}", digits[0], n > 1 ? "." : "", std::string_view(digits).substr(1),
                       e10 + n - 1);
  }
  if (below(2)) {
    text = fmt::format("-{}", text);
    value = -value;
  }
  return {text, value};
}

}  // namespace lowbit::test
