#include "block_reference.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <stdexcept>

namespace lowbit::test::block_ref {

namespace {

const RefRounder& rounder(const std::string& name) {
  static std::map<std::string, RefRounder> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, RefRounder(ref_format(name))).first;
  return it->second;
}

Rational abs_of(const Rational& x) {
  return x < 0 ? Rational(-x) : x;
}

BigInt floor_nonnegative(const Rational& a) {
  return numerator(a) / denominator(a);
}

// The element code of a NaN or infinite input, from the engine's documented rules (float_engine.hpp and
// DESIGN.md): NaN stays NaN where the format has one; otherwise saturate gives +max and ieee gives zero
// with the NaN's sign inverted (ml_dtypes). inf: saturate gives the signed max; ieee gives inf, else NaN,
// else the signed max.
std::uint8_t special_float_code(const std::string& element, bool is_nan, bool negative, Policy policy) {
  const RefRounder& r = rounder(element);
  const RefFormat& f = r.format;
  const bool has_nan = f.ieee_nans || f.nan_at_all_ones || f.nan_at_negative_zero;
  const std::uint64_t max = r.codes.back();
  std::uint64_t code = 0;
  if (is_nan) {
    if (has_nan)
      code = r.nan_code(negative);
    else
      code = policy == Policy::saturate ? max : (negative ? 0 : r.sign_bit());
  } else if (policy == Policy::saturate || (!f.has_inf && !has_nan)) {
    code = (negative ? r.sign_bit() : 0) | max;
  } else {
    code = f.has_inf ? r.inf_code(negative) : r.nan_code(negative);
  }
  return static_cast<std::uint8_t>(code);
}

// MXINT8 elements: the OCP reference code's sign-magnitude rounding to a multiple of 2^-6, clamped to
// +-127/64 whatever the policy, stored in two's complement. That is the integer reference's sign-magnitude
// 1.6 fixed point under saturation (the modes act on the magnitude, directed ones by the sign), re-stored.
std::uint8_t round_int8(const Rational& q, Rounding mode, std::uint32_t random) {
  const RefIntegerFormat sign_magnitude_q1_6{8, true, 6, true};
  const std::uint64_t code =
      ref_integer_round(sign_magnitude_q1_6, q, false, mode, Policy::saturate, random).code;
  const unsigned magnitude = code & 0x7F;
  return static_cast<std::uint8_t>((code & 0x80) ? (256 - magnitude) & 0xFF : magnitude);
}

std::uint8_t round_element(const RefBlockFormat& f, const Rational& q, bool negative_zero, Rounding mode,
                           Policy policy, std::uint32_t random) {
  if (f.element == "int8") return round_int8(q, mode, random);
  return static_cast<std::uint8_t>(rounder(f.element).round(q, negative_zero, mode, policy, random));
}

std::uint8_t special_element(const RefBlockFormat& f, float x, Policy policy) {
  const bool negative = std::signbit(x);
  if (f.element == "int8") return std::isnan(x) ? 0 : (negative ? 0x81 : 0x7F);
  return special_float_code(f.element, std::isnan(x), negative, policy);
}

struct Magnitude {
  Rational finite_amax = 0;
  bool special = false;
};
Magnitude magnitude_of(std::span<const float> values) {
  Magnitude m;
  for (float v : values) {
    if (!std::isfinite(v)) {
      m.special = true;
    } else {
      m.finite_amax = std::max(m.finite_amax, abs_of(value_of(v).value));
    }
  }
  return m;
}

constexpr std::uint8_t kE4m3One = 0x38;
constexpr std::uint8_t kE4m3Nan = 0x7F;
constexpr std::uint8_t kE8m0Nan = 0xFF;

}  // namespace

const std::vector<RefBlockFormat>& ref_block_formats() {
  // OCP MX v1.0 table of concrete formats (block 32, e8m0 scale; emax_elem from the element tables) and
  // NVIDIA's NVFP4 (block 16, e4m3 scale).
  static const std::vector<RefBlockFormat> formats = {
      {"mxfp8_e4m3", false, 32, "float8_e4m3fn", 8, 8, 8.25},
      {"mxfp8_e5m2", false, 32, "float8_e5m2", 8, 15, 8.25},
      {"mxfp6_e3m2", false, 32, "float6_e3m2fn", 6, 4, 6.25},
      {"mxfp6_e2m3", false, 32, "float6_e2m3fn", 6, 2, 6.25},
      {"mxfp4", false, 32, "float4_e2m1fn", 4, 2, 4.25},
      {"mxint8", false, 32, "int8", 8, 0, 8.25},
      {"nvfp4", true, 16, "float4_e2m1fn", 4, 2, 4.5},
  };
  return formats;
}

