// The bulk API around the kernels: element sizes, any length and alignment, chunked stochastic streams,
// the generic path for pairs outside the SIMD set, wide source codes, streaming stores on large outputs,
// the dispatch target's name, and the statistics of stochastic_bits. References: the scalar engine
// (Format::unpack + Format::pack per element), and plain expectations written from the definitions.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "test_bulk_support.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

std::vector<std::uint64_t> random_codes(const Format& format, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> codes(n);
  for (auto& c : codes) c = rng() & format.code_mask();
  return codes;
}

std::vector<std::uint64_t> every_code(const Format& format) {
  std::vector<std::uint64_t> codes(std::size_t{1} << format.bits());
  for (std::size_t c = 0; c < codes.size(); ++c) codes[c] = c;
  return codes;
}

}  // namespace

TEST_CASE("element_bytes rounds a format's width up to 1, 2, 4 or 8 bytes", "[formats]") {
  CHECK(element_bytes(find_format("float4_e2m1fn")) == 1);
  CHECK(element_bytes(find_format("float6_e3m2fn")) == 1);
  CHECK(element_bytes(find_format("int4")) == 1);
  CHECK(element_bytes(find_format("uint1")) == 1);
  CHECK(element_bytes(find_format("float8_e8m0fnu")) == 1);
  CHECK(element_bytes(find_format("int8")) == 1);
  CHECK(element_bytes(find_format("int9")) == 2);
  CHECK(element_bytes(find_format("float16")) == 2);
  CHECK(element_bytes(find_format("q7.8")) == 2);
  CHECK(element_bytes(find_format("uint17")) == 4);
  CHECK(element_bytes(find_format("float32")) == 4);
  CHECK(element_bytes(find_format("float64")) == 8);
}

TEST_CASE("any length and any byte alignment converts like the scalar engine and writes only its elements",
          "[formats]") {
  const std::vector<std::pair<const char*, const char*>> pairs = {
      {"float32", "bfloat16"},      {"float32", "float8_e4m3fn"}, {"float8_e5m2", "float32"},
      {"float16", "float8_e4m3fn"}, {"bfloat16", "float16"},      {"int8", "float4_e2m1fn"}};
  const std::vector<BulkOptions> options = {{Rounding::nearest_even, Policy::ieee, 0, 0},
                                            {Rounding::up, Policy::saturate, 0, 0},
                                            {Rounding::stochastic, Policy::saturate, 77, 123456789}};
  constexpr std::uint8_t kGuard = 0xa5;
  for (const auto& [from_name, to_name] : pairs) {
    const Format from = find_format(from_name), to = find_format(to_name);
    const std::size_t in_width = element_bytes(from), out_width = element_bytes(to);
    for (std::size_t count : {0, 1, 7, 15, 16, 17, 33, 64, 1003}) {
      const std::vector<std::uint64_t> codes = random_codes(from, count, count * 31 + 7);
      const std::vector<std::uint8_t> packed = to_bytes(codes, in_width);
      for (const BulkOptions& o : options) {
        const std::vector<std::uint64_t> want = scalar_reference(from, to, codes, o);
        for (std::size_t src_offset : {0, 1, 3}) {
          for (std::size_t dst_offset : {0, 1, 2}) {
            std::vector<std::uint8_t> src(packed.size() + 8), dst(count * out_width + 16, kGuard);
            std::copy(packed.begin(), packed.end(), src.begin() + static_cast<std::ptrdiff_t>(src_offset));
            for (std::int64_t target : simd_targets()) {
              ForcedTarget forced(target);
              std::fill(dst.begin(), dst.end(), kGuard);
              convert_bulk(from, src.data() + src_offset, to, dst.data() + dst_offset, count, o);
              INFO(fmt::format("{} -> {}, {}, {} elements, offsets {}/{}, target {}", from_name, to_name,
                               describe(o), count, src_offset, dst_offset, target_name(target)));
              const Comparison c = compare(codes, dst.data() + dst_offset, want, out_width);
              INFO(c.first);
              CHECK(c.mismatches == 0);
              bool guards_intact = true;
              for (std::size_t k = 0; k < dst.size(); ++k) {
                const bool inside = k >= dst_offset && k < dst_offset + count * out_width;
                if (!inside && dst[k] != kGuard) guards_intact = false;
              }
              CHECK(guards_intact);
            }
          }
        }
      }
    }
  }
  // Nothing to convert: the pointers are not touched.
  convert_bulk(find_format("float32"), nullptr, find_format("bfloat16"), nullptr, 0);
}

