// safetensors, the Hugging Face checkpoint format: an 8-byte little-endian header length N, N bytes of
// JSON header ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}),
// then the byte buffer. Reading maps the file and validates it as the reference implementation (the Rust
// crate) does; writing streams tensors through an AtomicFile, so an output appears only when complete.
// Every error is a FileError naming the file, the field and the bad value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/train/atomic_file.hpp"

namespace lowbit::train {

// The reference implementation refuses larger headers (a guard against memory exhaustion).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// ---- dtypes ------------------------------------------------------------------------------------------
// Every dtype of the format (safetensors 0.8: BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0,
// F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64), in the reference's
// order (increasing alignment), which the writer sorts by.
std::span<const std::string_view> safetensors_dtype_names();
// Bits per element (4 for F4, 6 for F6_*), or nullopt for a name outside the format.
std::optional<int> safetensors_dtype_bits(std::string_view dtype);
// The lowbit DType stored as `dtype` (F32 -> float32, BF16 -> bfloat16, F8_E4M3 -> float8_e4m3fn, ...), or
// nullopt where lowbit has none (I64, BOOL, F4, ...).
std::optional<DType> dtype_from_safetensors(std::string_view dtype);
// The safetensors name of a DType, or nullopt where the format has none (int4).
std::optional<std::string_view> safetensors_dtype_of(DType type);
// Bytes of `shape` elements of `dtype`, with overflow-checked arithmetic; nullopt on overflow, on a
// sub-byte total that is not a whole number of bytes, or on an unknown dtype.
std::optional<std::uint64_t> safetensors_byte_size(std::string_view dtype,
                                                   std::span<const std::int64_t> shape);

// ---- reading -----------------------------------------------------------------------------------------
struct SafetensorsTensor {
  std::string name;
  std::string dtype;                   // "F32", "BF16", ...
  std::vector<std::int64_t> shape;     // row-major; [] is a scalar
  std::uint64_t begin = 0, end = 0;    // data_offsets, relative to the byte buffer
  std::span<const std::uint8_t> data;  // the bytes, inside the file's read-only mapping

  std::int64_t element_count() const;
};

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates it; throws FileError.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates an in-memory file image (`bytes` must outlive the result); `name` appears in messages.
  static SafetensorsFile parse(std::span<const std::uint8_t> bytes, const std::string& name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  // In file order (increasing data_offsets).
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // __metadata__ (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::uint64_t header_bytes() const { return header_bytes_; }

  // nullptr when absent.
  const SafetensorsTensor* find(std::string_view name) const;
  // Throws FileError naming the file and the tensor when absent.
  const SafetensorsTensor& at(std::string_view name) const;

 private:
  struct Mapping;
  SafetensorsFile() = default;

  std::filesystem::path path_;
  std::unique_ptr<Mapping> mapping_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t header_bytes_ = 0;
};

// A checkpoint as one logical collection of tensors: a single .safetensors file, or a sharded one
// described by `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shard file}}).
class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file, an index .json file, or a directory holding model.safetensors or
  // model.safetensors.index.json. Shards are validated: every shard exists and is a valid file, every
  // tensor of the weight map is in its shard, and every tensor of a shard is listed there (a tensor in
  // two shards is an error). Throws FileError.
  static SafetensorsCheckpoint open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  bool sharded() const { return sharded_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Tensors of all shards, sorted by name.
  const std::vector<const SafetensorsTensor*>& tensors() const { return tensors_; }
  // The index's "metadata" (non-string values as JSON text, e.g. total_size), or the single file's
  // __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const SafetensorsTensor* find(std::string_view name) const;
  // Throws FileError naming the checkpoint (and the shard the index names) and the tensor.
  const SafetensorsTensor& at(std::string_view name) const;
  // The file holding tensor `name` (throws like at()).
  const SafetensorsFile& file_of(std::string_view name) const;

 private:
  std::filesystem::path path_;
  bool sharded_ = false;
  std::vector<SafetensorsFile> files_;
  std::vector<const SafetensorsTensor*> tensors_;
  std::map<std::string, std::pair<const SafetensorsTensor*, std::size_t>, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// ---- writing -----------------------------------------------------------------------------------------
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  // The bytes (little-endian, row-major), when `stream` is empty.
  std::span<const std::uint8_t> data;
  // Otherwise called once, in file order, to write exactly the tensor's byte size into the file, so a large
  // checkpoint streams without holding every tensor in memory.
  std::function<void(AtomicFile&)> stream;

  static SafetensorsEntry bytes(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                                std::span<const std::uint8_t> data);
  static SafetensorsEntry streamed(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                                   std::function<void(AtomicFile&)> stream);
};

// The header the writer produces (without the 8-byte length): tensors sorted as the reference writer does
// (by dtype, widest alignment first, then by name), compact JSON with __metadata__ first, padded with spaces
// to a multiple of 8 bytes so the data buffer starts aligned. Validates the entries (known dtype,
// non-negative shape, byte size without overflow, data size, unique names); `path` is for messages.
std::string safetensors_header(std::span<const SafetensorsEntry> entries,
                               const std::map<std::string, std::string>& metadata,
                               const std::filesystem::path& path);

// Writes a safetensors file through an AtomicFile: the target appears only once complete.
void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsEntry> entries,
                       const std::map<std::string, std::string>& metadata = {});

// Writes model.safetensors.index.json-style JSON: {"metadata": {"total_size": N, ...}, "weight_map": {...}}.
void write_safetensors_index(const std::filesystem::path& path, std::uint64_t total_size,
                             const std::map<std::string, std::string>& weight_map,
                             const std::map<std::string, std::string>& metadata = {});

}  // namespace lowbit::train
