// Every block format encodes and decodes arrays exactly as the independent reference (block_reference.cpp:
// exact rationals, the spec's scale rule, table-driven element rounding, a bit-by-bit packer) says: scale
// codes and packed element bytes byte for byte, decoded fp32 values bit for bit. Inputs: random blocks over
// the whole fp32 range, single outliers, fp32 subnormals, exact powers of two at amax, zero blocks, NaN and
// inf inside blocks, partial last blocks, every rounding mode and both policies.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "block_reference.hpp"
#include "lowbit/formats/block.hpp"

using namespace lowbit;
namespace ref = lowbit::test::block_ref;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

const char* const kAllFormats[] = {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3",
                                   "mxfp4",      "mxint8",     "nvfp4"};

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Encodes with lowbit and with the reference; the first difference is reported with its input.
void check_matches_reference(const BlockFormat& format, const std::vector<float>& values, Rounding mode,
                             Policy policy, const std::vector<std::uint32_t>& random = {}) {
  const ref::RefBlockFormat& rf = ref::ref_block_format(format.name());
  const float g = format.has_tensor_scale() ? ref::nvfp4_tensor_scale(values) : 1.0f;
  if (format.has_tensor_scale()) REQUIRE(same_float(nvfp4_tensor_scale(values), g));
  BlockOptions options;
  options.rounding = mode;
  options.policy = policy;
  options.random = random;
  std::vector<std::uint8_t> elements(format.element_bytes(values.size()));
  std::vector<std::uint8_t> scales(format.block_count(values.size()));
  encode_blocks(format, values, elements, scales, g, options);
  const ref::RefEncoded want = ref::encode(rf, values, g, mode, policy, random);
  INFO(format.name() << " rounding " << to_string(mode) << " policy " << to_string(policy) << ", "
                     << values.size() << " values, tensor scale " << g);
  for (std::size_t b = 0; b < scales.size(); ++b) {
    if (scales[b] != want.scales[b]) {
      INFO("block " << b << " first value " << values[b * format.block_size()]);
      CHECK(int(scales[b]) == int(want.scales[b]));
      return;
    }
  }
  const std::vector<std::uint8_t> got_codes = ref::unpack(elements, format.element_bits(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (got_codes[i] != want.codes[i]) {
      INFO("element " << i << " value " << values[i] << " (bits " << std::hex
                      << std::bit_cast<std::uint32_t>(values[i]) << "), scale "
                      << int(scales[i / format.block_size()]));
      CHECK(int(got_codes[i]) == int(want.codes[i]));
      return;
    }
  }
  REQUIRE(elements == want.packed);  // the codes agree, so this checks the layout (and zero padding)

  std::vector<float> decoded(values.size());
  decode_blocks(format, elements, scales, decoded, g);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float expected =
        ref::float32_of(ref::decode_element(rf, scales[i / format.block_size()], got_codes[i], g));
    if (!same_float(decoded[i], expected)) {
      INFO("decoded element " << i << " code " << int(got_codes[i]));
      CHECK(decoded[i] == expected);
      return;
    }
  }
}

// A random fp32: `mantissa_bits` random fraction bits (few bits make exact ties), exponent as given.
float random_float(std::mt19937_64& rng, int exponent, int mantissa_bits) {
  const std::uint64_t fraction = mantissa_bits == 0 ? 0 : rng() & ((1ull << mantissa_bits) - 1);
  const double significand = 1.0 + std::ldexp(static_cast<double>(fraction), -mantissa_bits);
  const float x = static_cast<float>(std::ldexp(significand, exponent));
  return (rng() & 1) ? -x : x;
}

// Blocks centred anywhere in fp32's range; each element up to 24 binades below the centre (so element
// subnormals and underflow to zero occur), sometimes zero.
std::vector<float> random_blocks(std::mt19937_64& rng, std::size_t count, std::size_t block_size) {
  std::vector<float> values;
  int centre = 0;
  int mantissa_bits = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % block_size == 0) {
      centre = static_cast<int>(rng() % 276) - 149;  // 2^-149 .. 2^126
      mantissa_bits = static_cast<int>(rng() % 24);
    }
    if (rng() % 16 == 0) {
      values.push_back((rng() & 1) ? -0.0f : 0.0f);
      continue;
    }
    const int exponent = std::min(centre - static_cast<int>(rng() % 25), 127);
    values.push_back(random_float(rng, exponent, static_cast<int>(rng() % (mantissa_bits + 1))));
  }
  return values;
}

test::Rational largest_finite(const test::RefFormat& f) {
  test::Rational max = 0;
  for (std::uint64_t code = 0; code < (1ull << (f.bits() - 1)); ++code) {
    const test::RefValue v = test::ref_decode(f, code);
    if (v.kind == test::RefValue::Kind::finite) max = std::max(max, v.value);
  }
  return max;
}

constexpr Rounding kDeterministicModes[] = {Rounding::nearest_even, Rounding::toward_zero,  Rounding::up,
                                            Rounding::down,         Rounding::nearest_away, Rounding::odd};

