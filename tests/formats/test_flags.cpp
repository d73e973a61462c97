// Exception flags and non-finite inputs, written out by hand from IEEE 754 and from the rules documented in
// float_engine.hpp: inexact iff the result differs from the exact value (or overflow); underflow iff tiny
// BEFORE rounding (|x| < smallest normal) and inexact; overflow iff the value rounded with an unbounded
// exponent exceeds the largest finite; invalid for NaN into NaN-less formats, signaling NaNs, inf into
// inf-less formats and negative values or zero into unsigned e8m0. Non-finite results do not depend on the
// rounding mode.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

constexpr std::uint8_t kNone = 0, kInexact = Flags::kInexact, kUnderflow = Flags::kUnderflow,
                       kOverflow = Flags::kOverflow, kInvalid = Flags::kInvalid;

// The codes the documented rules give for non-finite inputs, per format, spelled out.
struct NonFiniteRow {
  const char* format;
  std::uint64_t nan_positive, nan_negative;  // quiet NaN in (ieee policy)
  std::uint64_t nan_saturate_positive, nan_saturate_negative;
  bool nan_always_invalid;  // the format has no NaN
  std::uint64_t inf_positive, inf_negative, inf_saturate_positive, inf_saturate_negative;
  bool inf_invalid;  // the format has no inf (or is unsigned and gets -inf)
};

// - Formats with NaN keep the NaN's sign where they can (fnuz has one NaN, 0x80; e8m0 has no sign bit).
// - fp6/fp4 have no NaN: ieee gives zero with the NaN's sign inverted (ml_dtypes), saturate +max (CUDA).
// - inf: inf where the format has it (ieee) or the signed max (saturate); NaN in fn/fnuz formats (ieee)
//   or the signed max (saturate); the signed max in finite-only formats.
const std::vector<NonFiniteRow>& non_finite_rows() {
  static const std::vector<NonFiniteRow> rows = {
      {"float64", 0x7ff8000000000000, 0xfff8000000000000, 0x7ff8000000000000, 0xfff8000000000000, false,
       0x7ff0000000000000, 0xfff0000000000000, 0x7fefffffffffffff, 0xffefffffffffffff, false},
      {"float32", 0x7fc00000, 0xffc00000, 0x7fc00000, 0xffc00000, false, 0x7f800000, 0xff800000, 0x7f7fffff,
       0xff7fffff, false},
      {"float16", 0x7e00, 0xfe00, 0x7e00, 0xfe00, false, 0x7c00, 0xfc00, 0x7bff, 0xfbff, false},
      {"bfloat16", 0x7fc0, 0xffc0, 0x7fc0, 0xffc0, false, 0x7f80, 0xff80, 0x7f7f, 0xff7f, false},
      {"float8_e4m3fn", 0x7f, 0xff, 0x7f, 0xff, false, 0x7f, 0xff, 0x7e, 0xfe, true},
      {"float8_e4m3", 0x7c, 0xfc, 0x7c, 0xfc, false, 0x78, 0xf8, 0x77, 0xf7, false},
      {"float8_e4m3fnuz", 0x80, 0x80, 0x80, 0x80, false, 0x80, 0x80, 0x7f, 0xff, true},
      {"float8_e4m3b11fnuz", 0x80, 0x80, 0x80, 0x80, false, 0x80, 0x80, 0x7f, 0xff, true},
      {"float8_e5m2", 0x7e, 0xfe, 0x7e, 0xfe, false, 0x7c, 0xfc, 0x7b, 0xfb, false},
      {"float8_e5m2fnuz", 0x80, 0x80, 0x80, 0x80, false, 0x80, 0x80, 0x7f, 0xff, true},
      {"float8_e3m4", 0x78, 0xf8, 0x78, 0xf8, false, 0x70, 0xf0, 0x6f, 0xef, false},
      {"float6_e2m3fn", 0x20, 0x00, 0x1f, 0x1f, true, 0x1f, 0x3f, 0x1f, 0x3f, true},
      {"float6_e3m2fn", 0x20, 0x00, 0x1f, 0x1f, true, 0x1f, 0x3f, 0x1f, 0x3f, true},
      {"float4_e2m1fn", 0x8, 0x0, 0x7, 0x7, true, 0x7, 0xf, 0x7, 0xf, true},
      {"float8_e8m0fnu", 0xff, 0xff, 0xff, 0xff, false, 0xff, 0xff, 0xfe, 0xff, true},
  };
  return rows;
}

