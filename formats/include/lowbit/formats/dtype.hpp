// DType: the storage types that tensors and kernels hold, as a small enum, each tied to its registry
// Format (format.hpp). Kernels and tensors switch on a DType; conversions and printing go through the Format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/formats/format.hpp"

namespace lowbit {

enum class DType : std::uint8_t {
  float64,
  float32,
  bfloat16,
  float16,
  float8_e4m3fn,
  float8_e5m2,
  int32,
  int8,
  uint8,
  int4,  // two per byte, low nibble first (element 2i in bits 0..3 of byte i)
};

inline constexpr DType kAllDTypes[] = {
    DType::float64,     DType::float32, DType::bfloat16, DType::float16, DType::float8_e4m3fn,
    DType::float8_e5m2, DType::int32,   DType::int8,     DType::uint8,   DType::int4};

// The registry name (ml_dtypes spelling): "float32", "bfloat16", "float8_e4m3fn", "int4", ...
std::string_view dtype_name(DType type);
// The registry Format of the type.
const Format& dtype_format(DType type);
// Bits per element (4 for int4).
int dtype_bits(DType type);
// Bytes for `count` elements, rounded up to whole bytes.
std::size_t dtype_storage_bytes(DType type, std::size_t count);
// The DType a registry name or alias denotes ("fp32", "bf16", "e4m3", ...); throws UnknownFormatError for
// names outside the registry and RangeError for formats that are not a DType.
DType parse_dtype(std::string_view name);

}  // namespace lowbit