TEST_CASE("a stochastic stream converted in chunks equals one call over the whole stream", "[formats]") {
  const Format from = find_format("float32");
  const std::vector<std::uint64_t> codes = random_codes(from, 10007, 99);
  const std::vector<std::uint8_t> src = to_bytes(codes, 4);
  for (const char* to_name : {"bfloat16", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn"}) {
    const Format to = find_format(to_name);
    const std::size_t width = element_bytes(to);
    for (std::uint64_t first_index : {std::uint64_t{0}, std::uint64_t{1000}, std::uint64_t{0xfffffff9}}) {
      const BulkOptions whole{Rounding::stochastic, Policy::ieee, 0xabcdef, first_index};
      const std::vector<std::uint64_t> want = scalar_reference(from, to, codes, whole);
      for (std::int64_t target : simd_targets()) {
        ForcedTarget forced(target);
        std::vector<std::uint8_t> one(codes.size() * width), chunked(codes.size() * width);
        convert_bulk(from, src.data(), to, one.data(), codes.size(), whole);
        std::size_t done = 0;
        for (std::size_t size : {1, 15, 16, 17, 100, 1000, 3, 64}) {
          BulkOptions part = whole;
          part.first_index = first_index + done;
          convert_bulk(from, src.data() + done * 4, to, chunked.data() + done * width, size, part);
          done += size;
        }
        BulkOptions rest = whole;
        rest.first_index = first_index + done;
        convert_bulk(from, src.data() + done * 4, to, chunked.data() + done * width, codes.size() - done,
                     rest);
        INFO(fmt::format("float32 -> {}, first index {:#x}, target {}", to_name, first_index,
                         target_name(target)));
        CHECK(one == chunked);
        const Comparison c = compare(codes, one.data(), want, width);
        INFO(c.first);
        CHECK(c.mismatches == 0);
      }
    }
  }
}

TEST_CASE("the random bits follow the 64-bit stream index across its 32-bit halves", "[formats]") {
  // Lanes of one SIMD vector straddle a multiple of 2^32 (and the 2^64 wrap-around): the first indices
  // are not multiples of any vector length.
  const Format from = find_format("float32"), to = find_format("bfloat16");
  // 1 + 2^-8, halfway between two bf16 values: each element rounds up iff the top bit of its random
  // bits is set, so any lane with the wrong random bits shows with probability 1/2.
  const std::vector<std::uint64_t> codes(300, 0x3f808000u);
  for (std::uint64_t first_index : {0xffffff05ull, 0x1ffffff83ull, 0xffffffffffffff85ull}) {
    const BulkOptions o{Rounding::stochastic, Policy::ieee, 5, first_index};
    const TargetsComparison r =
        convert_on_every_target(from, to, codes, o, scalar_reference(from, to, codes, o));
    INFO(r.report);
    CHECK(r.mismatches == 0);
  }
}

TEST_CASE("pairs outside the SIMD set convert element by element like the scalar engine", "[formats]") {
  const std::vector<std::pair<const char*, const char*>> pairs = {{"int8", "float4_e2m1fn"},
                                                                  {"float8_e8m0fnu", "float32"},
                                                                  {"float32", "int8"},
                                                                  {"float16", "float8_e4m3fnuz"},
                                                                  {"uint4", "float6_e3m2fn"},
                                                                  {"q3.4", "bfloat16"},
                                                                  {"float8_e5m2fnuz", "float16"},
                                                                  {"float6_e2m3fn", "float8_e8m0fnu"},
                                                                  {"float8_e3m4", "float8_e4m3b11fnuz"},
                                                                  {"bfloat16", "float64"},
                                                                  {"float8_e4m3fn", "uint8"},
                                                                  {"float32", "float8_e8m0fnu"}};
  for (const auto& [from_name, to_name] : pairs) {
    const Format from = find_format(from_name), to = find_format(to_name);
    const std::vector<std::uint64_t> codes =
        from.bits() <= 16 ? every_code(from) : random_codes(from, 100000, 3);
    for (const BulkOptions& o : every_mode_and_policy()) {
      const TargetsComparison r =
          convert_on_every_target(from, to, codes, o, scalar_reference(from, to, codes, o));
      INFO(r.report);
      CHECK(r.mismatches == 0);
    }
  }
}

TEST_CASE("float64 converts into float8_e4m3fn with one rounding, like the scalar engine", "[formats]") {
  const Format from = find_format("float64"), to = find_format("float8_e4m3fn");
  std::vector<std::uint64_t> codes = random_codes(from, 50000, 11);
  std::mt19937_64 rng(12);
  for (int i = 0; i < 50000; ++i) {  // doubles near e4m3fn's range, with ties and near-ties
    const double x =
        std::ldexp(1.0 + static_cast<double>(rng() % 16) / 16.0 +
                       std::ldexp(1.0, -30) * static_cast<double>(static_cast<int>(rng() % 3) - 1),
                   static_cast<int>(rng() % 30) - 15);
    codes.push_back(std::bit_cast<std::uint64_t>(rng() % 2 ? -x : x));
  }
  for (const BulkOptions& o : every_mode_and_policy()) {
    const TargetsComparison r =
        convert_on_every_target(from, to, codes, o, scalar_reference(from, to, codes, o));
    INFO(r.report);
    CHECK(r.mismatches == 0);
  }
  // DESIGN.md's double-rounding example: 1 + 2^-4 + 2^-30 is above the tie between 1 and 1.125, so it
  // rounds up to 1.125 (0x39), where a detour through fp32 (which drops 2^-30) would tie to even, 1.0.
  const double x = 1.0 + 0x1p-4 + 0x1p-30;
  std::uint8_t code = 0;
  convert_bulk(from, &x, to, &code, 1);
  CHECK(code == 0x39);
}

TEST_CASE("codes wider than the source format raise RangeError naming the element and the pattern",
          "[formats]") {
  const Format fp4 = find_format("float4_e2m1fn"), f32 = find_format("float32");
  const std::uint8_t codes[] = {0x1, 0x7, 0xf, 0x10, 0x3};
  float out[5];
  try {
    convert_bulk(fp4, codes, f32, out, 5);
    FAIL("no RangeError");
  } catch (const RangeError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("element 3") != std::string::npos);
    CHECK(message.find("0x10") != std::string::npos);
    CHECK(message.find("float4_e2m1fn") != std::string::npos);
  }
  // The element is counted in the stream, from options.first_index.
  BulkOptions o;
  o.first_index = 1000;
  try {
    convert_bulk(fp4, codes, f32, out, 5, o);
    FAIL("no RangeError");
  } catch (const RangeError& e) {
    CHECK(std::string(e.what()).find("element 1003") != std::string::npos);
  }
  const std::uint8_t int4_codes[] = {0x0, 0xf, 0x80};
  CHECK_THROWS_AS(convert_bulk(find_format("int4"), int4_codes, f32, out, 3), RangeError);
  const std::uint16_t int9_codes[] = {0x1ff, 0x200};
  CHECK_THROWS_WITH(convert_bulk(find_format("int9"), int9_codes, f32, out, 2),
                    Catch::Contains("element 1") && Catch::Contains("0x200"));
}

