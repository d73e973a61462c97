// Block-scaled formats: OCP Microscaling (MX v1.0: MXFP8, MXFP6, MXFP4, MXINT8) and NVIDIA's NVFP4. A block
// of elements shares one scale; each element is a code of a narrow format of the registry, converted by
// the one float engine (pack_float / pack_integer), so every rounding mode and policy is available.
//
// MX (OCP Microscaling Formats v1.0, section 6.3, and its reference code github.com/microsoft/microxcaling,
// mx/mx_ops.py `_quantize_mx`):
//   blocks of 32 elements, one E8M0 scale X = 2^k per block, k = floor(log2(amax)) - emax_elem, where amax
//   is the block's largest magnitude and emax_elem the exponent of the element type's largest normal
//   (E4M3: 8, E5M2: 15, E3M2: 4, E2M3: 2, E2M1: 2, INT8: 0). Element i is the element conversion of the
//   exact quotient V_i / X (one rounding). Defaults follow the reference code: ties away from zero
//   (its "nearest" is sign(x) * floor(|x| + 1/2)) and saturation to the largest finite element.
//   Choices where the spec is silent, each as the reference code does unless said otherwise:
//   - All-zero block: the reference code takes log2 of (amax + 2^-126), so k = max(-126 - emax_elem, -127):
//     scale 2^-127 (code 0x00) for the float elements, 2^-126 (0x01) for MXINT8. Elements are +-0.
//   - Scale underflow (k < -127: amax below 2^(emax_elem - 127), e.g. fp32 subnormals): k clamps to -127
//     and the elements are rounded at that scale (small ones may round to zero).
//   - Scale overflow (k > 127): the scale is NaN (0xFF). From fp32 input this cannot happen (amax < 2^128
//     and emax_elem >= 0 give k <= 127); mx_scale_code() shows it for wider amax values.
//   - A block holding NaN or +-inf: amax is not finite, so the scale is NaN (0xFF) and, as the spec says
//     of a NaN scale, every element of the block decodes to NaN whatever its code. The element codes are
//     still written, deterministically: each value is converted at the scale the block's finite values would
//     give, so NaN becomes the element NaN where the element type has one (E4M3, E5M2) and +-inf becomes
//     inf/NaN/max finite by the policy, as for any single conversion.
//   - MXINT8: elements are two's-complement 1.6 fixed point (code / 64, codes 0x80..0x7F). Rounding is
//     done as the reference code does it, on the symmetric grid +-127/64 with clamping whatever the
//     policy (its int8 is sign-magnitude), so encode never writes 0x80 (-2); decode accepts it.
//
// NVFP4 (NVIDIA; recipe of TensorRT-Model-Optimizer, modelopt/torch/quantization/qtensor/nvfp4_tensor.py
// `NVFP4QTensor`: get_weights_scaling_factor_2 / get_weights_scaling_factor / quantize / _cast_fp4):
//   blocks of 16 E2M1 elements, one float8_e4m3fn scale s per block, one fp32 scale g per tensor:
//     g   = fp32(amax_tensor / (6 * 448))       (nvfp4_tensor_scale)
//     s   = e4m3(amax_block / (6 * g))          nearest-even, saturating; an all-zero block gets s = 1
//     P_i = e2m1(V_i / (s * g))                 default nearest-even, saturating (as _cast_fp4)
//     V_i ~ P_i * s * g
//   Differences from the recipe's fp32 arithmetic, on purpose: every quotient above is exact and rounded
//   once (ModelOpt rounds 6*g, s*g and the quotients to fp32 first, which can move a value across a
//   rounding boundary); g is at least 2^-149 (an all-zero tensor would otherwise divide by zero); a block
//   scale that rounds to 0 (amax_block <= 2^-10 * 6 * g) stores +-0 elements; a block holding NaN or inf
//   gets the NaN scale 0x7F, exactly as the MX blocks do, with elements written as described above.
//
// Packed element layouts (the spec fixes none; these are what lowbit reads and writes):
//   - 8-bit elements (MXFP8, MXINT8): one byte per element, in order.
//   - 6-bit elements (MXFP6): a little-endian bit stream; element j occupies bits 6j..6j+5 of it, so each
//     3 bytes hold 4 elements: byte0 = e0 | e1<<6, byte1 = e1>>2 | e2<<4, byte2 = e2>>4 | e3<<2 (low 8
//     bits of each expression).
//   - 4-bit elements (MXFP4, NVFP4): two per byte, the first element in the low nibble (the same stream).
//   Elements of an array are one stream: full blocks start on byte boundaries (32*6/8 = 24, 16*4/8 = 8
//   bytes). A partial last block takes ceil(n * bits / 8) bytes, its unused high bits zero. Scales are one
//   byte per block (E8M0 or E4M3 codes), in block order.
//   A single block as bytes (decode_block, `lowbit decode --format mxfp4 <hex>`): the scale byte first,
//   then the block's packed elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/formats/format.hpp"
#include "lowbit/formats/rounding.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit {

enum class BlockScaling : std::uint8_t {
  mx,     // one E8M0 power-of-two scale per block
  nvfp4,  // one float8_e4m3fn scale per block and one fp32 scale per tensor
};

