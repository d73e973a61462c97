// Reading a safetensors tensor's elements as fp32, in ranges, through the formats library's bulk path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "lowbit/quant/ggml_type.hpp"
#include "lowbit/train/safetensors.hpp"

namespace lowbit::quant::detail {

// Whether the dtype holds floats lowbit can read as fp32 (F64, F32, F16, BF16, F8_E4M3, F8_E5M2).
bool is_float_dtype(std::string_view dtype);
// Elements [first, first + count) of `tensor` as fp32 into `out`. Throws FileError naming the tensor when
// its dtype is not a float lowbit reads.
void read_f32(const train::SafetensorsTensor& tensor, std::uint64_t first, std::uint64_t count, float* out);
// Drops the pages of a tensor read from a file mapping from this process's memory once it is done with
// (madvise MADV_DONTNEED on the whole pages inside it): the input file is not changed, a later read maps the
// pages again, and the resident set stays at a few tensors however large the checkpoint.
void release_pages(std::span<const std::uint8_t> data);
// The GGUF type that stores the dtype's bytes unchanged (F32 -> f32, BF16 -> bf16, I64 -> i64, ...).
std::optional<GgmlType> gguf_type_of_dtype(std::string_view dtype);
// The inverse, for dequantizing: the safetensors dtype of a GGUF plain type.
std::optional<std::string_view> dtype_of_gguf_type(GgmlType type);

}  // namespace lowbit::quant::detail
