// Reading bf16, e4m3fn and e5m2 operands as bf16 codes while packing. Every fp8 value is exactly a bf16
// value, so the bf16 kernels multiply fp8 inputs with no rounding; the code table comes from formats'
// conversion (NaNs map to NaNs).
#pragma once

#include <array>
#include <cstdint>

#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels::cpu {

// The bf16 code of each fp8 code, exact (from formats' conversion, so NaNs map to NaNs).
inline std::array<std::uint16_t, 256> fp8_to_bf16_table(DType type) {
  std::array<std::uint16_t, 256> t{};
  const Format& from = dtype_format(type);
  const Format& to = dtype_format(DType::bfloat16);
  for (std::uint32_t code = 0; code < 256; ++code)
    t[code] = static_cast<std::uint16_t>(convert(from, to, code));
  return t;
}

inline const std::array<std::uint16_t, 256>& table_for(DType type) {
  static const auto e4m3 = fp8_to_bf16_table(DType::float8_e4m3fn);
  static const auto e5m2 = fp8_to_bf16_table(DType::float8_e5m2);
  return type == DType::float8_e5m2 ? e5m2 : e4m3;
}

// Calls f with a reader of bf16 codes for the operand's type.
template <class F>
inline void with_bf16_reader(DType type, F&& f) {
  if (type == DType::bfloat16) {
    f([](const void* data, std::int64_t i) { return static_cast<const std::uint16_t*>(data)[i]; });
  } else {
    const std::uint16_t* table = table_for(type).data();
    f([table](const void* data, std::int64_t i) { return table[static_cast<const std::uint8_t*>(data)[i]]; });
  }
}

}  // namespace lowbit::kernels::cpu
