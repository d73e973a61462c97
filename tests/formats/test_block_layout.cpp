// Packed bytes of hand-worked blocks, computed in the comments from the spec's element encodings and the
// layout of block.hpp (element j at bits j*bits.. of a little-endian stream; fp4: first element in the low
// nibble), and single-block decoding; then every (scale, element) code pair decodes as the reference says.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <vector>

#include "block_reference.hpp"
#include "lowbit/formats/block.hpp"

using namespace lowbit;
namespace ref = lowbit::test::block_ref;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes padded(Bytes head, std::size_t size) {
  head.resize(size, 0);
  return head;
}

EncodedBlocks encode_with(const char* name, std::vector<float> values, Rounding mode,
                          std::size_t block_size) {
  const BlockFormat& f = find_block_format(name);
  values.resize(block_size, 0.0f);
  BlockOptions options = f.default_options();
  options.rounding = mode;
  EncodedBlocks out;
  out.elements.resize(f.element_bytes(values.size()));
  out.scales.resize(f.block_count(values.size()));
  encode_blocks(f, values, out.elements, out.scales, 1.0f, options);
  return out;
}

}  // namespace

TEST_CASE("mxfp4 packs two elements per byte, first in the low nibble, ties away by default", "[formats]") {
  // amax 6: floor(log2 6) = 2, emax(E2M1) = 2, so X = 2^0: scale code 127 = 0x7F. E2M1 codes (S EE M, bias
  // 1): 1 -> 0x2, -2 -> 0xC, 0.5 -> 0x1, 6 -> 0x7, 3 -> 0x5, -0.25 (tie 0 | 0.5: away -> -0.5) -> 0x9, 0 ->
  // 0x0, 5 (tie 4 | 6: away -> 6) -> 0x7. Bytes: C2 71 95 70, then zeros.
  const EncodedBlocks away =
      encode_with("mxfp4", {1, -2, 0.5f, 6, 3, -0.25f, 0, 5}, Rounding::nearest_away, 32);
  CHECK(away.scales == Bytes{0x7F});
  CHECK(away.elements == padded({0xC2, 0x71, 0x95, 0x70}, 16));
  // Ties to even instead: -0.25 -> -0 (0x8), 5 -> 4 (0x6): bytes C2 71 85 60.
  const EncodedBlocks even =
      encode_with("mxfp4", {1, -2, 0.5f, 6, 3, -0.25f, 0, 5}, Rounding::nearest_even, 32);
  CHECK(even.elements == padded({0xC2, 0x71, 0x85, 0x60}, 16));
}

TEST_CASE("mxfp6 packs four elements into three bytes as a little-endian bit stream", "[formats]") {
  // E2M3 (S EE MMM, bias 1), amax 7.5 = 1.875 * 2^2: X = 2^(2 - 2) = 1, scale 0x7F.
  // 7.5 -> 0 11 111 = 0x1F; -1.375 = -1.011b -> 1 01 011 = 0x2B; -0.375 = -3/8 (subnormal) -> 1 00 011 =
  // 0x23; 3.25 = 1.101b * 2 -> 0 10 101 = 0x15. byte0 = 0x1F | (0x2B << 6) = 0xDF; byte1 = (0x2B >> 2) |
  // (0x23 << 4) = 0x0A | 0x30 = 0x3A; byte2 = (0x23 >> 4) | (0x15 << 2) = 0x02 | 0x54 = 0x56.
  const EncodedBlocks e2m3 =
      encode_with("mxfp6_e2m3", {7.5f, -1.375f, -0.375f, 3.25f}, Rounding::nearest_away, 32);
  CHECK(e2m3.scales == Bytes{0x7F});
  CHECK(e2m3.elements == padded({0xDF, 0x3A, 0x56}, 24));
  // E3M2 (S EEE MM, bias 3), amax 28 = 1.75 * 2^4: X = 2^(4 - 4) = 1. 28 -> 0 111 11 = 0x1F;
  // -0.0625 = 1 * 2^-4 (subnormal step 2^-4) -> 1 000 01 = 0x21; 1 -> 0 011 00 = 0x0C; -5 = -1.01b * 4 ->
  // 1 101 01 = 0x35. byte0 = 0x1F | 0x21 << 6 = 0x5F; byte1 = 0x21 >> 2 | 0x0C << 4 = 0x08 | 0xC0 = 0xC8;
  // byte2 = 0x0C >> 4 | 0x35 << 2 = 0xD4.
  const EncodedBlocks e3m2 = encode_with("mxfp6_e3m2", {28, -0.0625f, 1, -5}, Rounding::nearest_away, 32);
  CHECK(e3m2.scales == Bytes{0x7F});
  CHECK(e3m2.elements == padded({0x5F, 0xC8, 0xD4}, 24));
}

