#include "reference.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
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

const RefRounder& ref_rounder(const std::string& name) {
  static std::map<std::string, std::unique_ptr<RefRounder>> cache;
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<RefRounder>(ref_format(name));
  return *slot;
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
    magnitude =
        (1 + Rational(BigInt(fraction)) / pow2(f.man_bits)) * pow2(static_cast<long>(exponent) - f.bias);
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
  // Past the largest value the grid goes on with its binade's spacing 2^(e - man_bits) (for e8m0, whose
  // neighbours are a binade apart, that is the next power of two, not max + (max - previous)).
  const Rational& max = values.back();
  beyond_max_ = max + pow2(floor_log2(max) - f.man_bits);
  min_normal_ = pow2(f.exponent_zero_is_normal ? -f.bias : 1 - f.bias);
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

namespace {

// IEEE 754 7.4: which overflows give infinity (else the largest finite), by rounding direction.
bool overflow_to_infinity(Rounding mode, bool negative) {
  return mode == Rounding::nearest_even || mode == Rounding::nearest_away || mode == Rounding::stochastic ||
         (mode == Rounding::up && !negative) || (mode == Rounding::down && negative);
}

BigInt floor_of(const Rational& r) {
  BigInt q = numerator(r) / denominator(r);
  if (r < 0 && Rational(q) != r) q -= 1;
  return q;
}

}  // namespace

long floor_log2(const Rational& a) {
  long e = static_cast<long>(boost::multiprecision::msb(numerator(a))) -
           static_cast<long>(boost::multiprecision::msb(denominator(a)));
  // The msb difference is floor(log2) or one more.
  if (a < pow2(e)) e -= 1;
  return e;
}

Rational RefRounder::beyond_max() const {
  return beyond_max_;
}
Rational RefRounder::min_normal() const {
  return min_normal_;
}

RefRounder::Location RefRounder::locate(const Rational& x, bool negative_zero) const {
  Location at;
  at.negative = x < 0 || (x == 0 && negative_zero);
  if (x == 0) {
    at.is_zero = true;
    at.exact = true;
    return at;
  }
  const Rational a = x < 0 ? Rational(-x) : x;
  at.tiny = a < min_normal_;
  const auto it = std::upper_bound(values.begin(), values.end(), a);
  if (it == values.begin()) {
    at.below_smallest = true;
    return at;
  }
  at.index = static_cast<std::size_t>(it - values.begin()) - 1;
  const Rational& low = values[at.index];
  if (low == a) {
    at.exact = true;
    return at;
  }
  const bool last = at.index + 1 == values.size();
  const Rational& high = last ? beyond_max_ : values[at.index + 1];
  at.past_next = last && a >= high;
  const Rational mid = (low + high) / 2;
  at.versus_midpoint = a < mid ? -1 : (a > mid ? 1 : 0);
  at.fraction32 = floor_of((a - low) / (high - low) * pow2(32));
  return at;
}

RefRounded RefRounder::round_at(const Location& at, Rounding mode, Policy policy,
                                std::uint32_t random) const {
  RefRounded r;
  const std::uint64_t sign = at.negative ? sign_bit() : 0;
  auto with_sign = [&](std::uint64_t magnitude_code) {
    if (magnitude_code == 0 && (format.nan_at_negative_zero || !format.is_signed)) return std::uint64_t{0};
    return sign | magnitude_code;
  };
  if (!format.is_signed && at.negative && !at.is_zero) {  // negative into an unsigned format
    r.flags.raise(Flags::kInvalid);
    r.code = nan_code(false);
    return r;
  }
  if (at.is_zero) {
    if (format.exponent_zero_is_normal) {  // no zero to give
      r.flags.raise(Flags::kInvalid);
      r.code = nan_code(false);
    } else {
      r.code = with_sign(0);
    }
    return r;
  }
  if (at.below_smallest) {  // only e8m0: every mode gives the smallest value, there being no zero
    r.flags.raise(Flags::kInexact | Flags::kUnderflow);
    r.code = with_sign(codes.front());
    return r;
  }
  if (at.exact) {
    r.code = with_sign(codes[at.index]);
    return r;
  }
  const std::size_t i = at.index;
  const bool low_is_even = (codes[i] & 1) == 0 && format.man_bits > 0;
  bool up = false;
  switch (mode) {
    case Rounding::nearest_even:
      // With no fraction bits (e8m0) both neighbours have an odd significand: ties go up (as ml_dtypes).
      up = at.versus_midpoint > 0 || (at.versus_midpoint == 0 && !low_is_even);
      break;
    case Rounding::nearest_away:
      up = at.versus_midpoint >= 0;
      break;
    case Rounding::toward_zero:
      up = false;
      break;
    case Rounding::up:
      up = !at.negative;
      break;
    case Rounding::down:
      up = at.negative;
      break;
    case Rounding::odd:
      // The last significand bit is forced to 1; with no fraction bits that bit is the implicit one.
      up = format.man_bits > 0 && (codes[i] & 1) == 0;
      break;
    case Rounding::stochastic:
      // Up with probability floor((a - low) / (high - low) * 2^32) / 2^32, the engine's documented rule.
      up = BigInt(random) + at.fraction32 >= (BigInt(1) << 32);
      break;
  }
  r.flags.raise(Flags::kInexact);
  if (at.tiny) r.flags.raise(Flags::kUnderflow);
  const bool last = i + 1 == values.size();
  if (!(last && (up || at.past_next))) {
    r.code = with_sign(up ? codes[i + 1] : codes[i]);
    return r;
  }
  // The value rounded with an unbounded exponent range lies beyond the largest finite value.
  r.flags.raise(Flags::kOverflow);
  if (policy == Policy::saturate || !overflow_to_infinity(mode, at.negative)) {
    r.code = with_sign(codes.back());
  } else if (format.has_inf) {
    r.code = inf_code(at.negative);
  } else if (format.nan_at_all_ones || format.nan_at_negative_zero) {
    r.code = nan_code(at.negative);
  } else {
    r.code = with_sign(codes.back());
  }
  return r;
}

RefRounded RefRounder::round_with_flags(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                                        std::uint32_t random) const {
  return round_at(locate(x, negative_zero), mode, policy, random);
}

std::uint64_t RefRounder::round(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                                std::uint32_t random) const {
  return round_with_flags(x, negative_zero, mode, policy, random).code;
}

const RefFormat& ref_float32() {
  static const RefFormat f{"float32", 8, 23, 127, true, true, true, false, false, false};
  return f;
}

const RefFormat& ref_float64() {
  static const RefFormat f{"float64", 11, 52, 1023, true, true, true, false, false, false};
  return f;
}

RefIeeeRounder::RefIeeeRounder(const RefFormat& f) : format(f) {
  if (!f.has_inf || !f.ieee_nans || f.exponent_zero_is_normal)
    throw std::logic_error("not IEEE-style: " + f.name);
}

RefIeeeRounder::Location RefIeeeRounder::locate(const Rational& x, bool negative_zero) const {
  Location at;
  at.negative = x < 0 || (x == 0 && negative_zero);
  if (x == 0) {
    at.is_zero = at.exact = true;
    return at;
  }
  const long emin = 1 - format.bias;
  const Rational a = x < 0 ? Rational(-x) : x;
  at.tiny = a < pow2(emin);
  // a = t * 2^quantum_exp with the quantum of a's binade (the subnormal quantum below emin).
  at.quantum_exp = std::max(floor_log2(a), emin) - format.man_bits;
  const Rational t = a / pow2(at.quantum_exp);
  at.k = floor_of(t);
  const Rational fraction = t - Rational(at.k);
  at.exact = fraction == 0;
  const Rational half(1, 2);
  at.versus_half = fraction < half ? -1 : (fraction > half ? 1 : 0);
  at.fraction32 = floor_of(fraction * pow2(32));
  return at;
}

RefRounded RefIeeeRounder::round_at(const Location& at, Rounding mode, Policy policy,
                                    std::uint32_t random) const {
  RefRounded r;
  const int m = format.man_bits;
  const std::uint64_t sign = at.negative ? 1ull << (format.exp_bits + m) : 0;
  if (at.is_zero) {
    r.code = sign;
    return r;
  }
  bool up = false;
  if (!at.exact) {
    switch (mode) {
      case Rounding::nearest_even:
        up = at.versus_half > 0 || (at.versus_half == 0 && bit_test(at.k, 0));
        break;
      case Rounding::nearest_away:
        up = at.versus_half >= 0;
        break;
      case Rounding::toward_zero:
        break;
      case Rounding::up:
        up = !at.negative;
        break;
      case Rounding::down:
        up = at.negative;
        break;
      case Rounding::odd:
        up = !bit_test(at.k, 0);
        break;
      case Rounding::stochastic:
        up = BigInt(random) + at.fraction32 >= (BigInt(1) << 32);
        break;
    }
    r.flags.raise(Flags::kInexact);
    if (at.tiny) r.flags.raise(Flags::kUnderflow);
  }
  const long emin = 1 - format.bias;
  const long emax = (1L << format.exp_bits) - 2 - format.bias;
  const Rational rounded = Rational(at.k + (up ? 1 : 0)) * pow2(at.quantum_exp);
  const Rational max = (pow2(m + 1) - 1) * pow2(emax - m);
  const std::uint64_t max_magnitude = (((1ull << format.exp_bits) - 2) << m) | ((1ull << m) - 1);
  if (rounded > max) {
    r.flags.raise(Flags::kOverflow | Flags::kInexact);
    const bool to_inf = policy == Policy::ieee && overflow_to_infinity(mode, at.negative);
    r.code = sign | (to_inf ? ((1ull << format.exp_bits) - 1) << m : max_magnitude);
    return r;
  }
  if (rounded == 0) {
    r.code = sign;
    return r;
  }
  // Fields of the rounded value: exponent e and significand s with s * 2^(e - m) = rounded.
  const long e = floor_log2(rounded);
  if (e < emin) {  // subnormal: exponent field 0, fraction = rounded / 2^(emin - m)
    const Rational f = rounded / pow2(emin - m);
    r.code = sign | static_cast<std::uint64_t>(numerator(f));
  } else {
    const Rational s = rounded / pow2(e - m) - pow2(m);  // the fraction field
    const std::uint64_t field = static_cast<std::uint64_t>(e + format.bias);
    r.code = sign | (field << m) | static_cast<std::uint64_t>(numerator(s));
  }
  return r;
}

RefRounded RefIeeeRounder::round_with_flags(const Rational& x, bool negative_zero, Rounding mode,
                                            Policy policy, std::uint32_t random) const {
  return round_at(locate(x, negative_zero), mode, policy, random);
}

Rational ref_integer_value(const RefIntegerFormat& f, std::uint64_t code, bool* negative_zero) {
  BigInt integer = code;
  const BigInt top = BigInt(1) << (f.bits - 1);
  bool negative = false;
  if (f.is_signed && f.sign_magnitude) {
    negative = code >> (f.bits - 1) & 1;
    integer = BigInt(code) % top;
    if (negative) integer = -integer;
  } else if (f.is_signed && integer >= top) {
    integer -= BigInt(1) << f.bits;
  }
  if (negative_zero) *negative_zero = negative && integer == 0;
  return Rational(integer) / pow2(f.frac_bits);
}

namespace {

// The code of an integer within the format's range.
std::uint64_t integer_code(const RefIntegerFormat& f, const BigInt& integer, bool negative) {
  if (f.is_signed && f.sign_magnitude) {
    const BigInt magnitude = integer < 0 ? BigInt(-integer) : integer;
    return (negative ? 1ull << (f.bits - 1) : 0) | static_cast<std::uint64_t>(magnitude);
  }
  const BigInt modulus = BigInt(1) << f.bits;
  BigInt wrapped = integer % modulus;
  if (wrapped < 0) wrapped += modulus;
  return static_cast<std::uint64_t>(wrapped);
}

BigInt integer_max(const RefIntegerFormat& f) {
  return f.is_signed ? BigInt((BigInt(1) << (f.bits - 1)) - 1) : BigInt((BigInt(1) << f.bits) - 1);
}

BigInt integer_min(const RefIntegerFormat& f) {
  if (!f.is_signed) return 0;
  return f.sign_magnitude ? BigInt(-integer_max(f)) : BigInt(-(BigInt(1) << (f.bits - 1)));
}

}  // namespace

RefRounded ref_integer_non_finite(const RefIntegerFormat& f, bool is_nan, bool negative, Policy policy) {
  RefRounded r;
  r.flags.raise(Flags::kInvalid);
  if (is_nan) return r;  // 0
  if (policy == Policy::saturate || f.sign_magnitude) {
    r.code = negative ? integer_code(f, integer_min(f), true) : integer_code(f, integer_max(f), false);
  }
  return r;
}

RefRounded ref_integer_round(const RefIntegerFormat& f, const Rational& x, bool negative_zero, Rounding mode,
                             Policy policy, std::uint32_t random) {
  RefRounded r;
  const bool negative = x < 0 || (x == 0 && negative_zero);
  const bool clamp = policy == Policy::saturate || f.sign_magnitude;
  const Rational scaled = x * pow2(f.frac_bits);
  const Rational magnitude = scaled < 0 ? Rational(-scaled) : scaled;
  if (magnitude >= pow2(63)) {  // beyond every format and every wrap
    r.flags.raise(Flags::kInvalid);
    if (clamp) r.code = ref_integer_non_finite(f, false, negative, Policy::saturate).code;
    return r;
  }
  // Round the magnitude: k = floor, fraction = the rest.
  const BigInt k = numerator(magnitude) / denominator(magnitude);
  const Rational fraction = magnitude - Rational(k);
  bool up = false;
  if (fraction != 0) {
    const Rational half(1, 2);
    switch (mode) {
      case Rounding::nearest_even:
        up = fraction > half || (fraction == half && bit_test(k, 0));
        break;
      case Rounding::nearest_away:
        up = fraction >= half;
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
        up = !bit_test(k, 0);
        break;
      case Rounding::stochastic: {
        const Rational scaled_fraction = fraction * pow2(32);
        up = BigInt(random) + numerator(scaled_fraction) / denominator(scaled_fraction) >= (BigInt(1) << 32);
        break;
      }
    }
    r.flags.raise(Flags::kInexact);
  }
  const BigInt rounded_magnitude = k + (up ? 1 : 0);
  const BigInt rounded = negative ? BigInt(-rounded_magnitude) : rounded_magnitude;
  if (rounded > integer_max(f) || rounded < integer_min(f)) {
    r.flags.raise(Flags::kInvalid);
    r.code = clamp ? ref_integer_non_finite(f, false, negative, Policy::saturate).code
                   : integer_code(f, rounded, negative);
    return r;
  }
  r.code = integer_code(f, rounded, negative);
  return r;
}

Rational rational_of(double x) {
  if (x == 0) return 0;
  int e = 0;
  const double m = std::frexp(x, &e);  // x = m * 2^e, 0.5 <= |m| < 1, m * 2^53 an integer
  const auto scaled = static_cast<std::int64_t>(std::ldexp(m, 53));
  return Rational(BigInt(scaled)) * pow2(e - 53);
}

double exact_double(const Rational& x) {
  const BigInt& den = denominator(x);
  const BigInt num = numerator(x) < 0 ? BigInt(-numerator(x)) : numerator(x);
  const long k = static_cast<long>(boost::multiprecision::msb(den));
  if (den != BigInt(1) << k ||
      (num != 0 && boost::multiprecision::msb(num) > 52 + boost::multiprecision::lsb(num)))
    throw std::invalid_argument("not exact in fp64");
  const long shift = num == 0 ? 0 : static_cast<long>(boost::multiprecision::lsb(num));
  const double d =
      std::ldexp(static_cast<double>(static_cast<std::uint64_t>(num >> shift)), static_cast<int>(shift - k));
  return numerator(x) < 0 ? -d : d;
}

Rational rational_of(float x) {
  return rational_of(static_cast<double>(x));
}

Rational rational_of_decimal(const std::string& text) {
  std::size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
  BigInt digits = 0;
  long exponent = 0;
  bool any = false;
  for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos, any = true)
    digits = digits * 10 + (text[pos] - '0');
  if (pos < text.size() && text[pos] == '.') {
    for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos, any = true) {
      digits = digits * 10 + (text[pos] - '0');
      --exponent;
    }
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    exponent += std::stol(text.substr(pos + 1));
    pos = text.size();
  }
  if (!any || pos != text.size()) throw std::invalid_argument("not decimal text: " + text);
  const BigInt scale = boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(std::labs(exponent)));
  Rational r = exponent >= 0 ? Rational(digits * scale) : Rational(digits, scale);
  return negative ? Rational(-r) : r;
}

