// The tensor types of ggml as GGUF files store them: their codes, names, block sizes and block bytes
// (ggml's type_traits table), and checked size arithmetic over them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lowbit::quant {

// ggml_type codes; the values are the file format and must not change.
enum class GgmlType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;  // ggml's name: "f32", "q4_0", "q4_K", ...
  int block_size;         // elements per block (1 for plain types)
  int block_bytes;        // bytes per block
};

// Every type lowbit knows the layout of (it can size and copy them; quantize_rows covers fewer).
std::span<const GgmlTypeInfo> ggml_types();
// nullptr for a code outside the table (a newer or removed type).
const GgmlTypeInfo* ggml_type_info(std::uint32_t code);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
std::string_view ggml_type_name(GgmlType type);
// Case-insensitive ("Q4_K", "q4_k", "F16"); nullopt when unknown.
std::optional<GgmlType> parse_ggml_type(std::string_view name);

// Bytes of a tensor of `elements` elements whose rows hold `row` elements; nullopt when `row` is not a
// whole number of blocks or the product overflows 64 bits.
std::optional<std::uint64_t> ggml_tensor_bytes(GgmlType type, std::uint64_t row, std::uint64_t elements);

}  // namespace lowbit::quant