TEST_CASE("outputs past the streaming threshold (32 MiB) convert like the scalar engine on every target",
          "[formats]") {
  struct Case {
    const char* from;
    const char* to;
    std::size_t count;
    std::size_t dst_offset;  // bytes: a destination that is not vector-aligned has an ordinary head
    BulkOptions options;
  };
  // Narrowings read several source pages side by side (bulk_simd.cpp): the stochastic case checks that
  // each element still gets its own stream index in that order.
  const Case cases[] = {{"float32", "bfloat16", (std::size_t{16} << 20) + 3, 2, {}},
                        {"bfloat16", "float8_e5m2", (std::size_t{32} << 20) + 5, 1, {}},
                        {"float32", "float8_e4m3fn", (std::size_t{32} << 20) + 7, 3, {}},
                        {"float32",
                         "float8_e4m3fn",
                         (std::size_t{32} << 20) + 9,
                         0,
                         {Rounding::toward_zero, Policy::saturate, 0, 0}},
                        {"float32",
                         "float8_e5m2",
                         (std::size_t{32} << 20) + 2,
                         2,
                         {Rounding::nearest_away, Policy::ieee, 0, 0}},
                        {"float32",
                         "float8_e5m2",
                         (std::size_t{32} << 20) + 1,
                         0,
                         {Rounding::stochastic, Policy::saturate, 7, 5}},
                        {"float8_e4m3fn", "float32", (std::size_t{8} << 20) + 1, 4, {}}};
  for (const Case& c : cases) {
    const Format from = find_format(c.from), to = find_format(c.to);
    const std::size_t in_width = element_bytes(from), out_width = element_bytes(to);
    // Consecutive codes with a stride: long runs of one exponent, across the whole range of the format.
    const std::uint64_t step = in_width == 4 ? 127 : 1;
    std::vector<std::uint8_t> src(c.count * in_width), want(c.count * out_width),
        dst(c.count * out_width + c.dst_offset);
    constexpr std::size_t kBlock = std::size_t{1} << 20;
    for (std::size_t first = 0; first < c.count; first += kBlock) {
      std::vector<std::uint64_t> codes(std::min(kBlock, c.count - first));
      for (std::size_t k = 0; k < codes.size(); ++k)
        codes[k] = (0x2e000000u + (first + k) * step) & from.code_mask();
      BulkOptions options = c.options;
      options.first_index += first;
      const std::vector<std::uint64_t> out = scalar_reference(from, to, codes, options);
      for (std::size_t k = 0; k < codes.size(); ++k) {
        std::memcpy(&src[(first + k) * in_width], &codes[k], in_width);
        std::memcpy(&want[(first + k) * out_width], &out[k], out_width);
      }
    }
    for (std::int64_t target : simd_targets()) {
      ForcedTarget forced(target);
      convert_bulk(from, src.data(), to, dst.data() + c.dst_offset, c.count, c.options);
      INFO(fmt::format("{} -> {}, {} elements, target {}", c.from, c.to, c.count, target_name(target)));
      CHECK(std::memcmp(dst.data() + c.dst_offset, want.data(), want.size()) == 0);
    }
  }
}

