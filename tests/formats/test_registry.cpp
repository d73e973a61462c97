// The runtime registry: every ml_dtypes (and numpy) name and every documented alias finds the format the
// specifications describe, case-insensitively; the integer and fixed-point families parse within their
// limits; unknown names throw UnknownFormatError naming the input and suggesting the nearest names; and
// convert() between any two registered formats is one rounding (against the table reference).
#include <catch2/catch.hpp>

#include <set>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string mixed(std::string s) {
  for (std::size_t i = 0; i < s.size(); i += 2)
    s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
  return s;
}

// The float format's spec in the words of reference.cpp.
void check_float_spec(const Format& format, const RefFormat& f) {
  INFO(format.name());
  REQUIRE(format.is_float());
  const FloatSpec& s = format.float_spec();
  CHECK(s.exp_bits == f.exp_bits);
  CHECK(s.man_bits == f.man_bits);
  CHECK(s.bias == f.bias);
  CHECK(s.is_signed == f.is_signed);
  CHECK(s.has_inf() == f.has_inf);
  CHECK(s.has_nan() == (f.ieee_nans || f.nan_at_all_ones || f.nan_at_negative_zero));
  CHECK(s.has_negative_zero() == (f.is_signed && !f.nan_at_negative_zero && !f.exponent_zero_is_normal));
  CHECK(s.has_subnormals == !f.exponent_zero_is_normal);
  CHECK(format.bits() == f.bits());
}

}  // namespace

TEST_CASE("every ml_dtypes float name finds the format its specification describes", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    for (const std::string& spelling : {f.name, upper(f.name), mixed(f.name)}) {
      const Format format = find_format(spelling);
      CHECK(format.name() == f.name);
      check_float_spec(format, f);
    }
  }
  check_float_spec(find_format("float32"), ref_float32());
  check_float_spec(find_format("float64"), ref_float64());
}

TEST_CASE("every ml_dtypes and numpy integer name finds its integer format", "[formats]") {
  const std::tuple<const char*, int, bool> names[] = {
      {"int1", 1, true},   {"int2", 2, true},   {"int4", 4, true},     {"int8", 8, true},
      {"int16", 16, true}, {"int32", 32, true}, {"uint1", 1, false},   {"uint2", 2, false},
      {"uint4", 4, false}, {"uint8", 8, false}, {"uint16", 16, false}, {"uint32", 32, false}};
  for (const auto& [name, bits, is_signed] : names) {
    for (const std::string& spelling : {std::string(name), upper(name)}) {
      INFO(spelling);
      const Format format = find_format(spelling);
      CHECK(format.name() == name);
      REQUIRE_FALSE(format.is_float());
      CHECK(format.integer_spec() == IntegerSpec{bits, is_signed});
    }
  }
}

TEST_CASE("every documented alias finds its format in any case", "[formats]") {
  const std::pair<const char*, const char*> aliases[] = {
      {"fp64", "float64"},
      {"f64", "float64"},
      {"double", "float64"},
      {"fp32", "float32"},
      {"f32", "float32"},
      {"float", "float32"},
      {"fp16", "float16"},
      {"f16", "float16"},
      {"half", "float16"},
      {"bf16", "bfloat16"},
      {"e4m3fn", "float8_e4m3fn"},
      {"fp8_e4m3fn", "float8_e4m3fn"},
      {"e4m3", "float8_e4m3fn"},
      {"e4m3_ieee", "float8_e4m3"},
      {"e4m3fnuz", "float8_e4m3fnuz"},
      {"e4m3b11fnuz", "float8_e4m3b11fnuz"},
      {"e5m2", "float8_e5m2"},
      {"fp8_e5m2", "float8_e5m2"},
      {"e5m2fnuz", "float8_e5m2fnuz"},
      {"e3m4", "float8_e3m4"},
      {"e2m3", "float6_e2m3fn"},
      {"fp6_e2m3", "float6_e2m3fn"},
      {"e3m2", "float6_e3m2fn"},
      {"fp6_e3m2", "float6_e3m2fn"},
      {"e2m1", "float4_e2m1fn"},
      {"fp4", "float4_e2m1fn"},
      {"fp4_e2m1", "float4_e2m1fn"},
      {"e8m0", "float8_e8m0fnu"},
      {"e8m0fnu", "float8_e8m0fnu"},
      {"i8", "int8"},
      {"s8", "int8"},
      {"i4", "int4"},
      {"u8", "uint8"},
      {"u4", "uint4"},
      {"i32", "int32"},
      {"u1", "uint1"},
  };
  for (const auto& [alias, name] : aliases) {
    for (const std::string& spelling : {std::string(alias), upper(alias), mixed(alias)}) {
      INFO(spelling);
      CHECK(find_format(spelling).name() == name);
      CHECK(find_format(spelling) == find_format(name));
    }
  }
}