struct NaNInput {
  std::string what;
  Unpacked value;
  bool signaling;
};

// NaNs from every source: fp64 and fp32 bit patterns with payloads, quiet and signaling, both signs;
// text; and every NaN code of every narrow format (IEEE-style NaNs are signaling when the top fraction
// bit is clear; the fn/fnuz/e8m0 NaNs are quiet).
std::vector<NaNInput> nan_inputs() {
  std::vector<NaNInput> inputs;
  for (const std::uint64_t bits : {0x7ff8000000000000ull, 0x7ff80000deadbeefull, 0x7fffffffffffffffull,
                                   0x7ff0000000000001ull, 0x7ff4000000000000ull, 0x7ff7ffffffffffffull}) {
    for (const std::uint64_t sign : {0ull, 1ull << 63}) {
      const bool signaling = ((bits >> 51) & 1) == 0;
      inputs.push_back({fmt::format("fp64 {:#x}", bits | sign),
                        unpack_float64(std::bit_cast<double>(bits | sign)), signaling});
    }
  }
  for (const std::uint32_t bits : {0x7fc00000u, 0x7fc0beefu, 0x7f800001u, 0x7fa00000u}) {
    for (const std::uint32_t sign : {0u, 1u << 31}) {
      const bool signaling = ((bits >> 22) & 1) == 0;
      inputs.push_back({fmt::format("fp32 {:#x}", bits | sign),
                        unpack_float32(std::bit_cast<float>(bits | sign)), signaling});
    }
  }
  for (const char* text : {"nan", "NaN", "-nan", "+NAN"}) inputs.push_back({text, parse_number(text), false});
  for (const RefFormat& f : ref_formats()) {
    const Format format = find_format(f.name);
    for (std::uint64_t code = 0; code < (1ull << f.bits()); ++code) {
      if (ref_decode(f, code).kind != RefValue::Kind::nan) continue;
      const bool signaling = f.ieee_nans && ((code >> (f.man_bits - 1)) & 1) == 0;
      inputs.push_back({fmt::format("{} {:#x}", f.name, code), format.unpack(code), signaling});
    }
  }
  return inputs;
}

}  // namespace

