// The shared scales on their own, against the reference's exact floor(log2(.)) and e4m3 rounding: MX's
// E8M0 exponent over the whole Unpacked range (where it under- and overflows e8m0), NVFP4's tensor and
// block scales over fp32's range (saturating, underflowing to zero, all-zero inputs).
#include <catch2/catch.hpp>

#include <bit>
#include <limits>
#include <random>
#include <vector>

#include "block_reference.hpp"
#include "lowbit/formats/block.hpp"
#include "lowbit/formats/float_engine.hpp"

using namespace lowbit;
namespace ref = lowbit::test::block_ref;

namespace {
std::uint8_t ref_mx_code(const std::optional<test::Rational>& amax, int emax) {
  const auto k = ref::mx_scale_exponent(amax, emax);
  return k ? static_cast<std::uint8_t>(*k + 127) : 0xFF;
}
}  // namespace

TEST_CASE("the MX scale is 2^(floor(log2(amax)) - emax_elem), clamped below and NaN above e8m0",
          "[formats]") {
  std::mt19937_64 rng(29);
  for (const auto& rf : ref::ref_block_formats()) {
    if (rf.nvfp4) continue;
    INFO(rf.name);
    const int emax = find_block_format(rf.name).emax_elem();
    for (int exp = -400; exp <= 400; ++exp) {
      // A power of two, the largest value of its binade, and a random one: floor(log2) is `exp` for each.
      for (std::uint64_t sig : {1ull << 63, ~0ull, rng() | (1ull << 63)}) {
        const Unpacked amax{Unpacked::Kind::finite, (rng() & 1) != 0, false, exp, sig, false};
        const test::Rational magnitude = abs(test::to_rational(amax));
        CHECK(int(mx_scale_code(amax, emax)) == int(ref_mx_code(magnitude, rf.emax_elem)));
      }
    }
    CHECK(int(mx_scale_code(Unpacked::zero(false), emax)) ==
          int(ref_mx_code(test::Rational(0), rf.emax_elem)));
    CHECK(int(mx_scale_code(Unpacked::nan(false), emax)) == 0xFF);
    CHECK(int(mx_scale_code(Unpacked::inf(true), emax)) == 0xFF);
  }
  // Spelled out for E4M3 (emax 8): 2^135 gives k = 127, the largest scale; 2^136 overflows to NaN;
  // 2^-119 gives k = -127 = code 0 and anything smaller clamps there.
  CHECK(int(mx_scale_code(Unpacked::from_integer(false, 1, 135), 8)) == 254);
  CHECK(int(mx_scale_code(Unpacked::from_integer(false, 1, 136), 8)) == 0xFF);
  CHECK(int(mx_scale_code(Unpacked::from_integer(false, 1, -119), 8)) == 0);
  CHECK(int(mx_scale_code(Unpacked::from_integer(false, 1, -300), 8)) == 0);
}

TEST_CASE("no fp32 block overflows the MX scale: FLT_MAX gives at most 2^127", "[formats]") {
  for (const auto& rf : ref::ref_block_formats()) {
    if (rf.nvfp4) continue;
    const std::vector<float> block(32, -std::numeric_limits<float>::max());
    const EncodedBlocks encoded = encode_blocks(find_block_format(rf.name), block);
    CHECK(int(encoded.scales[0]) == 127 + 127 - rf.emax_elem);
  }
}

TEST_CASE("the NVFP4 block scale is amax / (6 g) rounded once to e4m3, saturating", "[formats]") {
  std::mt19937_64 rng(31);
  for (int i = 0; i < 20000; ++i) {
    // g anywhere in fp32's positive finite range; amax within 2^-40 .. 2^20 of 6 g (saturation and zero).
    const float g = std::bit_cast<float>(static_cast<std::uint32_t>(1 + rng() % 0x7F7FFFFF));
    const float amax =
        std::ldexp(g * static_cast<float>(1 + rng() % 4096) / 512.0f, static_cast<int>(rng() % 61) - 40);
    if (!std::isfinite(amax)) continue;
    INFO("amax " << amax << " g " << g);
    const std::uint8_t want = ref::nvfp4_block_scale_code(ref::value_of(amax).value, g);
    REQUIRE(int(nvfp4_block_scale_code(amax, g)) == int(want));
  }
  CHECK(int(nvfp4_block_scale_code(0.0f, 1.0f)) == 0x38);          // zero block: 1.0
  CHECK(int(nvfp4_block_scale_code(6e6f, 1.0f)) == 0x7E);          // saturates at 448
  CHECK(int(nvfp4_block_scale_code(6e-6f, 1.0f)) == 0x00);         // 1e-6 < 2^-10: rounds to zero
  CHECK(int(nvfp4_block_scale_code(6 * 0x1p-10f, 1.0f)) == 0x00);  // 2^-10: the tie goes to even, zero
  CHECK(int(nvfp4_block_scale_code(6 * 0x1p-9f, 1.0f)) == 0x01);   // the smallest subnormal 2^-9
}

TEST_CASE("the NVFP4 tensor scale is amax / 2688 over the finite values, at least 2^-149", "[formats]") {
  std::mt19937_64 rng(37);
  for (int i = 0; i < 20000; ++i) {
    std::vector<float> values(1 + rng() % 20);
    for (auto& v : values)
      v = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));  // any bits: NaN, inf too
    const float got = nvfp4_tensor_scale(values);
    const float want = ref::nvfp4_tensor_scale(values);
    INFO("first value " << values[0]);
    REQUIRE(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want));
  }
  CHECK(nvfp4_tensor_scale(std::vector<float>{}) == 0x1p-149f);
  CHECK(nvfp4_tensor_scale(std::vector<float>{0.0f, -0.0f}) == 0x1p-149f);
  CHECK(nvfp4_tensor_scale(std::vector<float>{0x1p-149f}) == 0x1p-149f);  // 2^-149 / 2688 underflows
  CHECK(nvfp4_tensor_scale(std::vector<float>{-2688.0f, std::numeric_limits<float>::infinity()}) == 1.0f);
}