TEST_CASE("bulk_target_name names the target runtime dispatch uses", "[formats]") {
  CHECK(std::string(bulk_target_name()) == target_name(simd_targets().front()));
  for (std::int64_t target : simd_targets()) {
    ForcedTarget forced(target);
    CHECK(std::string(bulk_target_name()) == target_name(target));
  }
}

TEST_CASE("stochastic_bits is a reproducible counter-based hash with uniform, independent bits",
          "[formats]") {
  CHECK(stochastic_bits(1, 2) == stochastic_bits(1, 2));
  constexpr std::size_t kN = std::size_t{1} << 20;
  std::array<std::size_t, 32> ones{};
  std::size_t seed_agreement = 0, high_word_same = 0;
  for (std::size_t i = 0; i < kN; ++i) {
    const std::uint32_t r = stochastic_bits(42, i);
    for (int b = 0; b < 32; ++b) ones[b] += (r >> b) & 1;
    seed_agreement += 32 - std::popcount(r ^ stochastic_bits(43, i));
    high_word_same += r == stochastic_bits(42, i + (std::uint64_t{1} << 32));
  }
  for (int b = 0; b < 32; ++b) {  // binomial: standard deviation 0.05% of kN; allow 10 of them
    INFO("bit " << b);
    CHECK(std::abs(static_cast<double>(ones[b]) / kN - 0.5) < 0.005);
  }
  CHECK(std::abs(static_cast<double>(seed_agreement) / (32.0 * kN) - 0.5) < 0.001);  // seeds independent
  CHECK(high_word_same < 10);  // the index's high word matters
  // Avalanche: flipping any one of the 64 index bits flips about half of the 32 output bits.
  for (int bit = 0; bit < 64; ++bit) {
    std::size_t flipped = 0;
    for (std::uint64_t i = 0; i < 4096; ++i) {
      const std::uint64_t index = i * 0x9e3779b97f4a7c15ull;
      flipped +=
          std::popcount(stochastic_bits(7, index) ^ stochastic_bits(7, index ^ (std::uint64_t{1} << bit)));
    }
    INFO("index bit " << bit);
    CHECK(std::abs(static_cast<double>(flipped) / 4096.0 - 16.0) < 0.5);
  }
}