std::vector<std::uint32_t> random_words(std::mt19937_64& rng, std::size_t count) {
  std::vector<std::uint32_t> words(count);
  for (auto& w : words) w = static_cast<std::uint32_t>(rng());
  return words;
}

}  // namespace

TEST_CASE("block formats match the exact reference on random blocks over the whole fp32 range", "[formats]") {
  std::mt19937_64 rng(20240611);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    const auto values = random_blocks(rng, 300 * format.block_size(), format.block_size());
    check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
  }
}

TEST_CASE("block formats match the reference under every deterministic rounding mode and both policies",
          "[formats]") {
  std::mt19937_64 rng(7);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    for (Rounding mode : kDeterministicModes) {
      for (Policy policy : {Policy::ieee, Policy::saturate}) {
        check_matches_reference(format, random_blocks(rng, 24 * format.block_size(), format.block_size()),
                                mode, policy);
      }
    }
  }
}

TEST_CASE("stochastic rounding of elements uses one caller-supplied random word per element", "[formats]") {
  // Elements within three binades of their block's largest, so every quotient is at least half the
  // element's smallest step (see the next test for smaller ones).
  std::mt19937_64 rng(41);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    for (Policy policy : {Policy::ieee, Policy::saturate}) {
      std::vector<float> values;
      for (std::size_t b = 0; b < 24; ++b) {
        const int centre = static_cast<int>(rng() % 250) - 120;
        for (std::size_t i = 0; i < format.block_size(); ++i) {
          values.push_back(random_float(rng, centre - static_cast<int>(rng() % 3), 23));
        }
      }
      check_matches_reference(format, values, Rounding::stochastic, policy, random_words(rng, values.size()));
    }
  }
}

TEST_CASE("stochastic rounding rounds elements far below the smallest element step up with their probability",
          "[formats]") {
  // A quotient q under half the element's smallest step u must still round up iff
  // floor(q / u * 2^32) + random >= 2^32 (the engine's documented rule).
  std::mt19937_64 rng(43);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    for (Policy policy : {Policy::ieee, Policy::saturate}) {
      const auto values = random_blocks(rng, 24 * format.block_size(), format.block_size());
      check_matches_reference(format, values, Rounding::stochastic, policy, random_words(rng, values.size()));
    }
  }
}

TEST_CASE("a single huge outlier sets the block scale and small elements flush or go subnormal",
          "[formats]") {
  std::mt19937_64 rng(11);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    for (int outlier_exp : {-100, -3, 0, 17, 100, 127}) {
      std::vector<float> values;
      for (std::size_t i = 0; i < 4 * format.block_size(); ++i) values.push_back(random_float(rng, -5, 23));
      for (std::size_t b = 0; b < 4; ++b) {
        values[b * format.block_size() + (rng() % format.block_size())] = random_float(rng, outlier_exp, 23);
      }
      check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
      check_matches_reference(format, values, Rounding::nearest_even, Policy::ieee);
    }
  }
}

TEST_CASE("fp32 subnormal blocks clamp the MX scale at 2^-127 and round exactly", "[formats]") {
  std::mt19937_64 rng(13);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    std::vector<float> values;
    for (std::size_t i = 0; i < 8 * format.block_size(); ++i) {
      const std::uint32_t bits = static_cast<std::uint32_t>(rng() % 0x800000) >> (rng() % 23);  // subnormal
      values.push_back(std::bit_cast<float>(bits | ((rng() & 1) ? 0x80000000u : 0)));
    }
    values[3] = std::bit_cast<float>(0x00800000u);  // the smallest normal beside subnormals
    check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
    check_matches_reference(format, values, Rounding::up, Policy::ieee);
  }
}

TEST_CASE("exact powers of two at amax and their neighbours pick floor(log2(amax))", "[formats]") {
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    std::vector<float> values;
    for (int e = -149; e <= 127; e += 3) {
      for (float amax : {std::ldexp(1.0f, e), std::nextafter(std::ldexp(1.0f, e), 0.0f),
                         std::nextafter(std::ldexp(1.0f, e), kInf), std::ldexp(1.5f, e)}) {
        if (!std::isfinite(amax) || amax == 0.0f) continue;
        std::vector<float> block(format.block_size(), amax / 3);
        block[1] = -amax;
        values.insert(values.end(), block.begin(), block.end());
      }
    }
    check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
  }
}

TEST_CASE("all-zero blocks get the documented scale and signed zero elements", "[formats]") {
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    std::vector<float> values(3 * format.block_size(), 0.0f);
    for (std::size_t i = 0; i < values.size(); i += 3) values[i] = -0.0f;
    check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
    const EncodedBlocks encoded = encode_blocks(format, values);
    // Spelled out: the reference code's log2(0 + 2^-126) for MX; ModelOpt's 1.0 for NVFP4.
    const std::uint8_t expected = format.name() == "nvfp4" ? 0x38 : format.name() == "mxint8" ? 0x01 : 0x00;
    for (std::uint8_t s : encoded.scales) CHECK(int(s) == int(expected));
    std::vector<float> decoded(values.size());
    decode_blocks(format, encoded.elements, encoded.scales, decoded, encoded.tensor_scale);
    for (float d : decoded) CHECK(d == 0.0f);
  }
}

