// Reading safetensors files: mmap, then the reference implementation's validation, with messages that
// name the file, the field and the bad value.
#include "lowbit/train/safetensors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "lowbit/formats/error.hpp"
#include "safetensors_json.hpp"

namespace lowbit::train {

using detail::json_excerpt;
using nlohmann::json;

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (address) ::munmap(address, size);
  }
};

std::int64_t SafetensorsTensor::element_count() const {
  std::int64_t count = 1;
  for (const std::int64_t d : shape) count *= d;  // validated on open: cannot overflow
  return count;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

namespace {

[[noreturn]] void bad(const std::string& file, const std::string& message) {
  throw FileError(fmt::format("{}: {}", file, message));
}

std::vector<std::int64_t> parse_shape(const json& value, const std::string& file, const std::string& name) {
  if (!value.is_array()) {
    bad(file, fmt::format("tensor \"{}\": shape must be an array of non-negative integers, not {}", name,
                          json_excerpt(value)));
  }
  std::vector<std::int64_t> shape;
  for (const auto& d : value) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      bad(file, fmt::format("tensor \"{}\": shape {} has the dimension {}, not an integer in [0, 2^63)", name,
                            json_excerpt(value), json_excerpt(d)));
    }
    shape.push_back(d.get<std::int64_t>());
  }
  return shape;
}

