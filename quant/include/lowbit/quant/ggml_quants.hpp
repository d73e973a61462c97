// ggml's reference block quantizers (quantize_row_*_ref in ggml-quants.c, what llama-quantize runs without
// an importance matrix) and their dequantizers, bit for bit: the same float operations in the same order,
// compiled without contraction into fused multiply-adds. Scales go to fp16 with round-to-nearest-even, as
// GGML_FP32_TO_FP16 does.
#pragma once

#include <cstdint>

#include "lowbit/quant/ggml_type.hpp"

namespace lowbit::quant {

// f32, f16, bf16 (round-to-nearest-even), q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K.
bool can_quantize(GgmlType type);
// The types of can_quantize.
bool can_dequantize(GgmlType type);

// Quantizes `n` floats (a whole number of the type's blocks) into ggml_tensor_bytes(type, n, n) bytes at
// `out`. Throws RangeError on a NaN or infinity (ggml's result for them is garbage), naming the element.
void quantize_row(GgmlType type, const float* x, std::int64_t n, std::uint8_t* out);
// The inverse: `n` floats from the blocks at `in`.
void dequantize_row(GgmlType type, const std::uint8_t* in, std::int64_t n, float* out);

// fp16 with round-to-nearest-even, and back (exact): the scale conversions every block type uses.
std::uint16_t fp32_to_fp16(float x);
float fp16_to_fp32(std::uint16_t bits);

}  // namespace lowbit::quant
