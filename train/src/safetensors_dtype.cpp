// The dtype table of the safetensors format and its mapping to lowbit's DType.
#include <array>

#include "lowbit/train/safetensors.hpp"

namespace lowbit::train {
namespace {

struct DTypeInfo {
  std::string_view name;
  int bits;
};

// The reference's enum order (increasing alignment); the writer sorts by it, so it must not change.
constexpr std::array<DTypeInfo, 22> kDTypes = {{
    {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},     {"U8", 8},          {"I8", 8},
    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},    {"F16", 16},    {"BF16", 16},   {"I32", 32},        {"U32", 32},        {"F32", 32},
    {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
}};

constexpr std::array<std::string_view, kDTypes.size()> kNames = [] {
  std::array<std::string_view, kDTypes.size()> names{};
  for (std::size_t i = 0; i < kDTypes.size(); ++i) names[i] = kDTypes[i].name;
  return names;
}();

struct Pair {
  std::string_view name;
  DType type;
};

constexpr Pair kPairs[] = {
    {"F64", DType::float64},
    {"F32", DType::float32},
    {"BF16", DType::bfloat16},
    {"F16", DType::float16},
    {"F8_E4M3", DType::float8_e4m3fn},
    {"F8_E5M2", DType::float8_e5m2},
    {"I32", DType::int32},
    {"I8", DType::int8},
    {"U8", DType::uint8},
};

}  // namespace

std::span<const std::string_view> safetensors_dtype_names() {
  return kNames;
}

std::optional<int> safetensors_dtype_bits(std::string_view dtype) {
  for (const auto& info : kDTypes) {
    if (info.name == dtype) return info.bits;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view dtype) {
  for (const auto& pair : kPairs) {
    if (pair.name == dtype) return pair.type;
  }
  return std::nullopt;
}

std::optional<std::string_view> safetensors_dtype_of(DType type) {
  for (const auto& pair : kPairs) {
    if (pair.type == type) return pair.name;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> safetensors_byte_size(std::string_view dtype,
                                                   std::span<const std::int64_t> shape) {
  const auto bits = safetensors_dtype_bits(dtype);
  if (!bits) return std::nullopt;
  std::uint64_t count = 1;
  for (const std::int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) return std::nullopt;
  }
  std::uint64_t total_bits;
  if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(*bits), &total_bits)) return std::nullopt;
  // Sub-byte dtypes must fill whole bytes, as the reference requires.
  if (total_bits % 8 != 0) return std::nullopt;
  return total_bits / 8;
}

}  // namespace lowbit::train
