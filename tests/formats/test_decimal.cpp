// Decimal output. exact_decimal: every code of every format up to 16 bits prints its exact value, as
// computed independently by long division of the Boost rational (reference.cpp), in the documented layout
// (positional for decimal exponents in [-7, 21), else d.ddd...e+-N). shortest_decimal: reads back to the
// same code (read by the tests' own decimal parser and the table reference), no string of one digit fewer
// reads back, and among equally short strings it is the nearest; for fp32 and fp64 it matches the
// independent std::to_chars (libstdc++'s Ryu) digit for digit.
#include <catch2/catch.hpp>

#include <bit>
#include <charconv>
#include <random>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "input_patterns.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Significant digits and the decimal exponent of the first, from scientific text "d.ddde+N".
struct Scientific {
  std::string digits;
  long exponent;
};

Scientific scientific_of(const Rational& magnitude) {
  const std::string text = exact_decimal_text(magnitude, true);
  const std::size_t e = text.find('e');
  std::string digits = text.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // the point
  return {digits, std::stol(text.substr(e + 1))};
}

// The documented layout of exact_decimal, built from the reference's digits.
std::string expected_exact_decimal(const RefValue& v) {
  switch (v.kind) {
    case RefValue::Kind::nan:
      return v.negative ? "-nan" : "nan";
    case RefValue::Kind::inf:
      return v.negative ? "-inf" : "inf";
    case RefValue::Kind::finite:
      break;
  }
  if (v.value == 0) return v.negative ? "-0" : "0";
  const Rational magnitude = v.value < 0 ? Rational(-v.value) : v.value;
  const long exponent = scientific_of(magnitude).exponent;
  const bool positional = exponent >= -7 && exponent < 21;
  // fmt rather than string concatenation, which g++ 12 misreports here (-Wrestrict).
  return fmt::format("{}{}", v.negative ? "-" : "", exact_decimal_text(magnitude, !positional));
}

// Significant digits of decimal text (as a person counts them: no leading or trailing zeros).
std::size_t significant_digits(const std::string& text) {
  std::string digits;
  for (const char c : text.substr(0, text.find('e'))) {
    if (c >= '0' && c <= '9') digits += c;
  }
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 1;
  const std::size_t last = digits.find_last_not_of('0');
  return last - first + 1;
}

// The p-significant-digit decimals on either side of |value| (the only ones that could read back).
std::pair<Rational, Rational> neighbours_with_digits(const Rational& magnitude, long p) {
  const long exponent = scientific_of(magnitude).exponent;
  const long q_exp = exponent - p + 1;
  const BigInt ten_power = boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(std::labs(q_exp)));
  const Rational quantum = q_exp >= 0 ? Rational(ten_power) : Rational(BigInt(1), ten_power);
  const Rational scaled = magnitude / quantum;
  const BigInt low = numerator(scaled) / denominator(scaled);
  return {Rational(low) * quantum, Rational(low + 1) * quantum};
}

// Checks shortest_decimal(code) against the definition, with the table reference reading back.
void check_shortest(const Format& format, const RefRounder& ref, std::uint64_t code, CheckLog& log) {
  const RefValue v = ref_decode(ref.format, code);
  const std::string text = shortest_decimal(format, code);
  log.count_check();
  if (v.kind != RefValue::Kind::finite || v.value == 0) {
    if (text != expected_exact_decimal(v)) log.add(fmt::format("{:#x}: '{}'", code, text));
    return;
  }
  const bool negative = v.value < 0;
  auto reads_back = [&](const Rational& magnitude) {
    return ref.round(negative ? Rational(-magnitude) : magnitude, false, Rounding::nearest_even,
                     Policy::ieee) == code;
  };
  const Rational shown = rational_of_decimal(text);
  const Rational magnitude = negative ? Rational(-v.value) : v.value;
  const Rational shown_magnitude = shown < 0 ? Rational(-shown) : shown;
  if ((shown < 0) != negative || !reads_back(shown_magnitude)) {
    log.add(fmt::format("{} {:#x}: '{}' does not read back", format.name(), code, text));
    return;
  }
  const long p = static_cast<long>(significant_digits(text));
  if (p > 1) {
    const auto [low, high] = neighbours_with_digits(magnitude, p - 1);
    if (reads_back(low) || reads_back(high)) {
      log.add(fmt::format("{} {:#x}: '{}' is not shortest ({} digits read back)", format.name(), code, text,
                          p - 1));
    }
  }
  const auto [low, high] = neighbours_with_digits(magnitude, p);
  for (const Rational& other : {low, high}) {
    if (other == shown_magnitude || !reads_back(other)) continue;
    const Rational mine = shown_magnitude > magnitude ? Rational(shown_magnitude - magnitude)
                                                      : Rational(magnitude - shown_magnitude);
    const Rational theirs = other > magnitude ? Rational(other - magnitude) : Rational(magnitude - other);
    if (theirs < mine) {
      log.add(fmt::format("{} {:#x}: '{}' is not the nearest of its length ({})", format.name(), code, text,
                          exact_decimal_text(other)));
    }
  }
}