TEST_CASE("NaN inputs of every source convert by the documented rules in every format mode and policy",
          "[formats]") {
  const std::vector<NaNInput> inputs = nan_inputs();
  for (const NonFiniteRow& row : non_finite_rows()) {
    const Format format = find_format(row.format);
    CheckLog log;
    for (const NaNInput& input : inputs) {
      // The NaN's sign as its source encodes it (fnuz's single NaN 0x80 has the sign bit set).
      const bool negative = input.value.negative;
      const auto want = [&](Rounding, Policy policy, std::uint32_t) {
        RefRounded r;
        if (policy == Policy::ieee) {
          r.code = negative ? row.nan_negative : row.nan_positive;
        } else {
          r.code = negative ? row.nan_saturate_negative : row.nan_saturate_positive;
        }
        if (row.nan_always_invalid || input.signaling) r.flags.raise(kInvalid);
        return r;
      };
      check_every_mode(
          format, input.value, mode_cases(0x12345678, 0xfedcba98), want, [&] { return "NaN " + input.what; },
          log);
    }
    INFO(log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("the NaN's sign comes from its sign bit and fnuz's single NaN is negative", "[formats]") {
  CHECK(find_format("float8_e4m3fnuz").unpack(0x80).negative);
  CHECK(find_format("float8_e5m2fnuz").unpack(0x80).negative);
  CHECK(unpack_float64(-std::nan("")).negative);
  CHECK_FALSE(parse_number("nan").negative);
  CHECK(parse_number("-nan").negative);
}

TEST_CASE("infinities of every source convert by the documented rules in every format mode and policy",
          "[formats]") {
  struct InfInput {
    std::string what;
    Unpacked value;
  };
  std::vector<InfInput> inputs = {
      {"fp64 inf", unpack_float64(INFINITY)}, {"fp64 -inf", unpack_float64(-INFINITY)},
      {"fp32 inf", unpack_float32(INFINITY)}, {"fp32 -inf", unpack_float32(-INFINITY)},
      {"text inf", parse_number("inf")},      {"text -Infinity", parse_number("-Infinity")},
      {"text +INF", parse_number("+INF")}};
  for (const RefFormat& f : ref_formats()) {
    const Format format = find_format(f.name);
    for (std::uint64_t code = 0; code < (1ull << f.bits()); ++code) {
      if (ref_decode(f, code).kind == RefValue::Kind::inf) inputs.push_back({f.name, format.unpack(code)});
    }
  }
  for (const NonFiniteRow& row : non_finite_rows()) {
    const Format format = find_format(row.format);
    CheckLog log;
    for (const InfInput& input : inputs) {
      const bool negative = input.value.negative;
      const auto want = [&](Rounding, Policy policy, std::uint32_t) {
        RefRounded r;
        if (policy == Policy::ieee) {
          r.code = negative ? row.inf_negative : row.inf_positive;
        } else {
          r.code = negative ? row.inf_saturate_negative : row.inf_saturate_positive;
        }
        if (row.inf_invalid) r.flags.raise(kInvalid);
        return r;
      };
      check_every_mode(
          format, input.value, mode_cases(0x12345678, 0xfedcba98), want, [&] { return input.what; }, log);
    }
    INFO(log.summary());
    CHECK(log.count() == 0);
  }
}

namespace {

struct FlagCase {
  const char* format;
  const char* value;  // decimal or hex-float text, parsed exactly
  Rounding mode;
  Policy policy;
  std::uint64_t code;
  std::uint8_t flags;
};

// Hand-worked cases, one per rule; the comments give the arithmetic.
const FlagCase kFlagCases[] = {
    // e4m3fn: max 448 = 1.110b * 2^8; the next grid value 480 (1.111b * 2^8) is NaN's code.
    {"float8_e4m3fn", "448", Rounding::nearest_even, Policy::ieee, 0x7e, kNone},
    {"float8_e4m3fn", "464", Rounding::nearest_even, Policy::ieee, 0x7e, kInexact},  // tie, 448 is even
    {"float8_e4m3fn", "464", Rounding::nearest_away, Policy::ieee, 0x7f, kOverflow | kInexact},
    {"float8_e4m3fn", "464", Rounding::nearest_away, Policy::saturate, 0x7e, kOverflow | kInexact},
    {"float8_e4m3fn", "479", Rounding::toward_zero, Policy::ieee, 0x7e, kInexact},  // rounds to 448 unbounded
    {"float8_e4m3fn", "480", Rounding::toward_zero, Policy::ieee, 0x7e, kOverflow | kInexact},
    {"float8_e4m3fn", "449", Rounding::up, Policy::ieee, 0x7f, kOverflow | kInexact},
    {"float8_e4m3fn", "449", Rounding::odd, Policy::ieee, 0x7e, kOverflow | kInexact},  // odd: 480 > 448
    {"float8_e4m3fn", "-449", Rounding::up, Policy::ieee, 0xfe, kInexact},
    {"float8_e4m3fn", "-449", Rounding::down, Policy::ieee, 0xff, kOverflow | kInexact},
    // Subnormal grid 2^-9; smallest normal 2^-6.
    {"float8_e4m3fn", "0x1p-9", Rounding::nearest_even, Policy::ieee, 0x01, kNone},  // tiny but exact
    {"float8_e4m3fn", "0x1p-10", Rounding::nearest_even, Policy::ieee, 0x00, kUnderflow | kInexact},
    {"float8_e4m3fn", "-0x1p-10", Rounding::nearest_even, Policy::ieee, 0x80, kUnderflow | kInexact},
    {"float8_e4m3fn", "0x1p-10", Rounding::nearest_away, Policy::ieee, 0x01, kUnderflow | kInexact},
    {"float8_e4m3fn", "0x1p-200", Rounding::up, Policy::ieee, 0x01, kUnderflow | kInexact},
    // 2^-6 - 2^-11 = 7.75 * 2^-9 rounds to 2^-6, the smallest normal: tiny before rounding, so underflow
    // (a tininess-after-rounding engine would not raise it).
    {"float8_e4m3fn", "0x1.f0p-7", Rounding::nearest_even, Policy::ieee, 0x08, kUnderflow | kInexact},
    {"float8_e4m3fn", "0x1.f0p-7", Rounding::up, Policy::ieee, 0x08, kUnderflow | kInexact},
    {"float8_e4m3fn", "0x1.c0p-7", Rounding::nearest_even, Policy::ieee, 0x07, kNone},  // 7 * 2^-9 exact
    // e5m2 (IEEE-style): 61440 is the tie between max 57344 (odd significand) and 65536.
    {"float8_e5m2", "61440", Rounding::nearest_even, Policy::ieee, 0x7c, kOverflow | kInexact},
    {"float8_e5m2", "61440", Rounding::nearest_even, Policy::saturate, 0x7b, kOverflow | kInexact},
    {"float8_e5m2", "61439", Rounding::nearest_even, Policy::ieee, 0x7b, kInexact},
    {"float8_e5m2", "1e9", Rounding::toward_zero, Policy::ieee, 0x7b, kOverflow | kInexact},
    {"float8_e5m2", "-1e9", Rounding::up, Policy::ieee, 0xfb, kOverflow | kInexact},
    // fnuz: no -0, so negative values rounding to zero give +0.
    {"float8_e4m3fnuz", "-0x1p-20", Rounding::nearest_even, Policy::ieee, 0x00, kUnderflow | kInexact},
    {"float8_e4m3fnuz", "-0", Rounding::nearest_even, Policy::ieee, 0x00, kNone},
    {"float8_e4m3fnuz", "241", Rounding::nearest_even, Policy::ieee, 0x7f, kInexact},
    {"float8_e4m3fnuz", "248", Rounding::nearest_even, Policy::ieee, 0x80, kOverflow | kInexact},
    // fp4 e2m1: values 0 0.5 1 1.5 2 3 4 6; no NaN or inf, so overflow clamps in both policies.
    {"float4_e2m1fn", "7", Rounding::nearest_even, Policy::ieee, 0x7, kOverflow | kInexact},  // tie, 6 is odd
    {"float4_e2m1fn", "6.9", Rounding::nearest_even, Policy::ieee, 0x7, kInexact},
    {"float4_e2m1fn", "5", Rounding::nearest_even, Policy::ieee, 0x6, kInexact},
    {"float4_e2m1fn", "0.25", Rounding::nearest_even, Policy::ieee, 0x0, kUnderflow | kInexact},
    {"float4_e2m1fn", "0.75", Rounding::nearest_even, Policy::ieee, 0x2, kUnderflow | kInexact},
    {"float4_e2m1fn", "-100", Rounding::nearest_even, Policy::ieee, 0xf, kOverflow | kInexact},
    // e8m0: powers of two 2^-127..2^127, no zero, no sign; nearest ties go up.
    {"float8_e8m0fnu", "0", Rounding::nearest_even, Policy::ieee, 0xff, kInvalid},
    {"float8_e8m0fnu", "-0", Rounding::nearest_even, Policy::ieee, 0xff, kInvalid},
    {"float8_e8m0fnu", "-1", Rounding::nearest_even, Policy::saturate, 0xff, kInvalid},
    {"float8_e8m0fnu", "0x1p-128", Rounding::nearest_even, Policy::ieee, 0x00, kUnderflow | kInexact},
    {"float8_e8m0fnu", "0x1p-128", Rounding::toward_zero, Policy::ieee, 0x00, kUnderflow | kInexact},
    {"float8_e8m0fnu", "0x1.8p-127", Rounding::nearest_even, Policy::ieee, 0x01, kInexact},  // not tiny
    {"float8_e8m0fnu", "1.5", Rounding::nearest_even, Policy::ieee, 0x80, kInexact},
    {"float8_e8m0fnu", "1.5", Rounding::toward_zero, Policy::ieee, 0x7f, kInexact},
    {"float8_e8m0fnu", "0x1.8p127", Rounding::nearest_even, Policy::ieee, 0xff, kOverflow | kInexact},
    {"float8_e8m0fnu", "0x1.8p127", Rounding::nearest_even, Policy::saturate, 0xfe, kOverflow | kInexact},
    {"float8_e8m0fnu", "0x1.7p127", Rounding::nearest_even, Policy::ieee, 0xfe, kInexact},
    {"float8_e8m0fnu", "0x1.8p127", Rounding::toward_zero, Policy::ieee, 0xfe, kInexact},
    {"float8_e8m0fnu", "0x1p128", Rounding::toward_zero, Policy::ieee, 0xfe, kOverflow | kInexact},
    // float16: 65520 is the tie between 65504 (odd) and 65536; 2^-25 the tie between 0 and 2^-24.
    {"float16", "65520", Rounding::nearest_even, Policy::ieee, 0x7c00, kOverflow | kInexact},
    {"float16", "65519.99", Rounding::nearest_even, Policy::ieee, 0x7bff, kInexact},
    {"float16", "0x1p-25", Rounding::nearest_even, Policy::ieee, 0x0000, kUnderflow | kInexact},
    {"float16", "0x1p-24", Rounding::nearest_even, Policy::ieee, 0x0001, kNone},
    {"float16", "0x1.ff8p-15", Rounding::nearest_even, Policy::ieee, 0x03ff, kNone},  // largest subnormal
    // The tie between the largest subnormal (odd) and the smallest normal: tiny, rounds to a normal.
    {"float16", "0x1.ffcp-15", Rounding::nearest_even, Policy::ieee, 0x0400, kUnderflow | kInexact},
    // float32 from wider values.
    {"float32", "0x1p-150", Rounding::nearest_even, Policy::ieee, 0x00000000, kUnderflow | kInexact},
    {"float32", "0x1.000001p-150", Rounding::nearest_even, Policy::ieee, 0x00000001, kUnderflow | kInexact},
    {"float32", "0x1.fffffffffffffp1023", Rounding::toward_zero, Policy::ieee, 0x7f7fffff,
     kOverflow | kInexact},
    {"float32", "0x1.fffffefp127", Rounding::nearest_even, Policy::ieee, 0x7f7fffff, kInexact},
    {"float32", "0x1.ffffffp127", Rounding::nearest_even, Policy::ieee, 0x7f800000, kOverflow | kInexact},
};

}  // namespace

TEST_CASE("flags follow the IEEE 754 definitions in hand-worked cases", "[formats]") {
  for (const FlagCase& c : kFlagCases) {
    INFO(c.format << " " << c.value << " " << options_text(c.mode, c.policy, 0));
    Flags flags;
    const std::uint64_t code = encode_number(find_format(c.format), c.value, {c.mode, c.policy, 0}, &flags);
    CHECK(code == c.code);
    CHECK(flags_text(flags) == flags_text(Flags(c.flags)));
  }
}

TEST_CASE("the hand-worked flag cases agree with the references", "[formats]") {
  // A check of the references themselves: the definitions they implement give the hand-worked answers.
  for (const FlagCase& c : kFlagCases) {
    const std::string text = c.value;
    const Rational exact = rational_of_text(text);
    const bool negative_zero = text.starts_with('-');
    const RefRounded want =
        std::string(c.format) == "float32"
            ? RefIeeeRounder(ref_float32()).round_with_flags(exact, negative_zero, c.mode, c.policy)
            : ref_rounder(c.format).round_with_flags(exact, negative_zero, c.mode, c.policy);
    INFO(c.format << " " << c.value << " " << options_text(c.mode, c.policy, 0));
    CHECK(want.code == c.code);
    CHECK(flags_text(want.flags) == flags_text(Flags(c.flags)));
  }
}
