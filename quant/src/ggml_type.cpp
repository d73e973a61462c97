#include "lowbit/quant/ggml_type.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace lowbit::quant {
namespace {

// ggml's type_traits (block size, bytes per block); the gguf package's GGML_QUANT_SIZES agrees.
constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::f32, "f32", 1, 4},
    {GgmlType::f16, "f16", 1, 2},
    {GgmlType::q4_0, "q4_0", 32, 18},
    {GgmlType::q4_1, "q4_1", 32, 20},
    {GgmlType::q5_0, "q5_0", 32, 22},
    {GgmlType::q5_1, "q5_1", 32, 24},
    {GgmlType::q8_0, "q8_0", 32, 34},
    {GgmlType::q8_1, "q8_1", 32, 40},
    {GgmlType::q2_k, "q2_K", 256, 84},
    {GgmlType::q3_k, "q3_K", 256, 110},
    {GgmlType::q4_k, "q4_K", 256, 144},
    {GgmlType::q5_k, "q5_K", 256, 176},
    {GgmlType::q6_k, "q6_K", 256, 210},
    {GgmlType::q8_k, "q8_K", 256, 292},
    {GgmlType::iq2_xxs, "iq2_xxs", 256, 66},
    {GgmlType::iq2_xs, "iq2_xs", 256, 74},
    {GgmlType::iq3_xxs, "iq3_xxs", 256, 98},
    {GgmlType::iq1_s, "iq1_s", 256, 50},
    {GgmlType::iq4_nl, "iq4_nl", 32, 18},
    {GgmlType::iq3_s, "iq3_s", 256, 110},
    {GgmlType::iq2_s, "iq2_s", 256, 82},
    {GgmlType::iq4_xs, "iq4_xs", 256, 136},
    {GgmlType::i8, "i8", 1, 1},
    {GgmlType::i16, "i16", 1, 2},
    {GgmlType::i32, "i32", 1, 4},
    {GgmlType::i64, "i64", 1, 8},
    {GgmlType::f64, "f64", 1, 8},
    {GgmlType::iq1_m, "iq1_m", 256, 56},
    {GgmlType::bf16, "bf16", 1, 2},
    {GgmlType::tq1_0, "tq1_0", 256, 54},
    {GgmlType::tq2_0, "tq2_0", 256, 66},
    {GgmlType::mxfp4, "mxfp4", 32, 17},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::span<const GgmlTypeInfo> ggml_types() {
  return kTypes;
}

const GgmlTypeInfo* ggml_type_info(std::uint32_t code) {
  for (const auto& t : kTypes) {
    if (static_cast<std::uint32_t>(t.type) == code) return &t;
  }
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  return *ggml_type_info(static_cast<std::uint32_t>(type));
}

std::string_view ggml_type_name(GgmlType type) {
  return ggml_type_info(type).name;
}

std::optional<GgmlType> parse_ggml_type(std::string_view name) {
  const std::string wanted = lower(name);
  for (const auto& t : kTypes) {
    if (lower(t.name) == wanted) return t.type;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ggml_tensor_bytes(GgmlType type, std::uint64_t row, std::uint64_t elements) {
  const auto& info = ggml_type_info(type);
  const auto block = static_cast<std::uint64_t>(info.block_size);
  if (row == 0) return elements == 0 ? std::optional<std::uint64_t>(0) : std::nullopt;
  if (row % block != 0 || elements % row != 0) return std::nullopt;
  const std::uint64_t blocks = elements / block;
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(blocks, static_cast<std::uint64_t>(info.block_bytes), &bytes))
    return std::nullopt;
  return bytes;
}

}  // namespace lowbit::quant
