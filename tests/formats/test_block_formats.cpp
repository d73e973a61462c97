// The block-format table: names, aliases and properties as the OCP MX v1.0 and NVFP4 descriptions give
// them (block_reference.cpp's table), and bad input rejected with messages naming the input and value.
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "block_reference.hpp"
#include "lowbit/formats/block.hpp"
#include "lowbit/formats/error.hpp"

using namespace lowbit;
namespace ref = lowbit::test::block_ref;

TEST_CASE("every block format has the block size, element, scale and storage cost of its spec", "[formats]") {
  REQUIRE(listed_block_formats().size() == ref::ref_block_formats().size());
  for (const auto& want : ref::ref_block_formats()) {
    INFO(want.name);
    const BlockFormat& f = find_block_format(want.name);
    CHECK(f.name() == want.name);
    CHECK(f.block_size() == static_cast<std::size_t>(want.block_size));
    CHECK(f.element_bits() == want.element_bits);
    CHECK(f.scale_bits() == 8);
    CHECK(f.bits_per_element() == want.bits_per_element);
    CHECK(f.has_tensor_scale() == want.nvfp4);
    CHECK(f.scale_format().name() == (want.nvfp4 ? "float8_e4m3fn" : "float8_e8m0fnu"));
    if (want.element == "int8") {
      CHECK(!f.element_format().is_float());
      CHECK(f.element_format().integer_spec().frac_bits == 6);
    } else {
      CHECK(f.element_format().name() == want.element);
    }
    if (!want.nvfp4) CHECK(f.emax_elem() == want.emax_elem);
    CHECK(f.default_options().rounding == (want.nvfp4 ? Rounding::nearest_even : Rounding::nearest_away));
    CHECK(f.default_options().policy == Policy::saturate);
  }
}

TEST_CASE("block formats are found by alias and regardless of case", "[formats]") {
  CHECK(find_block_format("mxfp4_e2m1") == find_block_format("mxfp4"));
  CHECK(find_block_format("MXFP8_E4M3").name() == "mxfp8_e4m3");
  CHECK(find_block_format("NVFP4").name() == "nvfp4");
}

TEST_CASE("an unknown block format name is an UnknownFormatError naming it and the known names",
          "[formats]") {
  CHECK_THROWS_AS(find_block_format("mxfp5"), UnknownFormatError);
  CHECK_THROWS_WITH(find_block_format("mxfp5"),
                    Catch::Contains("'mxfp5'") && Catch::Contains("mxfp4_e2m1") && Catch::Contains("nvfp4"));
  CHECK_THROWS_AS(find_block_format(""), UnknownFormatError);
  CHECK_THROWS_AS(find_block_format("float8_e4m3fn"), UnknownFormatError);  // an element, not a block format
}

TEST_CASE("wrong buffer sizes are RangeErrors naming the buffer and both sizes", "[formats]") {
  const BlockFormat& f = find_block_format("mxfp6_e2m3");
  std::vector<float> values(40, 1.0f);  // 2 blocks, 40 * 6 / 8 = 30 element bytes
  std::vector<std::uint8_t> elements(30), scales(2);
  REQUIRE_NOTHROW(encode_blocks(f, values, elements, scales, 1.0f, f.default_options()));
  std::vector<std::uint8_t> short_elements(29), long_scales(3);
  CHECK_THROWS_WITH(encode_blocks(f, values, short_elements, scales, 1.0f, f.default_options()),
                    Catch::Contains("mxfp6_e2m3") && Catch::Contains("elements buffer holds 29 bytes") &&
                        Catch::Contains("need 30"));
  CHECK_THROWS_WITH(encode_blocks(f, values, elements, long_scales, 1.0f, f.default_options()),
                    Catch::Contains("scales buffer holds 3 bytes") && Catch::Contains("need 2"));
  std::vector<float> out(40);
  CHECK_THROWS_AS(decode_blocks(f, short_elements, scales, out), RangeError);
  CHECK_THROWS_AS(decode_blocks(f, elements, long_scales, out), RangeError);
}

TEST_CASE("tensor scales and stochastic random words are checked", "[formats]") {
  const BlockFormat& mx = find_block_format("mxfp4");
  const BlockFormat& nv = find_block_format("nvfp4");
  std::vector<float> values(16, 1.0f), out(16);
  std::vector<std::uint8_t> mx_elements(8), nv_elements(8), scales(1);
  CHECK_THROWS_WITH(encode_blocks(mx, values, mx_elements, scales, 2.0f, mx.default_options()),
                    Catch::Contains("mxfp4 has no per-tensor scale") && Catch::Contains("got 2"));
  CHECK_THROWS_WITH(decode_blocks(nv, nv_elements, scales, out, 0.0f),
                    Catch::Contains("nvfp4 tensor_scale") && Catch::Contains("got 0"));
  CHECK_THROWS_AS(decode_blocks(nv, nv_elements, scales, out, std::numeric_limits<float>::infinity()),
                  RangeError);
  CHECK_THROWS_AS(decode_blocks(nv, nv_elements, scales, out, -1.0f), RangeError);
  CHECK_THROWS_AS(nvfp4_block_scale_code(std::numeric_limits<float>::quiet_NaN(), 1.0f), RangeError);
  BlockOptions options = nv.default_options();
  options.rounding = Rounding::stochastic;
  std::vector<std::uint32_t> random(15);
  options.random = random;
  CHECK_THROWS_WITH(encode_blocks(nv, values, nv_elements, scales, 1.0f, options),
                    Catch::Contains("one random word per element") && Catch::Contains("got 15 for 16"));
}

TEST_CASE("single blocks of the wrong length are RangeErrors naming the length", "[formats]") {
  const BlockFormat& f = find_block_format("mxfp4");
  const std::vector<std::uint8_t> too_short = {0x7F};
  const std::vector<std::uint8_t> too_long(18, 0);  // 1 + 16 bytes at most
  CHECK_THROWS_WITH(decode_block(f, too_short), Catch::Contains("got 1 bytes") && Catch::Contains("1 to 16"));
  CHECK_THROWS_WITH(decode_block(f, too_long), Catch::Contains("got 18 bytes"));
}

TEST_CASE("element flags are reported when asked for", "[formats]") {
  const BlockFormat& f = find_block_format("mxfp4");
  Flags flags;
  BlockOptions options = f.default_options();
  options.flags = &flags;
  std::vector<float> exact = {1.0f, 2.0f, -4.0f, 0.5f};  // amax 4: X = 1, all representable
  encode_blocks(f, exact, options);
  CHECK(!flags.any());
  std::vector<float> inexact = {1.0f, 2.0f, -4.0f, 1.25f};
  encode_blocks(f, inexact, options);
  CHECK(flags.inexact());
}