TEST_CASE("the listed formats have unique names and aliases that all find them", "[formats]") {
  std::set<std::string> seen;
  for (const Format& f : listed_formats()) {
    CHECK(seen.insert(f.name()).second);
    CHECK(find_format(f.name()) == f);
    for (const std::string& alias : f.aliases()) {
      INFO(alias);
      CHECK(seen.insert(alias).second);
      CHECK(find_format(alias) == f);
    }
  }
  for (const RefFormat& f : ref_formats()) CHECK(seen.count(f.name) == 1);
}

TEST_CASE("the integer and fixed-point families parse within their limits", "[formats]") {
  using E = IntEncoding;
  const std::pair<const char*, IntegerSpec> families[] = {
      {"int7", {7, true}},
      {"uint13", {13, false}},
      {"smint8", {8, true, 0, E::sign_magnitude}},
      {"SMINT2", {2, true, 0, E::sign_magnitude}},
      {"smint32", {32, true, 0, E::sign_magnitude}},
      {"q3.4", {8, true, 4}},
      {"Q3.4", {8, true, 4}},
      {"uq0.8", {8, false, 8}},
      {"UQ4.4", {8, false, 4}},
      {"q0.0", {1, true, 0}},
      {"q0.31", {32, true, 31}},
      {"q31.0", {32, true, 0}},
      {"uq32.0", {32, false, 0}},
      {"uq0.1", {1, false, 1}},
      {"int1", {1, true}},
      {"int32", {32, true}},
      {"uint31", {31, false}},
      {"int3", {3, true}},
  };
  for (const auto& [name, spec] : families) {
    INFO(name);
    const Format format = find_format(name);
    REQUIRE_FALSE(format.is_float());
    CHECK(format.integer_spec() == spec);
    CHECK(format.bits() == spec.bits);
  }
  for (const char* bad :
       {"int0",  "int33", "uint0",  "uint33",  "smint1", "smint33", "smint0", "q-1.4", "q3.-4", "q31.1",
        "q32.0", "uq0.0", "uq33.0", "uq16.17", "q3.",    "q.4",     "q3.4.5", "qx.y",  "q3",    "int",
        "uint",  "smint", "int 7",  "int7 ",   "",       "int-1",   "uint+4", "int4x", "float8"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(find_format(bad), UnknownFormatError);
  }
}

TEST_CASE("unknown names throw UnknownFormatError naming the input and suggesting near names", "[formats]") {
  // Suggestions name formats by their ml_dtypes names (found through any of their names).
  const std::pair<const char*, const char*> cases[] = {
      {"e4m3fm", "float8_e4m3fn"}, {"E4M3FM", "float8_e4m3fn"}, {"bfloat15", "bfloat16"},
      {"flaot32", "float32"},      {"fp8_e5m3", "float8_e5m2"}, {"float8_e4m3fnz", "float8_e4m3fn"},
      {"halff", "float16"},        {"uint64", "uint4"},
  };

  for (const auto& [name, suggestion] : cases) {
    INFO(name);
    try {
      find_format(name);
      FAIL("accepted");
    } catch (const UnknownFormatError& e) {
      CHECK_THAT(e.what(), Catch::Contains("'" + std::string(name) + "'"));
      CHECK_THAT(e.what(), Catch::Contains(suggestion));
    }
  }
  CHECK_THROWS_AS(find_format("nope"), Error);  // one hierarchy
}

TEST_CASE("codes wider than the format are rejected with the pattern and the format named", "[formats]") {
  CHECK_THROWS_WITH(find_format("fp16").unpack(0x10000),
                    Catch::Contains("0x10000") && Catch::Contains("float16"));
  CHECK_THROWS_AS(find_format("int4").unpack(0x10), RangeError);
  CHECK_THROWS_AS(find_format("q3.4").unpack(0x100), RangeError);
  CHECK_NOTHROW(find_format("uint32").unpack(0xffffffff));
}

TEST_CASE("convert between registered formats rounds once in every mode", "[formats]") {
  // Every code of the source, through its exact value (the reference decoder), into the target.
  const std::pair<const char*, const char*> pairs[] = {
      {"float16", "float8_e4m3fn"},           {"bfloat16", "float8_e5m2"},
      {"float8_e5m2", "float4_e2m1fn"},       {"float8_e4m3fn", "float8_e8m0fnu"},
      {"float8_e3m4", "float6_e3m2fn"},       {"float8_e4m3fnuz", "float16"},
      {"float6_e2m3fn", "float8_e4m3b11fnuz"}};
  for (const auto& [from_name, to_name] : pairs) {
    const Format from = find_format(from_name), to = find_format(to_name);
    const RefFormat& source = ref_format(from_name);
    const RefRounder& ref = ref_rounder(to_name);
    CheckLog log;
    const bool wide = source.bits() > 8;
    for (std::uint64_t code = 0; code < (1ull << source.bits()); code += wide ? 5 : 1) {
      const RefValue v = ref_decode(source, code);
      if (v.kind != RefValue::Kind::finite) continue;  // non-finite inputs: test_flags.cpp
      const RefRounder::Location at = ref.locate(v.value, v.negative);
      for (const ModeCase& c : mode_cases(0x31415926, 0x27182818)) {
        for (const Policy policy : kPolicies) {
          Flags flags;
          const std::uint64_t got = convert(from, to, code, {c.mode, policy, c.random}, &flags);
          const RefRounded want = ref.round_at(at, c.mode, policy, c.random);
          log.count_check();
          if (got != want.code || flags != want.flags) {
            log.add(fmt::format("{} {:#x} -> {} [{}]: got {:#x} ({}) want {:#x} ({})", from_name, code,
                                to_name, options_text(c.mode, policy, c.random), got, flags_text(flags),
                                want.code, flags_text(want.flags)));
          }
        }
      }
    }
    INFO(log.summary());
    CHECK(log.count() == 0);
  }
  // Integers and fixed point into floats and back.
  const Format int8 = find_format("int8"), e4m3 = find_format("e4m3fn"), q34 = find_format("q3.4");
  const RefRounder& e4m3_ref = ref_rounder("float8_e4m3fn");
  for (std::uint64_t code = 0; code < 256; ++code) {
    INFO(code);
    const auto value = code >= 128 ? static_cast<long>(code) - 256 : static_cast<long>(code);
    CHECK(convert(int8, e4m3, code) == e4m3_ref.round(value, false, Rounding::nearest_even, Policy::ieee));
    CHECK(convert(q34, e4m3, code) ==
          e4m3_ref.round(Rational(value) / 16, false, Rounding::nearest_even, Policy::ieee));
  }
  // 448 into int8: out of range; ieee wraps (448 - 256 = 192 = 0xc0), saturate clamps.
  CHECK(convert(e4m3, int8, 0x7e) == 0xc0);
  CHECK(convert(e4m3, int8, 0x7e, {Rounding::nearest_even, Policy::saturate, 0}) == 0x7f);
  CHECK(convert(e4m3, q34, 0x3c) == 0x18);  // 1.5 -> 24/16
}
