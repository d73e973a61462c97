// The GGUF block quantizers on blocks whose right answer is worked out by hand here (the byte-for-byte
// comparison with the gguf package's numpy reference is tests/quant/crosscheck_gguf.py), and the error
// bounds every block type must meet.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/ggml_quants.hpp"

using namespace lowbit::quant;

namespace {

std::vector<std::uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<std::uint8_t> out(*ggml_tensor_bytes(t, x.size(), x.size()));
  quantize_row(t, x.data(), static_cast<std::int64_t>(x.size()), out.data());
  return out;
}

std::vector<float> roundtrip(GgmlType t, const std::vector<float>& x) {
  const auto q = quantize(t, x);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), static_cast<std::int64_t>(x.size()), y.data());
  return y;
}

}  // namespace

TEST_CASE("q8_0 stores amax/127 as fp16 and rounds x/d half away from zero", "[quant]") {
  // amax 127 gives d = 1 exactly: the codes are the inputs rounded, ties away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 0.5f;
  x[2] = -0.5f;
  x[3] = 2.5f;
  x[4] = -2.5f;
  x[5] = 0.49999997f;
  x[6] = -126.5f;
  const auto q = quantize(GgmlType::q8_0, x);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0x3c);  // fp16 1.0
  const auto* codes = reinterpret_cast<const std::int8_t*>(q.data() + 2);
  CHECK(codes[0] == 127);
  CHECK(codes[1] == 1);
  CHECK(codes[2] == -1);
  CHECK(codes[3] == 3);
  CHECK(codes[4] == -3);
  CHECK(codes[5] == 0);
  CHECK(codes[6] == -127);
}

TEST_CASE("q4_0 takes its scale from the signed element of largest magnitude, the first of equals",
          "[quant]") {
  std::vector<float> x(32, 0.0f);
  x[3] = -8.0f;  // first of the two largest: d = -8 / -8 = 1
  x[9] = 8.0f;
  x[16] = 3.2f;
  const auto q = quantize(GgmlType::q4_0, x);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0x3c);  // d = +1
  // code = min(15, trunc(x / d + 8.5)): -8 -> 0, 8 -> 15 (clamped), 0 -> 8, 3.2 -> 11 (element 16 is the
  // high nibble of byte 0).
  CHECK((q[2 + 3] & 0xF) == 0);
  CHECK((q[2 + 9] & 0xF) == 15);
  CHECK((q[2 + 0] & 0xF) == 8);
  CHECK((q[2 + 0] >> 4) == 11);
}

TEST_CASE("an all-zero block quantizes to zero scales and dequantizes to zeros in every type", "[quant]") {
  for (const auto& info : ggml_types()) {
    if (!can_quantize(info.type)) continue;
    INFO(info.name);
    const std::vector<float> x(256, 0.0f);
    const auto y = roundtrip(info.type, x);
    for (float v : y) CHECK(v == 0.0f);
  }
}

TEST_CASE("every block type reproduces normal weights within its error bound", "[quant]") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(4096);
  for (auto& v : x) v = normal(rng);
  // Relative RMS error an n-bit uniform grid over about +-3 sigma cannot exceed by much.
  const std::pair<GgmlType, double> bounds[] = {
      {GgmlType::q8_0, 0.01}, {GgmlType::q4_0, 0.15}, {GgmlType::q4_1, 0.15}, {GgmlType::q5_0, 0.07},
      {GgmlType::q5_1, 0.07}, {GgmlType::q4_k, 0.12}, {GgmlType::q5_k, 0.06}, {GgmlType::q6_k, 0.03},
      {GgmlType::f16, 1e-3},  {GgmlType::bf16, 5e-3}, {GgmlType::f32, 0.0}};
  for (const auto& [type, bound] : bounds) {
    INFO(ggml_type_name(type));
    const auto y = roundtrip(type, x);
    double s = 0, e = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      s += double(x[i]) * x[i];
      e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    }
    CHECK(std::sqrt(e / s) <= bound);
  }
}

TEST_CASE("q8_0 keeps every element within half a step of its block's scale", "[quant]") {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> x(32 * 64);
  for (auto& v : x) v = u(rng);
  const auto q = quantize(GgmlType::q8_0, x);
  const auto y = roundtrip(GgmlType::q8_0, x);
  for (std::size_t b = 0; b < 64; ++b) {
    const float d = fp16_to_fp32(static_cast<std::uint16_t>(q[b * 34] | (q[b * 34 + 1] << 8)));
    for (std::size_t j = 0; j < 32; ++j) {
      // d is the fp16 of amax/127: the step used for the codes differs from it by fp16 rounding.
      CHECK(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <= 0.5 * d * (1 + 1e-3) + 127 * d * 1e-3);
    }
  }
}

TEST_CASE("block quantization refuses NaN and infinity, naming the element", "[quant]") {
  std::vector<float> x(32, 1.0f);
  x[7] = std::nanf("");
  std::vector<std::uint8_t> out(34);
  CHECK_THROWS_WITH(quantize_row(GgmlType::q8_0, x.data(), 32, out.data()), Catch::Contains("element 7"));
  x[7] = INFINITY;
  CHECK_THROWS_WITH(quantize_row(GgmlType::q4_0, x.data(), 32, out.data()),
                    Catch::Contains("element 7 is inf"));
  CHECK_THROWS_WITH(quantize_row(GgmlType::q4_k, x.data(), 32, out.data()), Catch::Contains("blocks of 256"));
}

TEST_CASE("ggml type sizes follow the block layout and refuse partial blocks", "[quant]") {
  CHECK(*ggml_tensor_bytes(GgmlType::q4_k, 256, 512) == 288);
  CHECK(*ggml_tensor_bytes(GgmlType::q6_k, 512, 512) == 420);
  CHECK(*ggml_tensor_bytes(GgmlType::q5_1, 64, 128) == 96);
  CHECK_FALSE(ggml_tensor_bytes(GgmlType::q4_0, 48, 96));
  CHECK_FALSE(ggml_tensor_bytes(GgmlType::f32, 1, 1ull << 62));
  CHECK(parse_ggml_type("Q4_K") == GgmlType::q4_k);
  CHECK_FALSE(parse_ggml_type("q3_X"));
}
