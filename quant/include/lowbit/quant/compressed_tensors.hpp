// compressed-tensors (the safetensors layout of vLLM's llm-compressor, read by the `compressed-tensors`
// Python package) for weights of two dimensions [rows = output features, cols = input features]:
//   pack-quantized  int4/int8: <m>.weight_packed I32 [rows, ceil(cols * bits / 32)] (codes + 2^(bits-1),
//                   bit i*bits of each row, little-endian words), <m>.weight_scale F32 [rows, groups] ([1]
//                   per tensor), <m>.weight_shape I64 [2], and for asymmetric schemes
//                   <m>.weight_zero_point I32 [ceil(rows * bits / 32), groups] (packed along the rows);
//   float-quantized fp8: <m>.weight F8_E4M3 [rows, cols], <m>.weight_scale F32 [rows, 1] or [1];
//   nvfp4-pack-quantized: <m>.weight_packed U8 [rows, cols / 2] (e2m1 codes, first in the low nibble),
//                   <m>.weight_scale F8_E4M3 [rows, cols / 16], <m>.weight_global_scale F32 [1];
//   mxfp4-pack-quantized: <m>.weight_packed U8 [rows, cols / 2], <m>.weight_scale U8 [rows, cols / 32]
//                   (e8m0 codes: 2^(code - 127)).
// Dequantization, as the package does it: (code - zero_point) * scale in fp32; nvfp4: the package divides
// the block scale by the global scale G in fp32, multiplies, and returns bfloat16: bf16(e2m1 * fp32(s / G));
// mxfp4: e2m1 * 2^k (exact).
//
// NVFP4 scales here follow the package's convention: G = fp32(448 * 6 / amax_tensor), s = e4m3(amax_block
// / 6 * G) (nearest-even, saturating), codes e2m1(x / fp32(s / G)) nearest-even, saturating. MXFP4: the OCP
// MX scale floor(log2(amax_block)) - 2 (formats/block.hpp) and codes nearest-even, saturating.
//
// Scales come from round-to-nearest with the scale that maps the group's largest magnitude (symmetric) or
// its range including 0 (asymmetric) onto the code range, or, with the MSE option, the clipping ratio
// (1.0 down to 0.5) of least squared error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::quant {

struct CtScheme {
  enum class Kind { int_packed, fp8, nvfp4, mxfp4 };
  Kind kind = Kind::int_packed;
  int bits = 8;
  int group = 0;  // elements per group along a row; 0: one scale per row (channel); -1: one per tensor
  bool symmetric = true;
  bool mse = false;
  std::string name;  // as given, canonical

  std::string strategy() const;  // "group", "channel", "tensor", "tensor_group" (nvfp4)
  std::string format() const;    // "pack-quantized", "float-quantized", "nvfp4-pack-quantized", ...
  bool is_fp4() const { return kind == Kind::nvfp4 || kind == Kind::mxfp4; }
  std::int64_t groups_per_row(std::int64_t cols) const;
};

// int8 | int4 [-channel | -tensor | -g32 | -g64 | -g128] [-asym] [-mse]; fp8 [-channel | -tensor] [-mse];
// nvfp4; mxfp4.
// Defaults: int8 per channel, int4 groups of 128, fp8 per channel, symmetric. nullopt when `name` is not
// of this grammar at all; throws RangeError for a bad variant (int4-g48).
std::optional<CtScheme> parse_ct_scheme(std::string_view name);

// The scales (and zero points, asymmetric only) of a [rows, cols] tensor: rows * groups_per_row each.
struct CtParams {
  std::vector<float> scale;  // fp4: the decoded block scale (nvfp4: s / G as the package computes it)
  std::vector<std::int8_t> zero_point;
  std::vector<std::uint8_t> scale_code;  // fp4: the stored e4m3 / e8m0 codes
  float global_scale = 1.0f;             // nvfp4: G
};
CtParams ct_params(const CtScheme& scheme, const float* x, std::int64_t rows, std::int64_t cols);

// Codes of rows [0, rows) of `x` (cols each) into `codes` (int: the signed code; fp8: the e4m3fn byte;
// fp4: the e2m1 code) and
// their dequantization into `back`; `params` are those of the whole tensor, `first_row` the rows' offset.
void ct_quantize_rows(const CtScheme& scheme, const CtParams& params, const float* x, std::int64_t first_row,
                      std::int64_t rows, std::int64_t cols, std::int8_t* codes, float* back);

// Dense packing of signed `bits`-bit codes of one row into ceil(n * bits / 32) words, as pack_to_int32.
void pack_int32_row(const std::int8_t* codes, std::int64_t n, int bits, std::int32_t* words);
void unpack_int32_row(const std::int32_t* words, std::int64_t n, int bits, std::int8_t* codes);

}  // namespace lowbit::quant