std::pair<std::uint64_t, std::uint64_t> parse_offsets(const json& value, const std::string& file,
                                                      const std::string& name) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_unsigned() ||
      !value[1].is_number_unsigned()) {
    bad(file,
        fmt::format("tensor \"{}\": data_offsets must be [begin, end] with non-negative integers, not {}",
                    name, json_excerpt(value)));
  }
  return {value[0].get<std::uint64_t>(), value[1].get<std::uint64_t>()};
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// The tensor's byte size from dtype and shape, each failure with its own message.
std::uint64_t checked_byte_size(const SafetensorsTensor& t, const std::string& file) {
  const auto bits = safetensors_dtype_bits(t.dtype);
  std::uint64_t count = 1, total_bits = 0;
  for (const std::int64_t d : t.shape) {
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) {
      bad(file, fmt::format("tensor \"{}\": shape {} has more elements than 2^64 (overflow)", t.name,
                            shape_text(t.shape)));
    }
  }
  if (count > static_cast<std::uint64_t>(INT64_MAX) ||
      __builtin_mul_overflow(count, static_cast<std::uint64_t>(*bits), &total_bits)) {
    bad(file, fmt::format("tensor \"{}\": shape {} of {} overflows the byte size", t.name,
                          shape_text(t.shape), t.dtype));
  }
  if (total_bits % 8 != 0) {
    bad(file, fmt::format("tensor \"{}\": shape {} of {} is {} bits, not a whole number of bytes", t.name,
                          shape_text(t.shape), t.dtype, total_bits));
  }
  return total_bits / 8;
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(std::span<const std::uint8_t> bytes, const std::string& name) {
  SafetensorsFile file;
  file.path_ = name;
  const std::string& f = name;
  if (bytes.size() < 8) {
    bad(f, fmt::format("header length: the file has {} bytes, fewer than the 8 of the header length "
                       "(truncated or not a safetensors file)",
                       bytes.size()));
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  if (n > kSafetensorsMaxHeaderBytes) {
    bad(f,
        fmt::format("header length {} is larger than the limit of {} bytes", n, kSafetensorsMaxHeaderBytes));
  }
  if (n > bytes.size() - 8) {
    bad(f,
        fmt::format("header length {} runs past the end of the file ({} bytes after the length; truncated?)",
                    n, bytes.size() - 8));
  }
  file.header_bytes_ = n;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), n);
  if (text.empty() || text.front() != '{') {
    bad(f, fmt::format("header does not start with '{{' (first byte {})",
                       text.empty() ? std::string("none: empty header")
                                    : fmt::format("0x{:02x}", static_cast<unsigned char>(text.front()))));
  }
  const json header = detail::parse_json_strict(text, f, "header");
  if (!header.is_object()) bad(f, "header is not a JSON object");

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) {
        bad(f, fmt::format("__metadata__ must be an object of strings, not {}", json_excerpt(value)));
      }
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          bad(f,
              fmt::format("__metadata__ \"{}\": values must be strings, not {}", mkey, json_excerpt(mvalue)));
        }
        file.metadata_.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    if (!value.is_object()) {
      bad(f, fmt::format("tensor \"{}\": entry must be an object with dtype, shape and data_offsets, not {}",
                         key, json_excerpt(value)));
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) bad(f, fmt::format("tensor \"{}\": {} is missing", key, field));
    }
    SafetensorsTensor t;
    t.name = key;
    const json& dtype = value["dtype"];
    if (!dtype.is_string() || !safetensors_dtype_bits(dtype.get<std::string>())) {
      bad(f, fmt::format("tensor \"{}\": dtype {} is not a safetensors dtype ({})", key, json_excerpt(dtype),
                         fmt::join(safetensors_dtype_names(), ", ")));
    }
    t.dtype = dtype.get<std::string>();
    t.shape = parse_shape(value["shape"], f, key);
    std::tie(t.begin, t.end) = parse_offsets(value["data_offsets"], f, key);
    file.tensors_.push_back(std::move(t));
  }

  // As the reference: order by offsets, then the tensors must tile [0, buffer end) exactly.
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  const std::uint64_t buffer_bytes = bytes.size() - 8 - n;
  std::uint64_t expected = 0;
  const SafetensorsTensor* previous = nullptr;
  for (auto& t : file.tensors_) {
    if (t.end < t.begin) {
      bad(f,
          fmt::format("tensor \"{}\": data_offsets [{}, {}] end before they begin", t.name, t.begin, t.end));
    }
    if (t.begin < expected) {
      bad(f, fmt::format("tensor \"{}\": data_offsets [{}, {}] overlap tensor \"{}\" [{}, {}]", t.name,
                         t.begin, t.end, previous->name, previous->begin, previous->end));
    }
    if (t.begin > expected) {
      bad(f,
          fmt::format("tensor \"{}\": data_offsets [{}, {}] leave a gap: bytes [{}, {}) of the data buffer "
                      "belong to no tensor",
                      t.name, t.begin, t.end, expected, t.begin));
    }
    const std::uint64_t size = checked_byte_size(t, f);
    if (t.end - t.begin != size) {
      bad(f, fmt::format("tensor \"{}\": data_offsets [{}, {}] span {} bytes, but shape {} of {} needs {}",
                         t.name, t.begin, t.end, t.end - t.begin, shape_text(t.shape), t.dtype, size));
    }
    if (t.end > buffer_bytes) {
      bad(f,
          fmt::format("tensor \"{}\": data_offsets [{}, {}] run past the end of the data buffer ({} bytes; "
                      "truncated?)",
                      t.name, t.begin, t.end, buffer_bytes));
    }
    t.data = bytes.subspan(8 + n + t.begin, t.end - t.begin);
    expected = t.end;
    previous = &t;
  }
  if (expected != buffer_bytes) {
    bad(f, fmt::format("data_offsets: the tensors end at byte {} of the data buffer, but it has {} bytes "
                       "({} trailing bytes)",
                       expected, buffer_bytes, buffer_bytes - expected));
  }
  for (std::size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  return file;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(fmt::format("cannot open '{}': {}", name, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    throw FileError(fmt::format("cannot read '{}': {}", name, std::strerror(error)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(fmt::format("cannot read '{}': not a regular file", name));
  }
  auto mapping = std::make_unique<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      throw FileError(fmt::format("cannot map '{}': {}", name, std::strerror(error)));
    }
    mapping->address = address;
  }
  ::close(fd);  // the mapping keeps the file
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(mapping->address),
                                            mapping->size);
  SafetensorsFile file = parse(bytes, name);
  file.path_ = path;
  file.mapping_ = std::move(mapping);
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsTensor& SafetensorsFile::at(std::string_view name) const {
  if (const auto* t = find(name)) return *t;
  throw FileError(fmt::format("{}: no tensor named \"{}\" (the file has {} tensors)", path_.string(), name,
                              tensors_.size()));
}

}  // namespace lowbit::train