const RefBlockFormat& ref_block_format(const std::string& name) {
  for (const auto& f : ref_block_formats())
    if (f.name == name) return f;
  throw std::invalid_argument("no reference block format " + name);
}

long exact_floor_log2(const Rational& a) {
  if (a <= 0) throw std::invalid_argument("exact_floor_log2 of a value <= 0");
  // 2^(bn - bd - 1) < a < 2^(bn - bd + 1) where bn, bd are the highest set bits.
  long e = static_cast<long>(boost::multiprecision::msb(numerator(a))) -
           static_cast<long>(boost::multiprecision::msb(denominator(a)));
  if (a < pow2(e)) e -= 1;
  return e;
}

RefValue value_of(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const bool negative = bits >> 31;
  const std::uint32_t exponent = (bits >> 23) & 0xFF;
  const std::uint32_t fraction = bits & 0x7FFFFF;
  RefValue v;
  v.negative = negative;
  if (exponent == 0xFF) {
    v.kind = fraction == 0 ? RefValue::Kind::inf : RefValue::Kind::nan;
    return v;
  }
  Rational magnitude =
      exponent == 0 ? Rational(BigInt(fraction)) * pow2(-149)
                    : Rational(BigInt(fraction + (1u << 23))) * pow2(static_cast<long>(exponent) - 150);
  v.value = negative ? Rational(-magnitude) : magnitude;
  return v;
}

float round_to_float32(const Rational& x, bool negative_zero) {
  const bool negative = x < 0 || (x == 0 && negative_zero);
  const std::uint32_t sign = negative ? 0x80000000u : 0;
  if (x == 0) return std::bit_cast<float>(sign);
  const Rational a = abs_of(x);
  // The quantum of a's binade (subnormals share the smallest normal binade's quantum 2^-149).
  const long quantum_exp = std::max(exact_floor_log2(a), -126L) - 23;
  const Rational scaled = a / pow2(quantum_exp);
  BigInt m = floor_nonnegative(scaled);
  const Rational fraction = scaled - Rational(m);
  if (fraction > Rational(1, 2) || (fraction == Rational(1, 2) && (m & 1) != 0)) m += 1;
  // m * 2^quantum_exp, m < 2^24 (or == 2^24 after a carry). Build the fields.
  long exponent_of_m = quantum_exp;
  if (m == (BigInt(1) << 24)) {
    m >>= 1;
    exponent_of_m += 1;
  }
  if (m < (BigInt(1) << 23)) return std::bit_cast<float>(sign | static_cast<std::uint32_t>(m));  // subnormal
  const long biased = exponent_of_m + 23 + 127;
  if (biased >= 255) return std::bit_cast<float>(sign | 0x7F800000u);
  const std::uint32_t fraction_bits = static_cast<std::uint32_t>(m - (BigInt(1) << 23));
  return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(biased) << 23) | fraction_bits);
}

float float32_of(const RefValue& v) {
  switch (v.kind) {
    case RefValue::Kind::nan:
      return std::bit_cast<float>(v.negative ? 0xFFC00000u : 0x7FC00000u);
    case RefValue::Kind::inf:
      return std::bit_cast<float>(v.negative ? 0xFF800000u : 0x7F800000u);
    case RefValue::Kind::finite:
      break;
  }
  return round_to_float32(v.value, v.negative);
}

std::optional<long> mx_scale_exponent(const std::optional<Rational>& amax, int emax_elem) {
  if (!amax) return std::nullopt;
  // OCP MX v1.0 6.3: shared_exp = floor(log2(amax)) - emax_elem. The reference code adds 2^-126 to a zero
  // amax, NaN-s exponents above 127 and raises those below -127 to -127.
  const long k = *amax == 0 ? -126L - emax_elem : exact_floor_log2(*amax) - emax_elem;
  if (k > 127) return std::nullopt;
  return std::max(k, -127L);
}

float nvfp4_tensor_scale(std::span<const float> values) {
  const Rational amax = magnitude_of(values).finite_amax;
  const float g = round_to_float32(amax / (6 * 448));
  return g == 0.0f ? std::bit_cast<float>(std::uint32_t{1}) : g;  // at least 2^-149
}