Rational rational_of_hex(const std::string& text) {
  std::size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
  if (text.compare(pos, 2, "0x") != 0 && text.compare(pos, 2, "0X") != 0)
    throw std::invalid_argument("not hex text: " + text);
  pos += 2;
  BigInt digits = 0;
  long exponent = 0;
  bool fraction = false;
  for (; pos < text.size() && text[pos] != 'p' && text[pos] != 'P'; ++pos) {
    if (text[pos] == '.') {
      fraction = true;
      continue;
    }
    const std::string hex = "0123456789abcdef";
    const std::size_t d = hex.find(static_cast<char>(std::tolower(static_cast<unsigned char>(text[pos]))));
    if (d == std::string::npos) throw std::invalid_argument("not hex text: " + text);
    digits = digits * 16 + static_cast<int>(d);
    if (fraction) exponent -= 4;
  }
  if (pos < text.size()) exponent += std::stol(text.substr(pos + 1));
  const Rational r = Rational(digits) * pow2(exponent);
  return negative ? Rational(-r) : r;
}

Rational rational_of_text(const std::string& text) {
  const bool hex = text.find("0x") != std::string::npos || text.find("0X") != std::string::npos;
  return hex ? rational_of_hex(text) : rational_of_decimal(text);
}

std::string exact_decimal_text(const Rational& x, bool scientific) {
  BigInt den = denominator(x);
  BigInt reduced = den;
  while (reduced % 2 == 0) reduced /= 2;
  while (reduced % 5 == 0) reduced /= 5;
  if (reduced != 1) throw std::invalid_argument("no finite decimal expansion");
  BigInt num = numerator(x);
  const bool negative = num < 0;
  if (negative) num = -num;
  const BigInt integer = num / den;
  BigInt remainder = num % den;
  std::string fraction;
  while (remainder != 0) {  // long division, one digit at a time
    remainder *= 10;
    fraction += static_cast<char>('0' + static_cast<int>(remainder / den));
    remainder %= den;
  }
  const std::string sign = negative ? "-" : "";
  if (!scientific) return sign + integer.str() + (fraction.empty() ? "" : "." + fraction);
  // All significant digits, and the decimal exponent of the first.
  std::string digits = (integer == 0 ? "" : integer.str()) + fraction;
  long exponent = integer == 0 ? -1 : static_cast<long>(integer.str().size()) - 1;
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return sign + "0e+0";
  if (integer == 0) exponent -= static_cast<long>(first);
  digits = digits.substr(first);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = sign + digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  return out + (exponent < 0 ? "e-" : "e+") + std::to_string(std::labs(exponent));
}

}  // namespace lowbit::test