TEST_CASE("mxfp8 and mxint8 store one element per byte under a non-unit scale", "[formats]") {
  // E4M3 (emax 8), amax 100: floor(log2 100) = 6, X = 2^(6 - 8) = 1/4, scale 127 - 2 = 0x7D. x / X:
  // 400 = 1.5625 * 2^8 lies midway between 384 (man 4) and 416 (man 5): away -> 0 1111 101 = 0x7D;
  // -2 -> 1 1000 000 = 0xC0; 2^-10 / 2^-2 = 2^-8 = 2 * 2^-9 (subnormal) -> 0x02.
  const EncodedBlocks e4m3 = encode_with("mxfp8_e4m3", {100, -0.5f, 1.0f / 1024}, Rounding::nearest_away, 32);
  CHECK(e4m3.scales == Bytes{0x7D});
  CHECK(e4m3.elements == padded({0x7D, 0xC0, 0x02}, 32));
  // E5M2 (emax 15), amax 300000: floor(log2) = 18, X = 2^3, scale 0x82. 37500 lies between 32768 (man 0)
  // and 40960 (man 1), nearer 40960 -> 0 11110 01 = 0x79; 1 / 8 = 2^-3 -> 0 01100 00 = 0x30.
  const EncodedBlocks e5m2 = encode_with("mxfp8_e5m2", {300000, 1}, Rounding::nearest_away, 32);
  CHECK(e5m2.scales == Bytes{0x82});
  CHECK(e5m2.elements == padded({0x79, 0x30}, 32));
  // INT8 (emax 0, value = code / 64), amax 1.999: X = 1, scale 0x7F. 1.5 -> 96 = 0x60; -1 -> -64 = 0xC0;
  // 1/128 = 0.5 / 64 (tie: away) -> 0x01; -1.999 * 64 = -127.94 -> -128, clamped to -127 = 0x81 as the
  // reference code's symmetric range.
  const EncodedBlocks int8 =
      encode_with("mxint8", {1.5f, -1, 1.0f / 128, -1.999f}, Rounding::nearest_away, 32);
  CHECK(int8.scales == Bytes{0x7F});
  CHECK(int8.elements == padded({0x60, 0xC0, 0x01, 0x81}, 32));
}

TEST_CASE("nvfp4 blocks carry an e4m3 scale of amax / 6 and round elements to even", "[formats]") {
  // Tensor scale 1. Block 1: amax 12 -> s = 12 / 6 = 2 = 0 1000 000 = 0x40. x / 2 = 6, -1.5, 0.5, 0.25 (tie
  // 0 | 0.5: even -> 0), 2.5 (tie 2 | 3 -> 2), -3.5 (tie 3 | 4 -> 4): E2M1 7, B, 1, 0, 4, E: bytes B7 01 E4.
  // Block 2: amax 0.9 -> 0.15 = 1.2 * 2^-3 rounds to 1.25 * 2^-3 = 0 0100 010 = 0x22; 0.9 / 0.15625 = 5.76
  // -> 6 = 0x7, -0.3 / 0.15625 = -1.92 -> -2 = 0xC: byte C7.
  const BlockFormat& f = find_block_format("nvfp4");
  std::vector<float> values = {12, -3, 1, 0.5f, 5, -7};
  values.resize(16, 0.0f);
  values.push_back(0.9f);
  values.push_back(-0.3f);
  Bytes elements(f.element_bytes(values.size())), scales(2);
  encode_blocks(f, values, elements, scales, 1.0f, f.default_options());
  CHECK(scales == (Bytes{0x40, 0x22}));
  CHECK(elements == (Bytes{0xB7, 0x01, 0xE4, 0, 0, 0, 0, 0, 0xC7}));
  // With the recipe's own tensor scale g = fp32(12 / 2688), block 1's scale is 12 / (6 g) ~ 448 = 0x7E.
  const EncodedBlocks recipe = encode_blocks(f, values);
  CHECK(recipe.tensor_scale == 12.0f / 2688.0f);  // one correctly rounded fp32 division
  CHECK(int(recipe.scales[0]) == 0x7E);
}

