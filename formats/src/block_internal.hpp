// Pieces shared by the block-format sources (block*.cpp): the packed element stream, exact products and
// quotients of Unpacked values (rounded once afterwards by the engine), and the per-block codecs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/formats/block.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit::detail {

// The packed element stream (layout in block.hpp): element j at bits bits*j .. bits*j + bits - 1.
std::size_t packed_bytes(std::size_t count, int bits);
std::uint8_t read_code(std::span<const std::uint8_t> packed, int bits, std::size_t index);
// `packed` must be zeroed first where it is written to (codes are OR-ed in).
void write_code(std::span<std::uint8_t> packed, int bits, std::size_t index, std::uint8_t code);

// Exact product of two finite values (zero included); a product wider than 64 bits keeps a sticky bit,
// so rounding the result once is still a correct rounding.
Unpacked multiply(const Unpacked& a, const Unpacked& b);
// x / d for finite x (zero included) and finite nonzero d: 64 quotient bits and a sticky remainder.
Unpacked divide(const Unpacked& x, const Unpacked& d);

// The largest finite magnitude of `values` (as fp32) and whether any is NaN or infinite.
struct BlockMagnitude {
  float finite_amax = 0.0f;
  bool has_special = false;
};
BlockMagnitude block_magnitude(std::span<const float> values);

// One block: element codes (one per byte, unpacked) and the returned scale code. `random_offset` is the
// index of the block's first element in options.random.
std::uint8_t encode_mx_block(const BlockFormat& format, std::span<const float> values,
                             std::span<std::uint8_t> codes, const BlockOptions& options,
                             std::size_t random_offset);
std::uint8_t encode_nvfp4_block(std::span<const float> values, std::span<std::uint8_t> codes,
                                float tensor_scale, const BlockOptions& options, std::size_t random_offset);

// The exact value of one element under its block scale (and tensor scale): NaN under a NaN scale.
Unpacked mx_scale_value(std::uint8_t scale_code);
Unpacked decode_mx_element(const BlockFormat& format, std::uint8_t scale_code, std::uint8_t code);
Unpacked decode_nvfp4_element(std::uint8_t scale_code, std::uint8_t code, float tensor_scale);

}  // namespace lowbit::detail
