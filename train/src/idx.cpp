#include "lowbit/train/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "lowbit/formats/error.hpp"

namespace lowbit::train {
namespace {

// Data is read in pieces this size, so a header that claims more data than the file holds ends in a
// "truncated" error instead of one huge allocation.
constexpr std::size_t kChunkBytes = std::size_t{1} << 22;
// The IDX header stores the dimension count in one byte, but real files have 1 to 4.
constexpr int kMaxDims = 16;

class GzFile {
 public:
  explicit GzFile(const std::filesystem::path& path) : name_(path.string()) {
    errno = 0;
    file_ = ::gzopen(path.c_str(), "rb");
    if (!file_) {
      throw FileError(
          fmt::format("cannot open '{}': {}", name_, errno ? std::strerror(errno) : "out of memory"));
    }
  }
  ~GzFile() {
    if (file_) ::gzclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to `bytes`; returns the count, fewer only at the end of the data. Throws on corrupt gzip.
  std::size_t read(void* data, std::size_t bytes, const char* field) {
    std::size_t done = 0;
    auto* p = static_cast<unsigned char*>(data);
    while (done < bytes) {
      const unsigned piece = static_cast<unsigned>(std::min<std::size_t>(bytes - done, 1u << 30));
      const int n = ::gzread(file_, p + done, piece);
      if (n < 0) fail(field);
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    // zlib reports a gzip stream cut short (missing data or trailer) as an error after the last read.
    int code = Z_OK;
    ::gzerror(file_, &code);
    if (code != Z_OK) fail(field);
    return done;
  }

  const std::string& name() const { return name_; }

 private:
  [[noreturn]] void fail(const char* field) {
    int code = Z_OK;
    const char* message = ::gzerror(file_, &code);
    if (code == Z_ERRNO) message = std::strerror(errno);
    if (code == Z_BUF_ERROR) {
      throw FileError(fmt::format("{}: {}: the gzip stream is truncated ({})", name_, field, message));
    }
    throw FileError(fmt::format("{}: {}: corrupt gzip data ({})", name_, field, message));
  }

  std::string name_;
  gzFile file_ = nullptr;
};

void swap_to_host(std::vector<std::uint8_t>& data, std::size_t width) {
  if (width == 1 || std::endian::native == std::endian::big) return;
  for (std::size_t i = 0; i + width <= data.size(); i += width) std::reverse(&data[i], &data[i] + width);
}

}  // namespace

std::size_t idx_element_bytes(IdxType type) {
  switch (type) {
    case IdxType::u8:
    case IdxType::i8:
      return 1;
    case IdxType::i16:
      return 2;
    case IdxType::i32:
    case IdxType::f32:
      return 4;
    case IdxType::f64:
      return 8;
  }
  return 0;
}

std::int64_t IdxArray::element_count() const {
  std::int64_t count = 1;
  for (const std::int64_t d : dims) count *= d;  // bounded by the data read
  return count;
}

IdxArray read_idx(const std::filesystem::path& path) {
  GzFile in(path);
  const std::string& f = in.name();
  unsigned char magic[4];
  const std::size_t got = in.read(magic, 4, "magic");
  if (got < 4) {
    throw FileError(fmt::format(
        "{}: magic: the file has {} bytes, fewer than the 4 of the IDX magic (truncated)", f, got));
  }
  if (magic[0] != 0 || magic[1] != 0) {
    throw FileError(
        fmt::format("{}: magic 0x{:02x}{:02x}{:02x}{:02x} does not start with two zero bytes (not an "
                    "IDX file)",
                    f, magic[0], magic[1], magic[2], magic[3]));
  }
  IdxArray array;
  array.type = static_cast<IdxType>(magic[2]);
  const std::size_t width = idx_element_bytes(array.type);
  if (width == 0) {
    throw FileError(
        fmt::format("{}: magic: type code 0x{:02x} is not an IDX type (0x08 u8, 0x09 i8, 0x0B i16, "
                    "0x0C i32, 0x0D f32, 0x0E f64)",
                    f, magic[2]));
  }
  const int rank = magic[3];
  if (rank == 0 || rank > kMaxDims) {
    throw FileError(fmt::format("{}: magic: {} dimensions (expected 1 to {})", f, rank, kMaxDims));
  }
  std::vector<unsigned char> dims(4 * static_cast<std::size_t>(rank));
  if (in.read(dims.data(), dims.size(), "dimensions") < dims.size()) {
    throw FileError(
        fmt::format("{}: dimensions: the file ends inside the {} dimension sizes (truncated)", f, rank));
  }
  std::uint64_t total = width;
  for (int i = 0; i < rank; ++i) {
    const unsigned char* d = &dims[4 * static_cast<std::size_t>(i)];
    const std::uint32_t size = (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) |
                               (std::uint32_t{d[2]} << 8) | std::uint32_t{d[3]};
    array.dims.push_back(size);
    if (__builtin_mul_overflow(total, std::uint64_t{size}, &total) ||
        total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw FileError(
          fmt::format("{}: dimensions [{}...] overflow the data size", f, fmt::join(array.dims, ", ")));
    }
  }
  while (array.data.size() < total) {
    const std::size_t before = array.data.size();
    const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(total - before, kChunkBytes));
    array.data.resize(before + piece);
    const std::size_t n = in.read(array.data.data() + before, piece, "data");
    if (n < piece) {
      throw FileError(
          fmt::format("{}: data: dimensions [{}] need {} bytes of data, the file has {} (truncated)", f,
                      fmt::join(array.dims, ", "), total, before + n));
    }
  }
  unsigned char extra[64];
  const std::size_t trailing = in.read(extra, sizeof extra, "data");
  if (trailing > 0) {
    throw FileError(fmt::format("{}: data: trailing bytes after the {} bytes that dimensions [{}] describe",
                                f, total, fmt::join(array.dims, ", ")));
  }
  swap_to_host(array.data, width);
  return array;
}

}  // namespace lowbit::train
