// GgufWriter: the header from the plans, then the tensors' bytes, each padded to the alignment.
#include <fmt/format.h>

#include <cstring>
#include <set>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"

namespace lowbit::quant {
namespace {

std::uint64_t align_up(std::uint64_t x, std::uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

class HeaderBuilder {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out.append(p, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    out.append(s);
  }
  void put_scalar(GgufValueType type, const GgufValue::Scalar& s, const std::string& key) {
    auto as_u = [&] {
      if (const auto* u = std::get_if<std::uint64_t>(&s)) return *u;
      if (const auto* i = std::get_if<std::int64_t>(&s)) return static_cast<std::uint64_t>(*i);
      if (const auto* b = std::get_if<bool>(&s)) return std::uint64_t{*b};
      throw RangeError(
          fmt::format("GGUF metadata \"{}\": a {} value holds no integer", key, gguf_value_type_name(type)));
    };
    auto as_f = [&] {
      if (const auto* d = std::get_if<double>(&s)) return *d;
      throw RangeError(
          fmt::format("GGUF metadata \"{}\": a {} value holds no number", key, gguf_value_type_name(type)));
    };
    switch (type) {
      case GgufValueType::uint8:
        return put(static_cast<std::uint8_t>(as_u()));
      case GgufValueType::int8:
        return put(static_cast<std::int8_t>(as_u()));
      case GgufValueType::uint16:
        return put(static_cast<std::uint16_t>(as_u()));
      case GgufValueType::int16:
        return put(static_cast<std::int16_t>(as_u()));
      case GgufValueType::uint32:
        return put(static_cast<std::uint32_t>(as_u()));
      case GgufValueType::int32:
        return put(static_cast<std::int32_t>(as_u()));
      case GgufValueType::uint64:
        return put(as_u());
      case GgufValueType::int64:
        return put(static_cast<std::int64_t>(as_u()));
      case GgufValueType::float32:
        return put(static_cast<float>(as_f()));
      case GgufValueType::float64:
        return put(as_f());
      case GgufValueType::boolean:
        return put(static_cast<std::uint8_t>(as_u() != 0));
      case GgufValueType::string:
        if (const auto* str = std::get_if<std::string>(&s)) return put_string(*str);
        throw RangeError(fmt::format("GGUF metadata \"{}\": a string value holds no string", key));
      case GgufValueType::array:
        break;
    }
    throw RangeError(fmt::format("GGUF metadata \"{}\": nested arrays are not supported", key));
  }
  std::string out;
};

}  // namespace

GgufWriter::GgufWriter(const std::filesystem::path& path, const GgufMetadata& metadata,
                       std::vector<GgufTensorPlan> tensors)
    : path_(path), tensors_(std::move(tensors)) {
  const std::string file = path.string();
  std::set<std::string, std::less<>> keys;
  for (const auto& [key, value] : metadata) {
    if (!keys.insert(key).second)
      throw FileError(fmt::format("{}: metadata \"{}\": duplicate key", file, key));
    if (key == "general.alignment") {
      const auto* a = value.items.empty() ? nullptr : std::get_if<std::uint64_t>(&value.items.front());
      if (value.type != GgufValueType::uint32 || !a || *a == 0 || (*a & (*a - 1)) != 0) {
        throw FileError(fmt::format("{}: metadata \"general.alignment\": {} is not a u32 power of two", file,
                                    value.to_string()));
      }
      alignment_ = static_cast<std::uint32_t>(*a);
    }
  }
  HeaderBuilder h;
  h.out.append("GGUF", 4);
  h.put<std::uint32_t>(kGgufVersion);
  h.put<std::uint64_t>(tensors_.size());
  h.put<std::uint64_t>(metadata.size());
  for (const auto& [key, value] : metadata) {
    h.put_string(key);
    h.put<std::uint32_t>(static_cast<std::uint32_t>(value.type));
    if (value.is_array()) {
      h.put<std::uint32_t>(static_cast<std::uint32_t>(value.element_type));
      h.put<std::uint64_t>(value.items.size());
      for (const auto& item : value.items) h.put_scalar(value.element_type, item, key);
    } else {
      if (value.items.size() != 1) throw FileError(fmt::format("{}: metadata \"{}\": no value", file, key));
      h.put_scalar(value.type, value.items.front(), key);
    }
  }
  std::set<std::string, std::less<>> names;
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    const std::string field = fmt::format("{}: tensor \"{}\"", file, t.name);
    if (!names.insert(t.name).second) throw FileError(field + ": duplicate tensor name");
    if (t.shape.size() > static_cast<std::size_t>(kGgufMaxDims)) {
      throw FileError(
          fmt::format("{}: {} dimensions, GGUF allows at most {}", field, t.shape.size(), kGgufMaxDims));
    }
    std::uint64_t elements = 1;
    for (const auto d : t.shape) {
      if (d < 0 || __builtin_mul_overflow(elements, static_cast<std::uint64_t>(d), &elements)) {
        throw FileError(fmt::format("{}: bad or overflowing dimension {}", field, d));
      }
    }
    const std::uint64_t row = t.shape.empty() ? 1 : static_cast<std::uint64_t>(t.shape.back());
    const auto bytes = ggml_tensor_bytes(t.type, row, elements);
    if (!bytes) {
      throw FileError(fmt::format("{}: rows of {} are not a whole number of {} blocks ({} elements)", field,
                                  row, ggml_type_name(t.type), ggml_type_info(t.type).block_size));
    }
    sizes_.push_back(*bytes);
    h.put_string(t.name);
    h.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) h.put<std::uint64_t>(*it);
    h.put<std::uint32_t>(static_cast<std::uint32_t>(t.type));
    h.put<std::uint64_t>(offset);
    offset = align_up(offset + *bytes, alignment_);
  }
  h.out.resize(align_up(h.out.size(), alignment_), '\0');
  file_ = std::make_unique<train::AtomicFile>(path_);
  file_->write(h.out.data(), h.out.size());
  while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
}

GgufWriter::~GgufWriter() = default;

void GgufWriter::write(std::span<const std::uint8_t> bytes) {
  static const std::uint8_t kZeros[64] = {};
  while (!bytes.empty()) {
    if (current_ >= sizes_.size()) {
      throw FileError(fmt::format("{}: more tensor data than the header announced", path_.string()));
    }
    const std::uint64_t want = sizes_[current_] - written_in_current_;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(want, bytes.size()));
    file_->write(bytes.data(), take);
    written_in_current_ += take;
    bytes = bytes.subspan(take);
    if (written_in_current_ == sizes_[current_]) {
      std::uint64_t pad = align_up(sizes_[current_], alignment_) - sizes_[current_];
      while (pad > 0) {
        const auto n = std::min<std::uint64_t>(pad, sizeof(kZeros));
        file_->write(kZeros, n);
        pad -= n;
      }
      written_in_current_ = 0;
      ++current_;
      while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
    }
  }
}

void GgufWriter::commit() {
  if (current_ != sizes_.size()) {
    throw FileError(fmt::format("{}: tensor \"{}\" incomplete: {} of {} bytes written", path_.string(),
                                tensors_[current_].name, written_in_current_, sizes_[current_]));
  }
  file_->commit();
}

}  // namespace lowbit::quant