// Digits and exponent of a decimal string with leading and trailing zeros stripped, for comparing two
// spellings of one number.
std::pair<std::string, long> normalized(const std::string& text) {
  const Rational r = rational_of_decimal(text);
  if (r == 0) return {"0", 0};
  const Scientific s = scientific_of(r < 0 ? Rational(-r) : r);
  return {(r < 0 ? "-" : "") + s.digits, s.exponent};
}

template <typename T>
std::string to_chars_shortest(T x) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific);
  return std::string(buffer, result.ptr);
}

void check_against_to_chars_float(std::uint32_t bits, const Format& format, CheckLog& log) {
  const float x = std::bit_cast<float>(bits);
  if (!std::isfinite(x) || x == 0) return;
  const std::string mine = shortest_decimal(format, bits);
  const std::string theirs = to_chars_shortest(x);
  log.count_check();
  float back = 0;
  std::from_chars(mine.data(), mine.data() + mine.size(), back);
  if (normalized(mine) != normalized(theirs) || std::bit_cast<std::uint32_t>(back) != bits) {
    log.add(fmt::format("fp32 {:#x}: lowbit '{}', to_chars '{}'", bits, mine, theirs));
  }
}

}  // namespace

TEST_CASE("exact_decimal of every code of every format up to 16 bits is its exact expansion", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const Format format = find_format(f.name);
    CheckLog log;
    // bfloat16's 2^-133 needs 133 decimal places: its exhaustive run is in the slow test; here a sample.
    const std::uint64_t step = f.name == "bfloat16" ? 7 : 1;
    for (std::uint64_t code = 0; code < (1ull << f.bits()); code += step) {
      const std::string got = exact_decimal(format.unpack(code));
      const std::string want = expected_exact_decimal(ref_decode(f, code));
      log.count_check();
      if (got != want) log.add(fmt::format("{:#x}: got {} expected {}", code, got, want));
    }
    INFO(f.name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("exact_decimal of every bfloat16 code is its exact expansion", "[formats][slow]") {
  const RefFormat& f = ref_format("bfloat16");
  const Format format = find_format(f.name);
  CheckLog log;
  for (std::uint64_t code = 0; code < (1ull << 16); ++code) {
    const std::string got = exact_decimal(format.unpack(code));
    const std::string want = expected_exact_decimal(ref_decode(f, code));
    log.count_check();
    if (got != want) log.add(fmt::format("{:#x}: got {} expected {}", code, got, want));
  }
  INFO(log.summary());
  CHECK(log.count() == 0);
}

TEST_CASE("exact_decimal spells well-known values as documented", "[formats]") {
  CHECK(exact_decimal(find_format("e4m3fn").unpack(0x7e)) == "448");
  CHECK(exact_decimal(find_format("e4m3fn").unpack(0x01)) == "0.001953125");
  CHECK(exact_decimal(find_format("e4m3fn").unpack(0xff)) == "-nan");
  CHECK(exact_decimal(find_format("e4m3fn").unpack(0x80)) == "-0");
  CHECK(exact_decimal(find_format("fp16").unpack(0x0001)) == "5.9604644775390625e-8");
  CHECK(exact_decimal(find_format("fp16").unpack(0xfc00)) == "-inf");
  CHECK(exact_decimal(find_format("e8m0").unpack(0xfe)) == "1.70141183460469231731687303715884105728e+38");
  CHECK(exact_decimal(unpack_float64(1e20)) == "100000000000000000000");
  CHECK(exact_decimal(unpack_float64(1e21)) == "1e+21");
  CHECK(exact_decimal(unpack_float64(1e-7)) ==
        "9.99999999999999954748111825886258685613938723690807819366455078125e-8");
  CHECK(exact_decimal(unpack_float64(0x1p-23)) == "0.00000011920928955078125");
  CHECK(exact_decimal(unpack_float64(0.1)) == "0.1000000000000000055511151231257827021181583404541015625");
}

TEST_CASE("shortest_decimal of every code of the narrow formats reads back and is shortest and nearest",
          "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const Format format = find_format(f.name);
    const RefRounder& ref = ref_rounder(f.name);
    CheckLog log;
    // 16-bit formats: every 61st code here, all of them in the slow test.
    const std::uint64_t step = f.bits() > 8 ? 61 : 1;
    for (std::uint64_t code = 0; code < (1ull << f.bits()); code += step)
      check_shortest(format, ref, code, log);
    INFO(f.name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("shortest_decimal of every 16-bit code reads back and is shortest and nearest", "[formats][slow]") {
  for (const char* name : {"float16", "bfloat16"}) {
    const Format format = find_format(name);
    const RefRounder& ref = ref_rounder(name);
    CheckLog log;
    for (std::uint64_t code = 0; code < (1ull << 16); ++code) check_shortest(format, ref, code, log);
    INFO(name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("shortest_decimal of fp32 and fp64 matches std::to_chars digit for digit", "[formats]") {
  std::mt19937_64 rng(42);
  const Format f32 = find_format("float32");
  CheckLog log32;
  InputGenerator gen(target_range(ref_float32()), 43);
  for (int i = 0; i < 3000; ++i) check_against_to_chars_float(static_cast<std::uint32_t>(rng()), f32, log32);
  for (int i = 0; i < 3000; ++i)
    check_against_to_chars_float(std::bit_cast<std::uint32_t>(gen.next_float()), f32, log32);
  // Powers of two (asymmetric rounding intervals) and the extremes.
  for (std::uint32_t e = 1; e < 255; ++e) check_against_to_chars_float(e << 23, f32, log32);
  for (const std::uint32_t bits :
       {0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x3f800001u, 0x4b7fffffu})
    check_against_to_chars_float(bits, f32, log32);
  INFO(log32.summary());
  CHECK(log32.count() == 0);

  const Format f64 = find_format("float64");
  CheckLog log64;
  auto check64 = [&](std::uint64_t bits) {
    const double x = std::bit_cast<double>(bits);
    if (!std::isfinite(x) || x == 0) return;
    const std::string mine = shortest_decimal(f64, bits);
    const std::string theirs = to_chars_shortest(x);
    log64.count_check();
    double back = 0;
    std::from_chars(mine.data(), mine.data() + mine.size(), back);
    if (normalized(mine) != normalized(theirs) || std::bit_cast<std::uint64_t>(back) != bits) {
      log64.add(fmt::format("fp64 {:#x}: lowbit '{}', to_chars '{}'", bits, mine, theirs));
    }
  };
  for (int i = 0; i < 600; ++i) check64(rng());
  for (std::uint64_t e = 1; e < 2047; e += 13) check64(e << 52);
  for (const double x : {0x1p-1074, 0x0.fffffffffffffp-1022, 0x1p-1022, 0x1.fffffffffffffp1023, 0.1, 1e23,
                         5e-324, 9007199254740993.0, 0.3, 2.0 / 3.0})
    check64(std::bit_cast<std::uint64_t>(x));
  INFO(log64.summary());
  CHECK(log64.count() == 0);
}

TEST_CASE("shortest_decimal of many fp32 values matches std::to_chars", "[formats][slow]") {
  std::mt19937_64 rng(4242);
  const Format f32 = find_format("float32");
  CheckLog log;
  for (int i = 0; i < 100000; ++i) check_against_to_chars_float(static_cast<std::uint32_t>(rng()), f32, log);
  INFO(log.summary());
  CHECK(log.count() == 0);
}
