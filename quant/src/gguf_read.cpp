// GgufFile: maps and validates a GGUF file (the checks are listed in gguf.hpp).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"

namespace lowbit::quant {

struct GgufFile::Mapping {
  void* address = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (address) ::munmap(address, size);
  }
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

std::uint64_t GgufTensor::element_count() const {
  std::uint64_t count = 1;
  for (const auto d : ne) count *= d;  // validated on open: cannot overflow
  return count;
}

std::vector<std::int64_t> GgufTensor::shape() const {
  return std::vector<std::int64_t>(ne.rbegin(), ne.rend());
}

const GgufValue* GgufFile::find_metadata(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufTensor* GgufFile::find(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

constexpr std::uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key, type, one-byte value
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset

int scalar_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::uint8:
    case GgufValueType::int8:
    case GgufValueType::boolean:
      return 1;
    case GgufValueType::uint16:
    case GgufValueType::int16:
      return 2;
    case GgufValueType::uint32:
    case GgufValueType::int32:
    case GgufValueType::float32:
      return 4;
    case GgufValueType::uint64:
    case GgufValueType::int64:
    case GgufValueType::float64:
      return 8;
    default:
      return 0;  // string, array
  }
}

bool known_value_type(std::uint32_t code) {
  return code <= 12;
}

class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw FileError(fmt::format("{}: {}", file_, message));
  }
  std::uint64_t remaining() const { return bytes_.size() - pos_; }
  std::uint64_t position() const { return pos_; }

  template <typename T>
  T read(const std::string& field) {
    if (remaining() < sizeof(T)) {
      fail(fmt::format("truncated: {} needs {} bytes at offset {}, the file has {}", field, sizeof(T), pos_,
                       bytes_.size()));
    }
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& field) {
    const auto length = read<std::uint64_t>(field + " length");
    if (length > remaining()) {
      fail(fmt::format("{}: string length {} exceeds the {} bytes left in the file", field, length,
                       remaining()));
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  const std::string& file_;
  std::uint64_t pos_ = 0;
};

GgufValue::Scalar read_scalar(Cursor& in, GgufValueType type, const std::string& field) {
  switch (type) {
    case GgufValueType::uint8:
      return std::uint64_t{in.read<std::uint8_t>(field)};
    case GgufValueType::int8:
      return std::int64_t{in.read<std::int8_t>(field)};
    case GgufValueType::uint16:
      return std::uint64_t{in.read<std::uint16_t>(field)};
    case GgufValueType::int16:
      return std::int64_t{in.read<std::int16_t>(field)};
    case GgufValueType::uint32:
      return std::uint64_t{in.read<std::uint32_t>(field)};
    case GgufValueType::int32:
      return std::int64_t{in.read<std::int32_t>(field)};
    case GgufValueType::float32:
      return double{in.read<float>(field)};
    case GgufValueType::boolean:
      return in.read<std::uint8_t>(field) != 0;
    case GgufValueType::string:
      return in.read_string(field);
    case GgufValueType::uint64:
      return in.read<std::uint64_t>(field);
    case GgufValueType::int64:
      return in.read<std::int64_t>(field);
    case GgufValueType::float64:
      return in.read<double>(field);
    case GgufValueType::array:
      break;
  }
  in.fail(fmt::format("{}: unexpected value type", field));
}

GgufValue read_value(Cursor& in, const std::string& key) {
  const std::string field = fmt::format("metadata \"{}\"", key);
  const auto code = in.read<std::uint32_t>(field + " type");
  if (!known_value_type(code)) in.fail(fmt::format("{}: unknown value type {}", field, code));
  const auto type = static_cast<GgufValueType>(code);
  if (type != GgufValueType::array) return GgufValue::scalar(type, read_scalar(in, type, field));

  const auto element_code = in.read<std::uint32_t>(field + " array type");
  if (!known_value_type(element_code)) {
    in.fail(fmt::format("{}: unknown array element type {}", field, element_code));
  }
  const auto element = static_cast<GgufValueType>(element_code);
  if (element == GgufValueType::array) in.fail(fmt::format("{}: nested arrays are not supported", field));
  const auto count = in.read<std::uint64_t>(field + " array length");
  // Each element takes at least its scalar size (8 bytes of length for a string): a count the rest of the
  // file cannot hold is refused before anything is allocated for it.
  const std::uint64_t each = element == GgufValueType::string ? 8 : scalar_bytes(element);
  if (count > in.remaining() / each) {
    in.fail(fmt::format("{}: array length {} of {} exceeds what the {} bytes left in the file can hold",
                        field, count, gguf_value_type_name(element), in.remaining()));
  }
  std::vector<GgufValue::Scalar> items;
  items.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) items.push_back(read_scalar(in, element, field));
  return GgufValue::array(element, std::move(items));
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace

GgufFile GgufFile::parse(std::span<const std::uint8_t> bytes, const std::string& name) {
  GgufFile file;
  Cursor in(bytes, name);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    std::uint32_t magic = 0;
    std::memcpy(&magic, bytes.data(), std::min<std::size_t>(4, bytes.size()));
    in.fail(fmt::format("bad magic 0x{:08x}: not a GGUF file (expected \"GGUF\")", magic));
  }
  in.read<std::uint32_t>("magic");
  file.version_ = in.read<std::uint32_t>("version");
  if (file.version_ == 1) in.fail("version 1: GGUF v1 is no longer supported (ggml reads 2 and 3)");
  if ((file.version_ & 0xFFFF) == 0) {
    in.fail(fmt::format("version 0x{:08x}: a big-endian file, which lowbit does not read", file.version_));
  }
  if (file.version_ > kGgufVersion) {
    in.fail(fmt::format("version {}: newer than the supported {}", file.version_, kGgufVersion));
  }
  const auto n_tensors = in.read<std::uint64_t>("tensor count");
  const auto n_kv = in.read<std::uint64_t>("metadata count");
  if (n_kv > in.remaining() / kMinKvBytes) {
    in.fail(fmt::format("metadata count {} exceeds what the file's {} remaining bytes can hold", n_kv,
                        in.remaining()));
  }
  if (n_tensors > in.remaining() / kMinTensorInfoBytes) {
    in.fail(fmt::format("tensor count {} exceeds what the file's {} remaining bytes can hold", n_tensors,
                        in.remaining()));
  }

  std::set<std::string, std::less<>> keys;
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = in.read_string(fmt::format("metadata key {}", i));
    if (!keys.insert(key).second) in.fail(fmt::format("metadata \"{}\": duplicate key", key));
    GgufValue value = read_value(in, key);
    if (key == "general.alignment") {
      if (value.type != GgufValueType::uint32) {
        in.fail(fmt::format("metadata \"general.alignment\": type {}, must be u32",
                            gguf_value_type_name(value.type)));
      }
      const auto a = std::get<std::uint64_t>(value.items.front());
      if (a == 0 || (a & (a - 1)) != 0) {
        in.fail(fmt::format("metadata \"general.alignment\": {} is not a power of two", a));
      }
      file.alignment_ = static_cast<std::uint32_t>(a);
    }
    file.metadata_.emplace_back(std::move(key), std::move(value));
  }

  std::set<std::string, std::less<>> names;
  file.tensors_.reserve(n_tensors);
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = in.read_string(fmt::format("tensor {} name", i));
    const std::string field = fmt::format("tensor \"{}\"", t.name);
    if (!names.insert(t.name).second) in.fail(fmt::format("{}: duplicate tensor name", field));
    const auto n_dims = in.read<std::uint32_t>(field + " n_dims");
    if (n_dims > kGgufMaxDims) {
      in.fail(fmt::format("{}: n_dims {} exceeds ggml's maximum of {}", field, n_dims, kGgufMaxDims));
    }
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto ne = in.read<std::uint64_t>(fmt::format("{} ne[{}]", field, d));
      if (ne > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        in.fail(fmt::format("{}: ne[{}] = {} is negative as ggml's int64", field, d, ne));
      }
      if (__builtin_mul_overflow(elements, ne, &elements) ||
          elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        in.fail(fmt::format("{}: the element count overflows at ne[{}] = {}", field, d, ne));
      }
      t.ne.push_back(ne);
    }
    const auto type_code = in.read<std::uint32_t>(field + " type");
    const GgmlTypeInfo* info = ggml_type_info(type_code);
    if (!info) in.fail(fmt::format("{}: unknown ggml type {}", field, type_code));
    t.type = info->type;
    const std::uint64_t row = t.ne.empty() ? 1 : t.ne[0];
    if (row % static_cast<std::uint64_t>(info->block_size) != 0) {
      in.fail(fmt::format("{}: row length ne[0] = {} is not a multiple of the {} block size {}", field, row,
                          info->name, info->block_size));
    }
    const auto size = ggml_tensor_bytes(t.type, row, elements);
    if (!size)
      in.fail(fmt::format("{}: the byte size of {} {} elements overflows", field, elements, info->name));
    t.bytes = *size;
    t.offset = in.read<std::uint64_t>(field + " offset");
    file.tensors_.push_back(std::move(t));
  }

  file.data_offset_ = align_up(in.position(), file.alignment_);
  if (!file.tensors_.empty() && file.data_offset_ > bytes.size()) {
    in.fail(fmt::format("truncated: the data section would start at {}, past the end of the file ({} bytes)",
                        file.data_offset_, bytes.size()));
  }
  const std::uint64_t data_bytes = bytes.size() > file.data_offset_ ? bytes.size() - file.data_offset_ : 0;
  std::vector<const GgufTensor*> by_offset;
  for (auto& t : file.tensors_) {
    const std::string field = fmt::format("tensor \"{}\"", t.name);
    if (t.offset % file.alignment_ != 0) {
      in.fail(fmt::format("{}: offset {} is not a multiple of the alignment {}", field, t.offset,
                          file.alignment_));
    }
    if (t.offset > data_bytes || t.bytes > data_bytes - t.offset) {
      in.fail(fmt::format("{}: data [{}, {}) + {} runs past the end of the file ({} data bytes)", field,
                          t.offset, t.offset + t.bytes, file.data_offset_, data_bytes));
    }
    t.data = bytes.subspan(file.data_offset_ + t.offset, t.bytes);
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const auto* a = by_offset[i - 1];
    const auto* b = by_offset[i];
    if (a->bytes > 0 && b->bytes > 0 && a->offset + a->bytes > b->offset) {
      in.fail(fmt::format("tensor \"{}\": data at offset {} overlaps tensor \"{}\" ([{}, {}))", b->name,
                          b->offset, a->name, a->offset, a->offset + a->bytes));
    }
  }
  return file;
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw FileError(fmt::format("{}: cannot stat: {}", name, std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(fmt::format("{}: not a regular file", name));
  }
  auto mapping = std::make_unique<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw FileError(fmt::format("{}: cannot map: {}", name, std::strerror(e)));
    }
    mapping->address = address;
  }
  ::close(fd);
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(mapping->address),
                                            mapping->size);
  GgufFile file = parse(bytes, name);
  file.mapping_ = std::move(mapping);
  return file;
}

}  // namespace lowbit::quant