TEST_CASE("a single block decodes from its bytes: scale first, then packed elements", "[formats]") {
  // The first mxfp4 block above: 7F C2 71 95 70 -> 1, -2, 0.5, 6, 3, -0.5, 0, 6.
  const DecodedBlock b = decode_block(find_block_format("mxfp4"), Bytes{0x7F, 0xC2, 0x71, 0x95, 0x70});
  CHECK(int(b.scale_code) == 0x7F);
  CHECK(test::to_rational(b.scale) == 1);
  CHECK(b.codes == (Bytes{0x2, 0xC, 0x1, 0x7, 0x5, 0x9, 0x0, 0x7}));
  CHECK(b.values == (std::vector<float>{1, -2, 0.5f, 6, 3, -0.5f, 0, 6}));
  REQUIRE(b.exact.size() == 8);
  CHECK(test::to_rational(b.exact[5]) == test::Rational(-1, 2));

  // mxfp6: 4 bytes hold 5 whole elements (30 bits); the fifth is 0.
  const DecodedBlock six = decode_block(find_block_format("mxfp6_e2m3"), Bytes{0x80, 0xDF, 0x3A, 0x56, 0x00});
  CHECK(six.values == (std::vector<float>{15, -2.75f, -0.75f, 6.5f, 0}));  // scale 0x80 = 2

  const DecodedBlock nv = decode_block(find_block_format("nvfp4"), Bytes{0x40, 0xB7, 0x01}, 0.5f);
  CHECK(nv.values == (std::vector<float>{6, -1.5f, 0.5f, 0}));  // * 2 (scale) * 0.5 (tensor scale)

  const DecodedBlock nan = decode_block(find_block_format("mxint8"), Bytes{0xFF, 0x40});
  CHECK(nan.scale.kind == Unpacked::Kind::nan);
  CHECK(std::isnan(nan.values.at(0)));
  CHECK(nan.exact.at(0).kind == Unpacked::Kind::nan);

  // mxint8's 0x80 (-2) is never written but decodes per the spec.
  CHECK(decode_block(find_block_format("mxint8"), Bytes{0x7F, 0x80}).values.at(0) == -2.0f);
}

TEST_CASE("every scale code with every element code decodes to the reference's fp32 value", "[formats]") {
  for (const auto& rf : ref::ref_block_formats()) {
    const BlockFormat& f = find_block_format(rf.name);
    const std::size_t codes = std::size_t{1} << rf.element_bits;
    // Whole blocks of all element codes in order, each block under the same scale code.
    const std::size_t blocks = (codes + f.block_size() - 1) / f.block_size();
    std::vector<std::uint8_t> element_codes(blocks * f.block_size());
    for (std::size_t i = 0; i < element_codes.size(); ++i)
      element_codes[i] = static_cast<std::uint8_t>(i % codes);
    const Bytes elements = ref::pack(element_codes, rf.element_bits);
    for (float g :
         rf.nvfp4 ? std::vector<float>{1.0f, 0x1p-149f, 3.0e-3f, 0x1.fffffep127f} : std::vector<float>{1}) {
      for (unsigned scale = 0; scale < 256; ++scale) {
        const Bytes scales(blocks, static_cast<std::uint8_t>(scale));
        std::vector<float> out(element_codes.size());
        decode_blocks(f, elements, scales, out, g);
        for (std::size_t i = 0; i < out.size(); ++i) {
          const float want =
              ref::float32_of(ref::decode_element(rf, static_cast<std::uint8_t>(scale), element_codes[i], g));
          const bool same = std::isnan(want)
                                ? std::isnan(out[i])
                                : std::bit_cast<std::uint32_t>(want) == std::bit_cast<std::uint32_t>(out[i]);
          if (!same) {
            INFO(rf.name << " scale " << scale << " code " << int(element_codes[i]) << " tensor scale " << g);
            CHECK(out[i] == want);
            return;
          }
        }
      }
    }
  }
}
