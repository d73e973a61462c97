// Writing safetensors files (and sharded indexes) as the reference writer lays them out, streamed through
// an AtomicFile.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"
#include "safetensors_json.hpp"

namespace lowbit::train {
namespace {

[[noreturn]] void bad(const std::filesystem::path& path, const std::string& message) {
  throw FileError(fmt::format("{}: {}", path.string(), message));
}

std::size_t dtype_rank(std::string_view dtype) {
  const auto names = safetensors_dtype_names();
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), dtype) - names.begin());
}

std::string quoted(const std::string& text, const std::filesystem::path& path, std::string_view what) {
  if (const auto bad_at = detail::invalid_utf8_offset(text)) {
    bad(path, fmt::format("{} is not valid UTF-8 (byte {} of \"{}\")", what, *bad_at, text));
  }
  return nlohmann::json(text).dump();
}

// Entries in file order: widest dtype first, then by name (the reference writer's order).
std::vector<std::size_t> file_order(std::span<const SafetensorsEntry> entries) {
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::size_t ra = dtype_rank(entries[a].dtype), rb = dtype_rank(entries[b].dtype);
    if (ra != rb) return ra > rb;
    return entries[a].name < entries[b].name;
  });
  return order;
}

std::uint64_t entry_bytes(const SafetensorsEntry& e, const std::filesystem::path& path) {
  if (!safetensors_dtype_bits(e.dtype)) {
    bad(path, fmt::format("tensor \"{}\": dtype \"{}\" is not a safetensors dtype ({})", e.name, e.dtype,
                          fmt::join(safetensors_dtype_names(), ", ")));
  }
  const auto size = safetensors_byte_size(e.dtype, e.shape);
  if (!size) {
    bad(path, fmt::format("tensor \"{}\": shape [{}] of {} has a negative dimension, overflows, or is not a "
                          "whole number of bytes",
                          e.name, fmt::join(e.shape, ", "), e.dtype));
  }
  if (!e.stream && e.data.size() != *size) {
    bad(path, fmt::format("tensor \"{}\": {} bytes of data given, but shape [{}] of {} needs {}", e.name,
                          e.data.size(), fmt::join(e.shape, ", "), e.dtype, *size));
  }
  return *size;
}

}  // namespace

SafetensorsEntry SafetensorsEntry::bytes(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                                         std::span<const std::uint8_t> data) {
  return {std::move(name), std::move(dtype), std::move(shape), data, {}};
}

SafetensorsEntry SafetensorsEntry::streamed(std::string name, std::string dtype,
                                            std::vector<std::int64_t> shape,
                                            std::function<void(AtomicFile&)> stream) {
  return {std::move(name), std::move(dtype), std::move(shape), {}, std::move(stream)};
}

std::string safetensors_header(std::span<const SafetensorsEntry> entries,
                               const std::map<std::string, std::string>& metadata,
                               const std::filesystem::path& path) {
  std::set<std::string_view> names;
  for (const auto& e : entries) {
    if (e.name == "__metadata__") bad(path, "tensor name \"__metadata__\" is reserved for the metadata");
    if (!names.insert(e.name).second) bad(path, fmt::format("tensor \"{}\" is given twice", e.name));
  }
  // Compact JSON as serde_json writes it: __metadata__ first, then the tensors in file order.
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += quoted(key, path, "metadata key");
      header += ':';
      header += quoted(value, path, fmt::format("metadata \"{}\"", key));
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const std::size_t i : file_order(entries)) {
    const SafetensorsEntry& e = entries[i];
    const std::uint64_t size = entry_bytes(e, path);
    if (header.size() > 1) header += ',';
    header += fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                          quoted(e.name, path, "tensor name"), e.dtype, fmt::join(e.shape, ","), offset,
                          offset + size);
    if (__builtin_add_overflow(offset, size, &offset)) bad(path, "data_offsets: the total size overflows");
  }
  header += '}';
  // Padding to a multiple of 8 keeps the data buffer aligned for every dtype up to 8 bytes.
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kSafetensorsMaxHeaderBytes) {
    bad(path, fmt::format("header: {} bytes, larger than the limit of {} bytes readers accept", header.size(),
                          kSafetensorsMaxHeaderBytes));
  }
  return header;
}

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsEntry> entries,
                       const std::map<std::string, std::string>& metadata) {
  const std::string header = safetensors_header(entries, metadata, path);
  AtomicFile out(path);
  unsigned char length[8];
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(length, sizeof length);
  out.write(header.data(), header.size());
  for (const std::size_t i : file_order(entries)) {
    const SafetensorsEntry& e = entries[i];
    const std::uint64_t size = entry_bytes(e, path);
    if (!e.stream) {
      out.write(e.data.data(), e.data.size());
      continue;
    }
    const std::uint64_t before = out.bytes_written();
    e.stream(out);
    const std::uint64_t wrote = out.bytes_written() - before;
    if (wrote != size) {
      bad(path, fmt::format("tensor \"{}\": the stream wrote {} bytes, but shape [{}] of {} needs {}", e.name,
                            wrote, fmt::join(e.shape, ", "), e.dtype, size));
    }
  }
  out.commit();
}

void write_safetensors_index(const std::filesystem::path& path, std::uint64_t total_size,
                             const std::map<std::string, std::string>& weight_map,
                             const std::map<std::string, std::string>& metadata) {
  nlohmann::json index;
  index["metadata"] = nlohmann::json::object();
  for (const auto& [key, value] : metadata) index["metadata"][key] = value;
  index["metadata"]["total_size"] = total_size;
  index["weight_map"] = nlohmann::json::object();
  for (const auto& [tensor, shard] : weight_map) index["weight_map"][tensor] = shard;
  std::string text;
  try {
    text = index.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    bad(path, fmt::format("index: a name is not valid UTF-8 ({})", e.what()));
  }
  AtomicFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace lowbit::train
