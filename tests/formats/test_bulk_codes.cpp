// Every code of bfloat16, float16, float8_e4m3fn and float8_e5m2 converts in bulk into each of the five
// SIMD formats (float32 and itself included) exactly as the scalar engine converts it, under every
// rounding mode and both policies, on every Highway target this machine runs; and again with MXCSR's
// flush-to-zero and denormals-are-zero set.
#include <catch2/catch.hpp>

#include "test_bulk_support.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

const char* const kSimdFormats[] = {"float32", "bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"};

std::vector<std::uint64_t> every_code(const Format& format) {
  std::vector<std::uint64_t> codes(std::size_t{1} << format.bits());
  for (std::size_t c = 0; c < codes.size(); ++c) codes[c] = c;
  return codes;
}

void check_every_code_from(const char* source, FpEnvironment environment = FpEnvironment::standard) {
  const Format from = find_format(source);
  const std::vector<std::uint64_t> codes = every_code(from);
  for (const char* target : kSimdFormats) {
    const Format to = find_format(target);
    for (const BulkOptions& options : every_mode_and_policy()) {
      const TargetsComparison result = convert_on_every_target(
          from, to, codes, options, scalar_reference(from, to, codes, options), environment);
      INFO(result.report);
      CHECK(result.mismatches == 0);
    }
  }
}

}  // namespace

TEST_CASE("every bfloat16 code converts in bulk like the scalar engine, every mode and policy, every target",
          "[formats]") {
  check_every_code_from("bfloat16");
}

TEST_CASE("every float16 code converts in bulk like the scalar engine, every mode and policy, every target",
          "[formats]") {
  check_every_code_from("float16");
}

TEST_CASE("every float8 code converts in bulk like the scalar engine, every mode and policy, every target",
          "[formats]") {
  check_every_code_from("float8_e4m3fn");
  check_every_code_from("float8_e5m2");
}

TEST_CASE("every fp16 and fp8 code converts in bulk like the scalar engine with MXCSR's FTZ and DAZ set",
          "[formats]") {
  for (const char* source : {"float16", "float8_e4m3fn", "float8_e5m2", "bfloat16"}) {
    check_every_code_from(source, FpEnvironment::flush_denormals);
  }
}
