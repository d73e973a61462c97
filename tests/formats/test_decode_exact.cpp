// Every code of every float format up to 16 bits decodes to the exact value the format's specification
// gives, computed with Boost.Multiprecision rationals (reference.cpp), through the runtime registry and
// through the compile-time Float<S> alike.
#include <catch2/catch.hpp>

#include "lowbit/formats/float.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using lowbit::test::RefValue;

namespace {

void check_matches_reference(const test::RefFormat& ref, std::uint64_t code, const Unpacked& got) {
  const RefValue want = test::ref_decode(ref, code);
  INFO(ref.name << " code " << code);
  switch (want.kind) {
    case RefValue::Kind::nan:
      CHECK(got.kind == Unpacked::Kind::nan);
      break;
    case RefValue::Kind::inf:
      CHECK(got.kind == Unpacked::Kind::inf);
      CHECK(got.negative == want.negative);
      break;
    case RefValue::Kind::finite:
      REQUIRE((got.kind == Unpacked::Kind::finite || got.kind == Unpacked::Kind::zero));
      CHECK(test::to_rational(got) == want.value);
      CHECK(got.negative == want.negative);
      break;
  }
}

template <typename F>
void check_template_decodes(const std::string& name) {
  const auto& ref = test::ref_format(name);
  for (std::uint64_t code = 0; code < (1ull << ref.bits()); ++code) {
    check_matches_reference(ref, code, F::from_bits(code).unpacked());
  }
}

}  // namespace

TEST_CASE("every code of every format up to 16 bits decodes to its exact specified value", "[formats]") {
  for (const auto& ref : test::ref_formats()) {
    const Format format = find_format(ref.name);
    REQUIRE(format.bits() == ref.bits());
    for (std::uint64_t code = 0; code < (1ull << ref.bits()); ++code) {
      check_matches_reference(ref, code, format.unpack(code));
    }
  }
}

TEST_CASE("Float<S> aliases decode like the specification", "[formats]") {
  check_template_decodes<float16>("float16");
  check_template_decodes<bfloat16>("bfloat16");
  check_template_decodes<float8_e4m3fn>("float8_e4m3fn");
  check_template_decodes<float8_e4m3>("float8_e4m3");
  check_template_decodes<float8_e4m3fnuz>("float8_e4m3fnuz");
  check_template_decodes<float8_e4m3b11fnuz>("float8_e4m3b11fnuz");
  check_template_decodes<float8_e5m2>("float8_e5m2");
  check_template_decodes<float8_e5m2fnuz>("float8_e5m2fnuz");
  check_template_decodes<float8_e3m4>("float8_e3m4");
  check_template_decodes<float6_e2m3fn>("float6_e2m3fn");
  check_template_decodes<float6_e3m2fn>("float6_e3m2fn");
  check_template_decodes<float4_e2m1fn>("float4_e2m1fn");
  check_template_decodes<float8_e8m0fnu>("float8_e8m0fnu");
}

TEST_CASE("well-known limits of the formats", "[formats]") {
  CHECK(float8_e4m3fn::max().to_double() == 448.0);
  CHECK(float8_e5m2::max().to_double() == 57344.0);
  CHECK(float8_e4m3::max().to_double() == 240.0);
  CHECK(float8_e4m3fnuz::max().to_double() == 240.0);
  CHECK(float8_e5m2fnuz::max().to_double() == 57344.0);
  CHECK(float8_e4m3b11fnuz::max().to_double() == 30.0);
  CHECK(float8_e3m4::max().to_double() == 15.5);
  CHECK(float6_e2m3fn::max().to_double() == 7.5);
  CHECK(float6_e3m2fn::max().to_double() == 28.0);
  CHECK(float4_e2m1fn::max().to_double() == 6.0);
  CHECK(float8_e8m0fnu::max().to_double() == 0x1p127);
  CHECK(float8_e8m0fnu::min_normal().to_double() == 0x1p-127);
  CHECK(float16::max().to_double() == 65504.0);
  CHECK(float16::min_subnormal().to_double() == 0x1p-24);
  CHECK(float16::min_normal().to_double() == 0x1p-14);
  CHECK(float16::epsilon().to_double() == 0x1p-10);
  CHECK(bfloat16::epsilon().to_double() == 0x1p-7);
  CHECK(float8_e4m3fn::min_subnormal().to_double() == 0x1p-9);
  CHECK(float8_e8m0fnu::epsilon().to_double() == 1.0);
  CHECK(float4_e2m1fn::epsilon().to_double() == 0.5);
  STATIC_REQUIRE(float8_e4m3fn::max().bits() == 0x7e);
  STATIC_REQUIRE(float8_e5m2::infinity().bits() == 0x7c);
}

TEST_CASE("bit patterns wider than the format are rejected with the pattern in the message", "[formats]") {
  CHECK_THROWS_WITH(find_format("e4m3fn").unpack(0x1ff),
                    Catch::Contains("0x1ff") && Catch::Contains("8 bits"));
  CHECK_THROWS_AS(float4_e2m1fn::from_bits(0x10), RangeError);
  CHECK_THROWS_AS((Int<4>::from_bits(0x10)), RangeError);
}