TEST_CASE("stochastic rounding in bulk rounds up with the probability of the dropped fraction", "[formats]") {
  // Far from the targets' ties and thresholds: a normal bf16 step, and a quarter of e4m3fn's smallest
  // subnormal step (2^-9), where the rounding also decides between zero and that subnormal.
  struct Case {
    const char* to;
    float x;
    std::uint64_t down, up;  // the neighbours of x in the target
    double fraction;         // (x - down) / (up - down): the probability of rounding up
  };
  const Case cases[] = {{"bfloat16", std::bit_cast<float>(0x3f804d00u), 0x3f80, 0x3f81, 0x4d / 256.0},
                        {"float8_e4m3fn", 0x1p-11f, 0x00, 0x01, 0.25},
                        {"float16", -0x1.8p-26f, 0x8000, 0x8001, 0.375}};
  const Format f32 = find_format("float32");
  constexpr std::size_t kN = 1'000'000;
  for (const Case& c : cases) {
    const Format to = find_format(c.to);
    const std::vector<float> x(kN, c.x);
    std::vector<std::uint8_t> out(kN * element_bytes(to));
    for (std::int64_t target : simd_targets()) {
      ForcedTarget forced(target);
      convert_bulk(f32, x.data(), to, out.data(), kN, {Rounding::stochastic, Policy::ieee, 2024, 0});
      std::size_t up = 0, neither = 0;
      for (std::size_t i = 0; i < kN; ++i) {
        const std::uint64_t code = code_at(out.data(), i, element_bytes(to));
        up += code == c.up;
        neither += code != c.up && code != c.down;
      }
      INFO(fmt::format("{} -> {}, target {}", c.x, c.to, target_name(target)));
      CHECK(neither == 0);
      CHECK(std::abs(static_cast<double>(up) / kN - c.fraction) < 0.003);  // ~6 standard deviations
    }
  }
}

TEST_CASE("abs_max is the largest magnitude, NaNs ignored and infinities counted, in any position",
          "[formats]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  CHECK(lowbit::abs_max(nullptr, 0) == 0.0f);
  const float only_nan[] = {nan, -nan};
  CHECK(lowbit::abs_max(only_nan, 2) == 0.0f);
  // Every length up to 70 (whole vectors and tails), the largest magnitude at every position, NaNs of both
  // signs and smaller values around it.
  for (std::size_t n = 1; n <= 70; ++n) {
    for (std::size_t at = 0; at < n; ++at) {
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i) {
        const float value = i % 3 == 0 ? nan : 0.25f * static_cast<float>(i % 7);
        v[i] = i % 2 ? -value : value;
      }
      v[at] = -5.5f;
      REQUIRE(lowbit::abs_max(v.data(), n) == 5.5f);
      v[at] = -inf;
      REQUIRE(lowbit::abs_max(v.data(), n) == inf);
      std::replace_if(
          v.begin(), v.end(), [](float x) { return !std::isnan(x); }, -0.0f);
      v[at] = -0x1p-149f;  // the smallest subnormal among NaNs and zeros
      REQUIRE(lowbit::abs_max(v.data(), n) == 0x1p-149f);
    }
  }
}
