// compressed-tensors schemes on values worked out by hand: names, scales, codes, the dense int32 packing
// (the package's pack_to_int32 layout); the Python interop test checks the package reads the files.
#include <catch2/catch.hpp>

#include <vector>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/compressed_tensors.hpp"

using namespace lowbit::quant;

TEST_CASE("compressed-tensors scheme names pick bits, strategy, symmetry and the MSE search", "[quant]") {
  const auto int8 = parse_ct_scheme("int8");
  REQUIRE(int8);
  CHECK(int8->bits == 8);
  CHECK(int8->strategy() == "channel");
  const auto int4 = parse_ct_scheme("INT4-g32-asym-mse");
  REQUIRE(int4);
  CHECK(int4->bits == 4);
  CHECK(int4->group == 32);
  CHECK_FALSE(int4->symmetric);
  CHECK(int4->mse);
  CHECK(parse_ct_scheme("int4")->group == 128);
  CHECK(parse_ct_scheme("fp8-tensor")->strategy() == "tensor");
  CHECK_FALSE(parse_ct_scheme("q4_0"));
  CHECK_THROWS_WITH(parse_ct_scheme("int4-g48"), Catch::Contains("unknown part 'g48'"));
  CHECK_THROWS_WITH(parse_ct_scheme("int8-tensor-asym"), Catch::Contains("asymmetric needs"));
  CHECK_THROWS_WITH(parse_ct_scheme("fp8-g32"), Catch::Contains("fp8 has no groups"));
}

TEST_CASE("symmetric int4 maps the largest magnitude to 7 and rounds half to even", "[quant]") {
  const auto s = *parse_ct_scheme("int4-channel");
  // Row 0: amax 7 -> scale 1; row 1: amax 14 -> scale 2.
  const std::vector<float> x = {7, -7, 2.5, 3.5, -0.5, 0, 1, 1, 14, 1, -14, 3};
  const auto p = ct_params(s, x.data(), 2, 6);
  REQUIRE(p.scale.size() == 2);
  CHECK(p.scale[0] == 1.0f);
  CHECK(p.scale[1] == 2.0f);
  std::vector<std::int8_t> codes(12);
  std::vector<float> back(12);
  ct_quantize_rows(s, p, x.data(), 0, 2, 6, codes.data(), back.data());
  CHECK(codes == std::vector<std::int8_t>{7, -7, 2, 4, 0, 0, 0, 0, 7, 0, -7, 2});  // 0.5 -> 0: half to even
  CHECK(back[8] == 14.0f);
  CHECK(back[11] == 4.0f);
}

TEST_CASE("asymmetric int4 spreads min..max (with 0) over the 16 codes with an integer zero point",
          "[quant]") {
  const auto s = *parse_ct_scheme("int4-channel-asym");
  std::vector<float> x(8, 0.0f);
  x[0] = 15.0f;  // range [0, 15]: scale 1, zero point -8
  const auto p = ct_params(s, x.data(), 1, 8);
  CHECK(p.scale[0] == 1.0f);
  CHECK(p.zero_point[0] == -8);
  std::vector<std::int8_t> codes(8);
  std::vector<float> back(8);
  ct_quantize_rows(s, p, x.data(), 0, 1, 8, codes.data(), back.data());
  CHECK(codes[0] == 7);
  CHECK(codes[1] == -8);
  CHECK(back[0] == 15.0f);
  CHECK(back[1] == 0.0f);
}

TEST_CASE("int32 packing puts code i at bit i*bits, offset by 2^(bits-1), and unpacks back", "[quant]") {
  // int4: codes -8..7 become 0..15; eight per word, first in the lowest nibble.
  const std::vector<std::int8_t> codes = {-8, -7, 0, 7, 1, 2, 3, 4, -1};
  std::vector<std::int32_t> words(2);
  pack_int32_row(codes.data(), 9, 4, words.data());
  CHECK(static_cast<std::uint32_t>(words[0]) == 0xCBA9F810u);
  CHECK(words[1] == 7);
  std::vector<std::int8_t> back(9);
  unpack_int32_row(words.data(), 9, 4, back.data());
  CHECK(back == codes);
  // int8: four per word; code c is byte c + 128.
  const std::vector<std::int8_t> bytes = {-128, 127, 0, -1};
  std::int32_t word = 0;
  pack_int32_row(bytes.data(), 4, 8, &word);
  CHECK(static_cast<std::uint32_t>(word) == 0x7F80FF00u);
}

TEST_CASE("the MSE search never does worse than the full-range scale", "[quant]") {
  std::vector<float> x(128);
  for (int i = 0; i < 128; ++i) x[i] = 0.01f * static_cast<float>((i * 37) % 101 - 50);
  x[5] = 3.0f;  // one outlier
  for (const char* name : {"int4-g128", "fp8-channel"}) {
    INFO(name);
    const auto plain = *parse_ct_scheme(name);
    auto mse = plain;
    mse.mse = true;
    auto error = [&](const CtScheme& s) {
      const auto p = ct_params(s, x.data(), 1, 128);
      std::vector<std::int8_t> codes(128);
      std::vector<float> back(128);
      ct_quantize_rows(s, p, x.data(), 0, 1, 128, codes.data(), back.data());
      double e = 0;
      for (int i = 0; i < 128; ++i) e += (x[i] - back[i]) * (x[i] - back[i]);
      return e;
    };
    CHECK(error(mse) <= error(plain));
  }
}

TEST_CASE("nvfp4 takes G = 2688 / amax and e4m3 block scales; mxfp4 the OCP power-of-two scale", "[quant]") {
  std::vector<float> x(32, 0.0f);
  x[0] = 6.0f;
  x[1] = -0.5f;
  x[16] = 3.0f;  // second nvfp4 block: amax 3 -> s = e4m3(3 / 6 * 448) = 224, s / G = 0.5
  const auto nv = *parse_ct_scheme("nvfp4");
  CHECK(nv.format() == "nvfp4-pack-quantized");
  CHECK(nv.strategy() == "tensor_group");
  const auto p = ct_params(nv, x.data(), 1, 32);
  CHECK(p.global_scale == 448.0f);
  REQUIRE(p.scale_code.size() == 2);
  CHECK(p.scale_code[0] == 0x7E);  // e4m3fn 448
  CHECK(p.scale[0] == 1.0f);
  CHECK(p.scale[1] == 0.5f);
  std::vector<std::int8_t> codes(32);
  std::vector<float> back(32);
  ct_quantize_rows(nv, p, x.data(), 0, 1, 32, codes.data(), back.data());
  CHECK(codes[0] == 0x7);   // e2m1 6
  CHECK(codes[1] == 0x9);   // e2m1 -0.5
  CHECK(codes[16] == 0x7);  // 3 / 0.5 = 6
  CHECK(back[16] == 3.0f);

  const auto mx = *parse_ct_scheme("mxfp4");
  const auto q = ct_params(mx, x.data(), 1, 32);
  REQUIRE(q.scale_code.size() == 1);
  CHECK(q.scale_code[0] == 127);  // floor(log2 6) - 2 = 0: scale 1
  CHECK(q.scale[0] == 1.0f);
}
