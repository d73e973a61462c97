// GGUF (version 3, as ggml's gguf.c and the gguf Python package read it): "GGUF", u32 version, u64 tensor
// count, u64 key-value count; the key-values (string key, u32 value type, value; arrays of one scalar type);
// the tensor infos (name, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml type, u64 offset); padding
// to `general.alignment` (default 32); the tensor data, each tensor at an aligned offset.
//
// The reader maps the file and checks what ggml learned to check after its overflow bugs: counts bounded
// by the bytes that could hold them, string and array lengths within the file, value and tensor types
// known, at most 4 dimensions, element counts and byte sizes without overflow, rows a whole number of
// blocks, offsets aligned, inside the file and not overlapping, names unique, the alignment a power of two.
// Every error is a FileError naming the file, the field (key or tensor name) and the bad value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lowbit/quant/ggml_type.hpp"
#include "lowbit/train/atomic_file.hpp"

namespace lowbit::quant {

inline constexpr std::uint32_t kGgufVersion = 3;
inline constexpr std::uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;  // GGML_MAX_DIMS

// Value type codes of the file format.
enum class GgufValueType : std::uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value: a scalar, or an array of one scalar type (ggml allows no nested arrays). Integers
// are held widened; `type` (and `element_type` for arrays) says how the file stores them.
struct GgufValue {
  using Scalar = std::variant<std::uint64_t, std::int64_t, double, bool, std::string>;

  GgufValueType type = GgufValueType::uint32;
  GgufValueType element_type = GgufValueType::uint8;  // arrays only
  std::vector<Scalar> items;                          // one for a scalar

  static GgufValue u32(std::uint32_t v) { return scalar(GgufValueType::uint32, std::uint64_t{v}); }
  static GgufValue u64(std::uint64_t v) { return scalar(GgufValueType::uint64, v); }
  static GgufValue i32(std::int32_t v) { return scalar(GgufValueType::int32, std::int64_t{v}); }
  static GgufValue f32(float v) { return scalar(GgufValueType::float32, double{v}); }
  static GgufValue boolean(bool v) { return scalar(GgufValueType::boolean, v); }
  static GgufValue string(std::string v) { return scalar(GgufValueType::string, std::move(v)); }
  static GgufValue scalar(GgufValueType type, Scalar v);
  static GgufValue array(GgufValueType element_type, std::vector<Scalar> items);

  bool is_array() const { return type == GgufValueType::array; }
  // The value as text for people: 7, 0.5, "name", [1, 2, 3] (long arrays cut after `max_items`).
  std::string to_string(std::size_t max_items = 8) const;
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

struct GgufTensor {
  std::string name;
  std::vector<std::uint64_t> ne;  // ggml order: ne[0] is the row (innermost) length
  GgmlType type = GgmlType::f32;
  std::uint64_t offset = 0;  // from the start of the data section
  std::uint64_t bytes = 0;
  std::span<const std::uint8_t> data;  // inside the reader's mapping

  std::uint64_t element_count() const;
  // Row-major shape (numpy / safetensors order): ne reversed.
  std::vector<std::int64_t> shape() const;
};

class GgufFile {
 public:
  // Maps `path` read-only and validates it; throws FileError.
  static GgufFile open(const std::filesystem::path& path);
  // Validates an in-memory image (`bytes` must outlive the result); `name` appears in messages.
  static GgufFile parse(std::span<const std::uint8_t> bytes, const std::string& name);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  std::uint32_t version() const { return version_; }
  std::uint32_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }
  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufValue* find_metadata(std::string_view key) const;
  const GgufTensor* find(std::string_view name) const;

 private:
  struct Mapping;
  GgufFile() = default;

  std::unique_ptr<Mapping> mapping_;
  std::uint32_t version_ = 0, alignment_ = kGgufDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensor> tensors_;
};

// What a tensor will be in the file; its data follows later.
struct GgufTensorPlan {
  std::string name;
  std::vector<std::int64_t> shape;  // row-major (the writer stores it reversed, as ne)
  GgmlType type = GgmlType::f32;
};

// Streams a GGUF file through an AtomicFile: the header at construction (offsets follow from the plans'
// types and shapes), then each tensor's bytes in plan order, then commit(). Validates the plans (unique
// names, at most 4 dimensions, rows a whole number of blocks, sizes without overflow) and the metadata
// (unique keys, an alignment that is a u32 power of two; it is written when not the default).
class GgufWriter {
 public:
  GgufWriter(const std::filesystem::path& path, const GgufMetadata& metadata,
             std::vector<GgufTensorPlan> tensors);
  ~GgufWriter();

  std::uint64_t tensor_bytes(std::size_t index) const { return sizes_.at(index); }
  // The next tensor's bytes, possibly in several calls; a tensor is complete when its size is reached.
  void write(std::span<const std::uint8_t> bytes);
  // Throws FileError unless every tensor was written in full.
  void commit();

 private:
  std::filesystem::path path_;
  std::vector<GgufTensorPlan> tensors_;
  std::vector<std::uint64_t> sizes_;
  std::uint32_t alignment_ = kGgufDefaultAlignment;
  std::unique_ptr<train::AtomicFile> file_;
  std::size_t current_ = 0;
  std::uint64_t written_in_current_ = 0;
};

}  // namespace lowbit::quant