TEST_CASE("a NaN or inf in a block makes its scale NaN and every element of it decode to NaN", "[formats]") {
  std::mt19937_64 rng(17);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    const std::size_t n = format.block_size();
    std::vector<float> values = random_blocks(rng, 6 * n, n);
    values[0 * n + 5] = kNan;
    values[1 * n + 0] = kInf;
    values[2 * n + n - 1] = -kInf;
    values[3 * n + 2] = -kNan;
    values[3 * n + 3] = kInf;
    // block 4 all special; block 5 untouched
    for (std::size_t i = 4 * n; i < 5 * n; ++i) values[i] = (i % 2) ? kNan : -kInf;
    for (Policy policy : {Policy::ieee, Policy::saturate}) {
      check_matches_reference(format, values, format.default_options().rounding, policy);
    }
    const EncodedBlocks encoded = encode_blocks(format, values);
    const std::uint8_t nan_scale = format.name() == "nvfp4" ? 0x7F : 0xFF;
    for (std::size_t b = 0; b < 5; ++b) CHECK(int(encoded.scales[b]) == int(nan_scale));
    CHECK(int(encoded.scales[5]) != int(nan_scale));
    std::vector<float> decoded(values.size());
    decode_blocks(format, encoded.elements, encoded.scales, decoded, encoded.tensor_scale);
    for (std::size_t i = 0; i < 5 * n; ++i) CHECK(std::isnan(decoded[i]));
    for (std::size_t i = 5 * n; i < 6 * n; ++i) CHECK(!std::isnan(decoded[i]));
  }
}

TEST_CASE("partial last blocks are scaled by their own elements and packed to whole bytes", "[formats]") {
  std::mt19937_64 rng(19);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    for (std::size_t count :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, std::size_t{7},
          format.block_size() - 1, format.block_size() + 1, 2 * format.block_size() + 9}) {
      auto values = random_blocks(rng, count, format.block_size());
      if (count > format.block_size()) values[0] = 1e30f;  // the tail's scale must not see the first block
      check_matches_reference(format, values, format.default_options().rounding, Policy::saturate);
      CHECK(format.block_count(count) == (count + format.block_size() - 1) / format.block_size());
      CHECK(format.element_bytes(count) == (count * format.element_bits() + 7) / 8);
    }
  }
}

TEST_CASE("decode(encode(x)) is within half an element step of x times the scale, or clamped", "[formats]") {
  // The bound, from the element grid alone: |x - x'| <= divisor * max(ulp(q) / 2, |q| - max_element),
  // q = x / divisor, for the nearest modes with saturation, plus half an fp32 ulp for NVFP4's product.
  using test::Rational;
  std::mt19937_64 rng(23);
  for (const char* name : kAllFormats) {
    const BlockFormat& format = find_block_format(name);
    const ref::RefBlockFormat& rf = ref::ref_block_format(name);
    const auto values = random_blocks(rng, 100 * format.block_size(), format.block_size());
    for (Rounding mode : {Rounding::nearest_even, Rounding::nearest_away}) {
      BlockOptions options = format.default_options();
      options.rounding = mode;
      const EncodedBlocks encoded = encode_blocks(format, values, options);
      std::vector<float> decoded(values.size());
      decode_blocks(format, encoded.elements, encoded.scales, decoded, encoded.tensor_scale);
      const bool is_int = rf.element == "int8";
      const test::RefFormat* ef = is_int ? nullptr : &test::ref_format(rf.element);
      const Rational max_element = is_int ? Rational(127, 64) : largest_finite(*ef);
      for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint8_t scale = encoded.scales[i / format.block_size()];
        Rational divisor = rf.nvfp4 ? test::ref_decode(test::ref_format("float8_e4m3fn"), scale).value *
                                          ref::value_of(encoded.tensor_scale).value
                                    : test::pow2(static_cast<long>(scale) - 127);
        const Rational x = ref::value_of(values[i]).value;
        const Rational error = abs(x - ref::value_of(decoded[i]).value);
        Rational bound = abs(x);  // a block scale of zero stores zeros
        if (divisor != 0 && x != 0) {
          const Rational q = abs(x) / divisor;
          const long binade = is_int ? 0 : std::max(ref::exact_floor_log2(q), 1L - ef->bias);
          const Rational ulp = is_int ? Rational(1, 64) : test::pow2(binade - ef->man_bits);
          bound = divisor * std::max(Rational(ulp / 2), Rational(q - max_element));
          if (rf.nvfp4 && decoded[i] != 0.0f) {
            bound +=
                test::pow2(std::max(ref::exact_floor_log2(abs(ref::value_of(decoded[i]).value)), -126L) - 24);
          }
        }
        if (error > bound) {
          INFO(name << " element " << i << " x " << values[i] << " decoded " << decoded[i]);
          CHECK(error <= bound);
          break;
        }
      }
    }
  }
}
