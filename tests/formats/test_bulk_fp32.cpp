// fp32 sources into the five SIMD formats, under every rounding mode and both policies, on every Highway
// target, against the scalar engine. The edges are the test (SoftFloat's lesson): every exponent, with
// fraction patterns around every possible rounding position (exact ties, ties +- 1 ulp, just below the
// next value, odd and even kept parts, the largest kept parts that reach the overflow thresholds), which
// also covers +-0, subnormal boundaries, max finite values, inf and NaNs with payloads; then weighted
// random inputs in random order, so that SIMD vectors mix lanes of every kind.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "test_bulk_support.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

const char* const kSimdFormats[] = {"float32", "bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"};

// Sorted, so neighbouring lanes share an exponent: whole vectors take the kernels' fast paths where the
// values allow, and the general path elsewhere.
std::vector<std::uint64_t> edge_patterns() {
  std::vector<std::uint64_t> codes;
  for (std::uint32_t sign : {0u, 0x80000000u}) {
    for (std::uint32_t exponent = 0; exponent < 256; ++exponent) {
      for (int r = 1; r <= 23; ++r) {  // the number of fraction bits dropped
        const std::uint32_t full = (1u << (23 - r)) - 1, tie = 1u << (r - 1), below = (1u << r) - 1;
        std::vector<std::uint32_t> kept = {0, 1, 2, 3, 4, 5, 6, 7, full >> 1, (full >> 1) + 1};
        for (std::uint32_t k = 0; k < 4 && k <= full; ++k) kept.push_back(full - k);
        for (std::uint32_t high : kept) {
          if (high > full) continue;
          for (std::uint32_t low : {0u, 1u, tie - 1, tie, tie + 1, below}) {
            codes.push_back(sign | exponent << 23 | high << r | (low & below));
          }
        }
      }
    }
  }
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

// A fraction of 23 bits: random bits, runs of ones and zeros, or a tie / near tie at a random position.
std::uint32_t random_fraction(std::mt19937_64& rng) {
  const std::uint32_t bits = static_cast<std::uint32_t>(rng()) & 0x7fffff;
  const int r = static_cast<int>(rng() % 23) + 1;
  switch (rng() % 4) {
    case 0:
      return bits;
    case 1: {  // a run of ones between two random positions
      const int a = static_cast<int>(rng() % 24), b = static_cast<int>(rng() % 24);
      return ((1u << std::max(a, b)) - 1) & ~((1u << std::min(a, b)) - 1);
    }
    case 2:
      return (bits & ~((1u << r) - 1)) | (1u << (r - 1));  // exact tie at position r
    default: {
      const std::uint32_t tie = (bits & ~((1u << r) - 1)) | (1u << (r - 1));
      return (rng() % 2 ? tie + 1 : tie - 1) & 0x7fffff;  // one ulp of fp32 off the tie
    }
  }
}

// Exponents weighted toward the narrow formats' ranges (fp32 biased exponents 96..160 hold their
// subnormals, normals and overflow thresholds), with the rest of the range, fp32 subnormals and specials.
std::vector<std::uint64_t> weighted_random(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> codes(n);
  for (auto& code : codes) {
    const std::uint32_t sign = rng() % 2 ? 0x80000000u : 0;
    std::uint32_t exponent = 0;
    switch (rng() % 8) {
      case 0:
        exponent = static_cast<std::uint32_t>(rng() % 256);
        break;
      case 1:
        exponent = rng() % 2 ? 0 : 255;
        break;  // fp32 subnormals and zero; inf and NaNs
      default:
        exponent = static_cast<std::uint32_t>(96 + rng() % 65);
        break;
    }
    code = sign | exponent << 23 | random_fraction(rng);
  }
  return codes;
}

void check_fp32_inputs(const std::vector<std::uint64_t>& codes,
                       FpEnvironment environment = FpEnvironment::standard) {
  const Format from = find_format("float32");
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

TEST_CASE("fp32 edge patterns at every exponent and rounding position convert in bulk like the scalar engine",
          "[formats]") {
  const std::vector<std::uint64_t> codes = edge_patterns();
  REQUIRE(codes.size() > 300000);
  check_fp32_inputs(codes);
}

TEST_CASE("weighted random fp32 inputs in random order convert in bulk like the scalar engine", "[formats]") {
  check_fp32_inputs(weighted_random(2'000'000, 20240607));
}

TEST_CASE("fp32 edge patterns convert in bulk like the scalar engine with MXCSR's FTZ and DAZ set",
          "[formats]") {
  check_fp32_inputs(edge_patterns(), FpEnvironment::flush_denormals);
}
