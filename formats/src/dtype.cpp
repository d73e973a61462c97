#include "lowbit/formats/dtype.hpp"

#include <fmt/format.h>

#include <array>

#include "lowbit/formats/error.hpp"

namespace lowbit {

namespace {

constexpr std::size_t kCount = std::size(kAllDTypes);

const std::array<Format, kCount>& dtype_formats() {
  static const std::array<Format, kCount> formats = [] {
    auto at = [](DType t) { return find_format(dtype_name(t)); };
    return std::array<Format, kCount>{at(DType::float64), at(DType::float32),       at(DType::bfloat16),
                                      at(DType::float16), at(DType::float8_e4m3fn), at(DType::float8_e5m2),
                                      at(DType::int32),   at(DType::int8),          at(DType::uint8),
                                      at(DType::int4)};
  }();
  return formats;
}

}  // namespace

std::string_view dtype_name(DType type) {
  switch (type) {
    case DType::float64:
      return "float64";
    case DType::float32:
      return "float32";
    case DType::bfloat16:
      return "bfloat16";
    case DType::float16:
      return "float16";
    case DType::float8_e4m3fn:
      return "float8_e4m3fn";
    case DType::float8_e5m2:
      return "float8_e5m2";
    case DType::int32:
      return "int32";
    case DType::int8:
      return "int8";
    case DType::uint8:
      return "uint8";
    case DType::int4:
      return "int4";
  }
  throw RangeError(fmt::format("DType value {} is not a known type", static_cast<int>(type)));
}

const Format& dtype_format(DType type) {
  return dtype_formats().at(static_cast<std::size_t>(type));
}

int dtype_bits(DType type) {
  return dtype_format(type).bits();
}

std::size_t dtype_storage_bytes(DType type, std::size_t count) {
  return (count * static_cast<std::size_t>(dtype_bits(type)) + 7) / 8;
}

DType parse_dtype(std::string_view name) {
  const Format format = find_format(name);
  for (DType type : kAllDTypes) {
    if (dtype_format(type) == format) return type;
  }
  throw RangeError(
      fmt::format("format '{}' ({}) is not a tensor/kernel storage type; use one of float64, float32, "
                  "bfloat16, float16, float8_e4m3fn, float8_e5m2, int32, int8, uint8, int4",
                  name, format.name()));
}

}  // namespace lowbit
