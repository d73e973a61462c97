// quantize_row / dequantize_row: checks, then the block family of the type. The plain types (f32, f16,
// bf16) convert through the formats library's bulk path (round-to-nearest-even, as ggml does).
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/quant/ggml_quants.hpp"
#include "quants_internal.hpp"

namespace lowbit::quant {

std::uint16_t fp32_to_fp16(float x) {
  return float16::from(x).bits();
}
float fp16_to_fp32(std::uint16_t bits) {
  return float16::from_bits(bits).to_float();
}

bool can_quantize(GgmlType type) {
  switch (type) {
    case GgmlType::f32:
    case GgmlType::f16:
    case GgmlType::bf16:
    case GgmlType::q8_0:
    case GgmlType::q4_0:
    case GgmlType::q4_1:
    case GgmlType::q5_0:
    case GgmlType::q5_1:
    case GgmlType::q4_k:
    case GgmlType::q5_k:
    case GgmlType::q6_k:
      return true;
    default:
      return false;
  }
}

bool can_dequantize(GgmlType type) {
  return can_quantize(type);
}

namespace {

// NaN and infinity have the largest magnitude bits; one integer max over the row finds them.
LOWBIT_QUANT_CLONES void check_finite(const float* x, std::int64_t n) {
  std::uint32_t worst = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, 4);
    bits &= 0x7fffffffu;
    worst = bits > worst ? bits : worst;
  }
  if (worst < 0x7f800000u) return;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      throw RangeError(fmt::format("element {} is {}: block quantization needs finite values", i, x[i]));
    }
  }
}

void check_blocks(GgmlType type, std::int64_t n) {
  const auto& info = ggml_type_info(type);
  if (n < 0 || n % info.block_size != 0) {
    throw RangeError(
        fmt::format("{} elements are not a whole number of {} blocks of {}", n, info.name, info.block_size));
  }
}

}  // namespace

void quantize_row(GgmlType type, const float* x, std::int64_t n, std::uint8_t* out) {
  check_blocks(type, n);
  const auto count = static_cast<std::size_t>(n);
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out, x, count * 4);
      return;
    case GgmlType::f16:
      convert_bulk(dtype_format(DType::float32), x, dtype_format(DType::float16), out, count);
      return;
    case GgmlType::bf16:
      convert_bulk(dtype_format(DType::float32), x, dtype_format(DType::bfloat16), out, count);
      return;
    default:
      break;
  }
  check_finite(x, n);
  const std::int64_t blocks = n / ggml_type_info(type).block_size;
  switch (type) {
    case GgmlType::q8_0:
      return detail::quantize_q8_0(x, blocks, out);
    case GgmlType::q4_0:
      return detail::quantize_q4_0(x, blocks, out);
    case GgmlType::q4_1:
      return detail::quantize_q4_1(x, blocks, out);
    case GgmlType::q5_0:
      return detail::quantize_q5_0(x, blocks, out);
    case GgmlType::q5_1:
      return detail::quantize_q5_1(x, blocks, out);
    case GgmlType::q4_k:
      return detail::quantize_q4_k(x, blocks, out);
    case GgmlType::q5_k:
      return detail::quantize_q5_k(x, blocks, out);
    case GgmlType::q6_k:
      return detail::quantize_q6_k(x, blocks, out);
    default:
      throw RangeError(fmt::format("lowbit cannot quantize to {}", ggml_type_name(type)));
  }
}

void dequantize_row(GgmlType type, const std::uint8_t* in, std::int64_t n, float* out) {
  check_blocks(type, n);
  const auto count = static_cast<std::size_t>(n);
  const std::int64_t blocks = n / ggml_type_info(type).block_size;
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out, in, count * 4);
      return;
    case GgmlType::f16:
      return convert_bulk(dtype_format(DType::float16), in, dtype_format(DType::float32), out, count);
    case GgmlType::bf16:
      return convert_bulk(dtype_format(DType::bfloat16), in, dtype_format(DType::float32), out, count);
    case GgmlType::q8_0:
      return detail::dequantize_q8_0(in, blocks, out);
    case GgmlType::q4_0:
      return detail::dequantize_q4_0(in, blocks, out);
    case GgmlType::q4_1:
      return detail::dequantize_q4_1(in, blocks, out);
    case GgmlType::q5_0:
      return detail::dequantize_q5_0(in, blocks, out);
    case GgmlType::q5_1:
      return detail::dequantize_q5_1(in, blocks, out);
    case GgmlType::q4_k:
      return detail::dequantize_q4_k(in, blocks, out);
    case GgmlType::q5_k:
      return detail::dequantize_q5_k(in, blocks, out);
    case GgmlType::q6_k:
      return detail::dequantize_q6_k(in, blocks, out);
    default:
      throw RangeError(fmt::format("lowbit cannot dequantize {}", ggml_type_name(type)));
  }
}

}  // namespace lowbit::quant