// How elements are rounded. A default-constructed BlockOptions is the MX recipe (nearest-away, saturate);
// BlockFormat::default_options() gives each format's own (NVFP4: nearest-even, saturate).
struct BlockOptions {
  Rounding rounding = Rounding::nearest_away;
  Policy policy = Policy::saturate;
  // Rounding::stochastic: one word of random bits per element of the call, in order (required then).
  std::span<const std::uint32_t> random = {};
  // When set, the exception flags of every element conversion are OR-ed into it.
  Flags* flags = nullptr;
};

class BlockFormat {
 public:
  BlockFormat(std::string name, std::vector<std::string> aliases, BlockScaling scaling,
              std::size_t block_size, Format element, Format scale, std::string description);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& aliases() const { return aliases_; }
  const std::string& description() const { return description_; }
  BlockScaling scaling() const { return scaling_; }
  std::size_t block_size() const { return block_size_; }
  const Format& element_format() const { return element_; }
  const Format& scale_format() const { return scale_; }
  int element_bits() const { return element_.bits(); }
  int scale_bits() const { return scale_.bits(); }
  bool has_tensor_scale() const { return scaling_ == BlockScaling::nvfp4; }
  // The exponent of the element type's largest normal value (OCP MX emax_elem; 0 for MXINT8).
  int emax_elem() const;
  // Storage per element including the block scale: element_bits + scale_bits / block_size (NVFP4's one
  // fp32 per tensor is not counted).
  double bits_per_element() const;
  // Blocks, and packed element bytes, of an array of `count` elements (the last block may be partial).
  std::size_t block_count(std::size_t count) const;
  std::size_t element_bytes(std::size_t count) const;
  // The recipe's rounding: MX nearest-away + saturate (OCP reference code), NVFP4 nearest-even + saturate.
  BlockOptions default_options() const;

  friend bool operator==(const BlockFormat& a, const BlockFormat& b) { return a.name_ == b.name_; }

 private:
  std::string name_;
  std::vector<std::string> aliases_;
  BlockScaling scaling_;
  std::size_t block_size_;
  Format element_;
  Format scale_;
  std::string description_;
};

// mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4 (alias mxfp4_e2m1), mxint8, nvfp4; case-insensitive.
// Throws UnknownFormatError naming the text and listing the known names.
const BlockFormat& find_block_format(std::string_view name);
const std::vector<BlockFormat>& listed_block_formats();

// The E8M0 code of the MX shared scale for a block whose largest magnitude is `amax` (any sign; NaN or
// inf give the NaN code 0xFF), per the rules above.
std::uint8_t mx_scale_code(const Unpacked& amax, int emax_elem);

// NVFP4's per-tensor scale: fp32(amax / 2688) over the finite values (nearest-even), at least 2^-149.
float nvfp4_tensor_scale(std::span<const float> values);
// NVFP4's block scale code: e4m3(block_amax / (6 * tensor_scale)), nearest-even and saturating; 1.0
// (0x38) for a zero amax. `block_amax` must be finite and >= 0, `tensor_scale` finite and > 0.
std::uint8_t nvfp4_block_scale_code(float block_amax, float tensor_scale);

// Encodes `values` into caller buffers: `elements` must hold element_bytes(values.size()) bytes and
// `scales` block_count(values.size()) bytes. `tensor_scale` must be 1 for MX formats and finite and > 0
// for NVFP4. Throws RangeError naming the buffer or option and the bad value.
void encode_blocks(const BlockFormat& format, std::span<const float> values, std::span<std::uint8_t> elements,
                   std::span<std::uint8_t> scales, float tensor_scale, const BlockOptions& options);

struct EncodedBlocks {
  std::vector<std::uint8_t> elements;  // packed element codes (layout above)
  std::vector<std::uint8_t> scales;    // one scale code per block
  float tensor_scale = 1.0f;           // NVFP4: nvfp4_tensor_scale(values); MX: 1
};
// Encodes with the format's default options, or `options`; NVFP4 takes its tensor scale from the values.
EncodedBlocks encode_blocks(const BlockFormat& format, std::span<const float> values);
EncodedBlocks encode_blocks(const BlockFormat& format, std::span<const float> values,
                            const BlockOptions& options);

// Decodes `out.size()` elements. Each value is the exact product element * scale (* tensor scale),
// rounded once to fp32 (nearest-even; beyond fp32's range: +-inf). A NaN scale makes its whole block NaN.
// Buffer sizes are checked as for encode_blocks.
void decode_blocks(const BlockFormat& format, std::span<const std::uint8_t> elements,
                   std::span<const std::uint8_t> scales, std::span<float> out, float tensor_scale = 1.0f);

// One block given as bytes: the scale byte, then packed elements (up to one block; as many elements as
// the bytes hold whole). For the CLI's `decode --format mxfp4 <hex bytes>`.
struct DecodedBlock {
  std::uint8_t scale_code = 0;
  Unpacked scale;                   // the block scale's exact value, without the tensor scale (NaN: NaN)
  std::vector<std::uint8_t> codes;  // element codes
  std::vector<Unpacked> exact;      // exact element * scale * tensor_scale (NaN under a NaN scale)
  std::vector<float> values;        // the same rounded to fp32, as decode_blocks gives
};
DecodedBlock decode_block(const BlockFormat& format, std::span<const std::uint8_t> bytes,
                          float tensor_scale = 1.0f);

}  // namespace lowbit