std::uint8_t nvfp4_block_scale_code(const Rational& block_amax, float tensor_scale) {
  if (block_amax == 0) return kE4m3One;  // ModelOpt: "Set all zero values in scale to 1.0"
  const Rational g = value_of(tensor_scale).value;
  return static_cast<std::uint8_t>(
      rounder("float8_e4m3fn").round(block_amax / (6 * g), false, Rounding::nearest_even, Policy::saturate));
}

RefEncoded encode(const RefBlockFormat& f, std::span<const float> values, float tensor_scale, Rounding mode,
                  Policy policy, std::span<const std::uint32_t> random) {
  RefEncoded out;
  out.tensor_scale = f.nvfp4 ? tensor_scale : 1.0f;
  const Rational g = value_of(tensor_scale).value;
  for (std::size_t first = 0; first < values.size(); first += f.block_size) {
    const auto block = values.subspan(first, std::min<std::size_t>(f.block_size, values.size() - first));
    const Magnitude m = magnitude_of(block);
    Rational divisor;  // the elements are x / divisor (divisor 0: the block's scale rounded to zero)
    std::uint8_t scale = 0;
    if (f.nvfp4) {
      scale = nvfp4_block_scale_code(m.finite_amax, tensor_scale);
      divisor = ref_decode(ref_format("float8_e4m3fn"), scale).value * g;
      if (m.special) scale = kE4m3Nan;
    } else {
      const long k = *mx_scale_exponent(m.finite_amax, f.emax_elem);
      divisor = pow2(k);
      scale = m.special ? kE8m0Nan : static_cast<std::uint8_t>(k + 127);
    }
    out.scales.push_back(scale);
    for (std::size_t i = 0; i < block.size(); ++i) {
      const float x = block[i];
      const std::uint32_t r = random.empty() ? 0 : random[first + i];
      if (!std::isfinite(x)) {
        out.codes.push_back(special_element(f, x, policy));
        continue;
      }
      const Rational q = divisor == 0 ? Rational(0) : Rational(value_of(x).value / divisor);
      out.codes.push_back(round_element(f, q, std::signbit(x), mode, policy, r));
    }
  }
  out.packed = pack(out.codes, f.element_bits);
  return out;
}

RefValue decode_element(const RefBlockFormat& f, std::uint8_t scale_code, std::uint8_t code,
                        float tensor_scale) {
  RefValue scale;
  if (f.nvfp4) {
    scale = ref_decode(ref_format("float8_e4m3fn"), scale_code);
    scale.value *= value_of(tensor_scale).value;
  } else if (scale_code == kE8m0Nan) {
    scale.kind = RefValue::Kind::nan;
  } else {
    scale.value = pow2(static_cast<long>(scale_code) - 127);
  }
  if (scale.kind == RefValue::Kind::nan) return scale;
  RefValue element;
  if (f.element == "int8") {
    const int integer = code >= 128 ? static_cast<int>(code) - 256 : code;
    element.value = Rational(integer, 64);
  } else {
    element = ref_decode(ref_format(f.element), code);
  }
  // Scales the encoder writes are positive; a negative e4m3 scale code multiplies as its value does.
  element.negative = element.negative != scale.negative;
  if (element.kind != RefValue::Kind::finite) return element;
  element.value *= scale.value;
  return element;
}

std::vector<std::uint8_t> pack(const std::vector<std::uint8_t>& codes, int bits) {
  std::vector<bool> stream;
  for (std::uint8_t c : codes)
    for (int b = 0; b < bits; ++b) stream.push_back((c >> b) & 1);
  std::vector<std::uint8_t> out((stream.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < stream.size(); ++i)
    if (stream[i]) out[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  return out;
}

std::vector<std::uint8_t> unpack(const std::vector<std::uint8_t>& packed, int bits, std::size_t count) {
  std::vector<std::uint8_t> codes(count, 0);
  for (std::size_t j = 0; j < count; ++j)
    for (int b = 0; b < bits; ++b) {
      const std::size_t i = j * bits + b;
      if ((packed[i / 8] >> (i % 8)) & 1) codes[j] |= static_cast<std::uint8_t>(1u << b);
    }
  return codes;
}

}  // namespace lowbit::test::block_ref
