// The IDX format of MNIST and Fashion-MNIST: two zero bytes, a type code, the number of dimensions, the
// dimensions as big-endian 32-bit integers, then the elements (big-endian). Read directly from .gz (or an
// uncompressed file) with zlib; every defect (truncation, corrupt gzip, bad magic, overflowing dimensions,
// trailing data) is a FileError naming the file and the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace lowbit::train {

enum class IdxType : std::uint8_t {
  u8 = 0x08,
  i8 = 0x09,
  i16 = 0x0B,
  i32 = 0x0C,
  f32 = 0x0D,
  f64 = 0x0E,
};

// Bytes per element: 1, 1, 2, 4, 4, 8.
std::size_t idx_element_bytes(IdxType type);

struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<std::int64_t> dims;
  // The elements in host byte order (multi-byte types are swapped from the file's big-endian).
  std::vector<std::uint8_t> data;

  std::int64_t element_count() const;
};

// Reads an IDX file, gzip-compressed or not (zlib detects which).
IdxArray read_idx(const std::filesystem::path& path);

}  // namespace lowbit::train
