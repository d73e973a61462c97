// An independent reference for the block formats (OCP MX v1.0 and NVFP4), written from the spec text, the
// OCP reference code's documented behaviour and the NVFP4 recipe (see block.hpp for the cited sources and
// the edge-case choices), with Boost.Multiprecision exact rationals throughout. It calls nothing of the
// block code under test: scales come from exact floor(log2(.)) on rationals, elements from reference.hpp's
// table-driven RefRounder (or, for int8, from the rounding modes' definitions on the integer grid), fp32
// values from the IEEE 754 definition, packing from a bit-by-bit stream.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/formats/rounding.hpp"
#include "reference.hpp"

namespace lowbit::test::block_ref {

// The block formats as the specs tabulate them.
struct RefBlockFormat {
  std::string name;
  bool nvfp4 = false;  // else OCP MX
  int block_size = 32;
  std::string element;  // a reference.hpp format name, or "int8" (two's complement, value = code / 64)
  int element_bits = 0;
  int emax_elem = 0;  // OCP MX v1.0 table: exponent of the element type's largest normal
  double bits_per_element = 0;
};
const std::vector<RefBlockFormat>& ref_block_formats();
const RefBlockFormat& ref_block_format(const std::string& name);

// floor(log2(a)) for a > 0, from the bit lengths of numerator and denominator, then one exact comparison.
long exact_floor_log2(const Rational& a);

// A float32 as IEEE 754 defines its bits.
RefValue value_of(float x);
// Round to the nearest fp32, ties to even, +-inf beyond the largest finite (IEEE 754 roundTiesToEven).
float round_to_float32(const Rational& x, bool negative_zero = false);
float float32_of(const RefValue& v);  // NaN, inf or a rounded finite value

// The MX shared-scale exponent k (X = 2^k) for a block whose largest magnitude is `amax`; nullopt for the
// NaN scale (amax not finite, or k above 127).
std::optional<long> mx_scale_exponent(const std::optional<Rational>& amax, int emax_elem);

struct RefEncoded {
  std::vector<std::uint8_t> scales;
  std::vector<std::uint8_t> codes;   // one per element, unpacked
  std::vector<std::uint8_t> packed;  // the codes as the packed stream
  float tensor_scale = 1.0f;
};
// Encodes a whole array (the last block may be partial). `random` feeds Rounding::stochastic, one word per
// element. For NVFP4, `tensor_scale` is the g to use.
RefEncoded encode(const RefBlockFormat& f, std::span<const float> values, float tensor_scale, Rounding mode,
                  Policy policy, std::span<const std::uint32_t> random = {});
float nvfp4_tensor_scale(std::span<const float> values);
// The NVFP4 block scale code: e4m3(amax / (6 g)) nearest-even, saturating; 1.0 for a zero amax.
std::uint8_t nvfp4_block_scale_code(const Rational& block_amax, float tensor_scale);

// The exact value of one element under its scales (kind nan / inf / finite).
RefValue decode_element(const RefBlockFormat& f, std::uint8_t scale_code, std::uint8_t code,
                        float tensor_scale);

// The packed stream: element j at bits j*bits .. j*bits + bits - 1, least significant bit first.
std::vector<std::uint8_t> pack(const std::vector<std::uint8_t>& codes, int bits);
std::vector<std::uint8_t> unpack(const std::vector<std::uint8_t>& packed, int bits, std::size_t count);

}  // namespace lowbit::test::block_ref
