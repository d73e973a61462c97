#include "reference.hpp"

#include <algorithm>
#include <stdexcept>

namespace lowbit::test {

const std::vector<RefFormat>& ref_formats() {
  // name, E, M, bias, signed, inf, ieee NaNs, NaN at all-ones, NaN at 0x80, exponent 0 normal
  static const std::vector<RefFormat> formats = {
      {"float16", 5, 10, 15, true, true, true, false, false, false},
      {"bfloat16", 8, 7, 127, true, true, true, false, false, false},
      {"float8_e4m3fn", 4, 3, 7, true, false, false, true, false, false},
      {"float8_e4m3", 4, 3, 7, true, true, true, false, false, false},
      {"float8_e4m3fnuz", 4, 3, 8, true, false, false, false, true, false},
      {"float8_e4m3b11fnuz", 4, 3, 11, true, false, false, false, true, false},
      {"float8_e5m2", 5, 2, 15, true, true, true, false, false, false},
      {"float8_e5m2fnuz", 5, 2, 16, true, false, false, false, true, false},
      {"float8_e3m4", 3, 4, 3, true, true, true, false, false, false},
      {"float6_e2m3fn", 2, 3, 1, true, false, false, false, false, false},
      {"float6_e3m2fn", 3, 2, 3, true, false, false, false, false, false},
      {"float4_e2m1fn", 2, 1, 1, true, false, false, false, false, false},
      {"float8_e8m0fnu", 8, 0, 127, false, false, false, true, false, true},
  };
  return formats;
}

const RefFormat& ref_format(const std::string& name) {
  for (const auto& f : ref_formats())
    if (f.name == name) return f;
  throw std::invalid_argument("no reference format " + name);
}

Rational pow2(long e) {
  const BigInt one = 1;
  return e >= 0 ? Rational(one << e) : Rational(one, BigInt(one << -e));
}

RefValue ref_decode(const RefFormat& f, std::uint64_t code) {
  const int width = f.exp_bits + f.man_bits;
  const bool negative = f.is_signed && ((code >> width) & 1);
  const std::uint64_t exponent = (code >> f.man_bits) & ((1ull << f.exp_bits) - 1);
  const std::uint64_t fraction = code & ((1ull << f.man_bits) - 1);
  const std::uint64_t all_ones_exponent = (1ull << f.exp_bits) - 1;
  RefValue r;
  r.negative = negative;
  if (f.nan_at_negative_zero && negative && exponent == 0 && fraction == 0) {
    r.kind = RefValue::Kind::nan;
    return r;
  }
  if (f.nan_at_all_ones && exponent == all_ones_exponent && fraction == (1ull << f.man_bits) - 1) {
    r.kind = RefValue::Kind::nan;
    return r;
  }
  if ((f.has_inf || f.ieee_nans) && exponent == all_ones_exponent) {
    r.kind = fraction == 0 ? RefValue::Kind::inf : RefValue::Kind::nan;
    return r;
  }
  Rational magnitude;
  if (exponent == 0 && !f.exponent_zero_is_normal) {  // subnormal: 0.fraction * 2^(1 - bias)
    magnitude = Rational(BigInt(fraction)) / pow2(f.man_bits) * pow2(1 - f.bias);
  } else {  // normal: 1.fraction * 2^(exponent - bias)
    magnitude = (1 + Rational(BigInt(fraction)) / pow2(f.man_bits)) * pow2(static_cast<long>(exponent) - f.bias);
  }
  r.value = negative ? Rational(-magnitude) : magnitude;
  return r;
}

Rational to_rational(const Unpacked& v) {
  if (v.kind == Unpacked::Kind::zero) return 0;
  if (v.kind != Unpacked::Kind::finite) throw std::invalid_argument("to_rational of inf or NaN");
  Rational r = Rational(BigInt(v.sig)) * pow2(static_cast<long>(v.exp) - 63);
  return v.negative ? Rational(-r) : r;
}

RefRounder::RefRounder(const RefFormat& f) : format(f) {
  const std::uint64_t magnitude_codes = 1ull << (f.exp_bits + f.man_bits);
  for (std::uint64_t c = 0; c < magnitude_codes; ++c) {
    const RefValue v = ref_decode(f, c);
    if (v.kind != RefValue::Kind::finite) continue;
    values.push_back(v.value);
    codes.push_back(c);
  }
  // Codes of one sign increase with the value in every format; check rather than assume.
  if (!std::is_sorted(values.begin(), values.end())) throw std::logic_error("values not sorted: " + f.name);
}

std::uint64_t RefRounder::sign_bit() const {
  return format.is_signed ? 1ull << (format.exp_bits + format.man_bits) : 0;
}

std::uint64_t RefRounder::nan_code(bool negative) const {
  const std::uint64_t all_ones = (1ull << (format.exp_bits + format.man_bits)) - 1;
  if (format.nan_at_negative_zero) return sign_bit();
  const std::uint64_t sign = negative ? sign_bit() : 0;
  if (format.nan_at_all_ones) return sign | all_ones;
  // IEEE quiet NaN: all-ones exponent, leading fraction bit set.
  return sign | (((1ull << format.exp_bits) - 1) << format.man_bits) | (1ull << (format.man_bits - 1));
}

std::uint64_t RefRounder::inf_code(bool negative) const {
  return (negative ? sign_bit() : 0) | (((1ull << format.exp_bits) - 1) << format.man_bits);
}

std::uint64_t RefRounder::round(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                                std::uint32_t random) const {
  const bool negative = x < 0 || (x == 0 && negative_zero);
  const Rational a = x < 0 ? Rational(-x) : x;
  const std::uint64_t sign = negative ? sign_bit() : 0;
  const bool has_zero = !format.exponent_zero_is_normal;
  if (!format.is_signed && negative && x != 0) return nan_code(false);
  if (x == 0) {
    if (!has_zero) return nan_code(false);
    return format.nan_at_negative_zero || !format.is_signed ? 0 : sign;
  }
  // Neighbours: values[i] <= a < values[i + 1].
  const auto it = std::upper_bound(values.begin(), values.end(), a);
  const Rational& max = values.back();
  auto with_sign = [&](std::uint64_t magnitude_code) {
    if (magnitude_code == 0 && (format.nan_at_negative_zero || !format.is_signed)) return std::uint64_t{0};
    return sign | magnitude_code;
  };
  if (it == values.begin()) {  // below the smallest value: only e8m0 (no zero)
    return with_sign(codes.front());
  }
  const std::size_t i = static_cast<std::size_t>(it - values.begin()) - 1;
  if (values[i] == a) return with_sign(codes[i]);
  // The next value up; past max it is the first value of the next binade (unbounded exponent range).
  const Rational low = values[i];
  const Rational high = (i + 1 < values.size()) ? values[i + 1] : max + (max - values[values.size() - 2]);
  const bool low_is_even = (codes[i] & 1) == 0 && format.man_bits > 0;
  bool up = false;
  const Rational mid = (low + high) / 2;
  switch (mode) {
    case Rounding::nearest_even:
      // With no fraction bits (e8m0) both neighbours have an odd significand: ties go up (as ml_dtypes).
      up = a > mid || (a == mid && !low_is_even);
      break;
    case Rounding::nearest_away: up = a >= mid; break;
    case Rounding::toward_zero: up = false; break;
    case Rounding::up: up = !negative; break;
    case Rounding::down: up = negative; break;
    case Rounding::odd:
      // The last significand bit is forced to 1; with no fraction bits that bit is the implicit one.
      up = format.man_bits > 0 && (codes[i] & 1) == 0;
      break;
    case Rounding::stochastic: {
      // Up with probability floor((a - low) / (high - low) * 2^32) / 2^32, the engine's documented rule.
      const Rational fraction = (a - low) / (high - low) * pow2(32);
      const BigInt scaled = numerator(fraction) / denominator(fraction);
      up = BigInt(random) + scaled >= (BigInt(1) << 32);
      break;
    }
  }
  if (!up) return with_sign(codes[i]);
  if (i + 1 < values.size()) return with_sign(codes[i + 1]);
  // Overflow past the largest finite value.
  const bool to_infinity = mode == Rounding::nearest_even || mode == Rounding::nearest_away ||
                           mode == Rounding::stochastic || (mode == Rounding::up && !negative) ||
                           (mode == Rounding::down && negative);
  if (policy == Policy::saturate || !to_infinity) return with_sign(codes.back());
  if (format.has_inf) return inf_code(negative);
  if (format.nan_at_all_ones || format.nan_at_negative_zero) return nan_code(negative);
  return with_sign(codes.back());
}

}  // namespace lowbit::test
