// Quantizing a whole checkpoint: safetensors in (one file or sharded), GGUF out, tensor by tensor from the
// mapped input in chunks of rows, so memory stays at a few chunks whatever the checkpoint's size; the
// output streams through an AtomicFile and appears only when complete. And the way back: a GGUF file
// dequantized to safetensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/quant/error_stats.hpp"
#include "lowbit/train/safetensors.hpp"

namespace lowbit::quant {

struct TensorReport {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string source_dtype;  // safetensors name: "F32", "BF16", ...
  std::string scheme;        // what it became: "q4_K", "keep", ...
  std::string stored_as;     // the GGUF type written ("f32" for a kept F32)
  std::string reason;        // why (see Decision)
  std::uint64_t elements = 0;
  std::uint64_t bytes_before = 0, bytes_after = 0;
  ErrorStats error;

  double bits_per_weight() const;
};

struct QuantizeReport {
  std::vector<TensorReport> tensors;
  std::uint64_t bytes_before() const;
  std::uint64_t bytes_after() const;
  // Over the elements of the tensors that were quantized (not kept), together: kept norms would swamp it.
  ErrorStats total_error() const;
};

using Progress = std::function<void(std::uint64_t done_bytes, std::uint64_t total_bytes)>;

struct QuantizeOptions {
  std::string scheme = "q8_0";     // a scheme (rules.hpp) or a named mix (q4_K_M, q5_K_M)
  std::vector<std::string> rules;  // "REGEX=SCHEME", first match wins
  int threads = 2;
  Progress progress;  // called after each chunk, with input bytes
};

// Quantizes `input` into the GGUF file `output` (written to a temporary and renamed). Throws RangeError
// for a bad scheme or rule, FileError for unreadable input or an unwritable output; on any error no output
// file is left behind.
QuantizeReport quantize_to_gguf(const train::SafetensorsCheckpoint& input,
                                const std::filesystem::path& output, const QuantizeOptions& options);

// Writes every tensor of the GGUF file `input` to the safetensors file `output`: the block types
// dequantized to `dtype` (F32, F16 or BF16); f32/f16/bf16 tensors converted to it; integer tensors copied.
void dequantize_gguf(const std::filesystem::path& input, const std::filesystem::path& output,
                     std::string_view dtype, const Progress& progress = {});

}  // namespace lowbit::quant

namespace lowbit::quant {

// Quantizes `input` into a compressed-tensors safetensors file `output` (schemes: compressed_tensors.hpp;
// rules "REGEX=SCHEME" with those schemes or keep). Only 2-D `*.weight` tensors are quantized; rows whose
// length is not a whole number of groups fall back to per-channel scales. The quantization_config goes
// into the file's metadata ("quantization_config") and into a config.json beside the output (the input's
// config.json with it added, when there is one), unless that would overwrite the input's own config.json.
// Memory: one tensor at a time, in fp32.
QuantizeReport quantize_to_compressed_tensors(const train::SafetensorsCheckpoint& input,
                                              const std::filesystem::path& output,
                                              const QuantizeOptions& options);

// Dequantizes a compressed-tensors file written by lowbit (its metadata's quantization_config) into plain
// safetensors: every quantized module's weight as `dtype` (F32, F16, BF16), the other tensors copied.
void dequantize_compressed_tensors(const std::filesystem::path& input, const std::filesystem::path& output,
                                   std::string_view dtype, const Progress& progress = {});

}  // namespace lowbit::quant
