#include "source_tensor.hpp"

#include <fmt/format.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::quant::detail {
namespace {

constexpr std::pair<std::string_view, GgmlType> kPlain[] = {
    {"F32", GgmlType::f32}, {"F16", GgmlType::f16}, {"BF16", GgmlType::bf16}, {"F64", GgmlType::f64},
    {"I8", GgmlType::i8},   {"I16", GgmlType::i16}, {"I32", GgmlType::i32},   {"I64", GgmlType::i64},
};

}  // namespace

bool is_float_dtype(std::string_view dtype) {
  const auto type = train::dtype_from_safetensors(dtype);
  if (!type) return false;
  switch (*type) {
    case DType::float64:
    case DType::float32:
    case DType::bfloat16:
    case DType::float16:
    case DType::float8_e4m3fn:
    case DType::float8_e5m2:
      return true;
    default:
      return false;
  }
}

void read_f32(const train::SafetensorsTensor& tensor, std::uint64_t first, std::uint64_t count, float* out) {
  if (!is_float_dtype(tensor.dtype)) {
    throw FileError(fmt::format("tensor \"{}\": dtype {} is not a float type lowbit can quantize",
                                tensor.name, tensor.dtype));
  }
  const DType type = *train::dtype_from_safetensors(tensor.dtype);
  const std::size_t width = dtype_storage_bytes(type, 1);
  const std::uint8_t* src = tensor.data.data() + first * width;
  if (type == DType::float32) {
    std::memcpy(out, src, count * 4);
    return;
  }
  convert_bulk(dtype_format(type), src, dtype_format(DType::float32), out, count);
}

void release_pages(std::span<const std::uint8_t> data) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data.data()) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(data.data()) + data.size()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advice only
}

std::optional<GgmlType> gguf_type_of_dtype(std::string_view dtype) {
  for (const auto& [name, type] : kPlain) {
    if (name == dtype) return type;
  }
  return std::nullopt;
}

std::optional<std::string_view> dtype_of_gguf_type(GgmlType type) {
  for (const auto& [name, t] : kPlain) {
    if (t == type) return name;
  }
  return std::nullopt;
}

}  // namespace lowbit::quant::detail
