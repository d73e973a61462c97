// `lowbit inspect FILE`: the tensors (name, dtype, shape, bytes) and metadata of a safetensors checkpoint
// or a GGUF file, told apart by the GGUF magic.
#include <fmt/format.h>

#include <cstring>
#include <fstream>

#include "cli_common.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"
#include "lowbit/train/safetensors.hpp"

namespace lowbit::cli {
namespace {

struct Args {
  std::string path;
  bool json = false;
};

bool is_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

nlohmann::json value_json(const quant::GgufValue& v) {
  auto scalar = [](const quant::GgufValue::Scalar& s) {
    return std::visit([](const auto& x) { return nlohmann::json(x); }, s);
  };
  if (!v.is_array()) return scalar(v.items.front());
  nlohmann::json a = nlohmann::json::array();
  for (const auto& item : v.items) a.push_back(scalar(item));
  return a;
}

void inspect_gguf(const Args& args) {
  const auto file = quant::GgufFile::open(args.path);
  if (args.json) {
    nlohmann::json doc{{"format", "gguf"}, {"version", file.version()}, {"alignment", file.alignment()}};
    auto& meta = doc["metadata"] = nlohmann::json::object();
    for (const auto& [key, value] : file.metadata()) {
      meta[key] = {{"type", quant::gguf_value_type_name(value.type)}, {"value", value_json(value)}};
      if (value.is_array()) meta[key]["element_type"] = quant::gguf_value_type_name(value.element_type);
    }
    auto& tensors = doc["tensors"] = nlohmann::json::array();
    for (const auto& t : file.tensors()) {
      tensors.push_back({{"name", t.name},
                         {"type", quant::ggml_type_name(t.type)},
                         {"shape", t.shape()},
                         {"ne", t.ne},
                         {"offset", t.offset},
                         {"bytes", t.bytes}});
    }
    print_json(doc);
    return;
  }
  fmt::print("{}: GGUF v{}, alignment {}, {} metadata keys, {} tensors\n", args.path, file.version(),
             file.alignment(), file.metadata().size(), file.tensors().size());
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [key, value] : file.metadata()) {
    rows.emplace_back("  " + key,
                      fmt::format("{} {}", quant::gguf_value_type_name(value.type), value.to_string()));
  }
  print_rows(rows);
  std::size_t width = 6;
  for (const auto& t : file.tensors()) width = std::max(width, t.name.size());
  fmt::print("\n{:<{}}  {:<8} {:<20} {:>12}\n", "tensor", width, "type", "shape", "bytes");
  for (const auto& t : file.tensors()) {
    fmt::print("{:<{}}  {:<8} {:<20} {:>12}\n", t.name, width, quant::ggml_type_name(t.type),
               shape_text(t.shape()), t.bytes);
  }
}

void inspect_safetensors(const Args& args) {
  const auto ckpt = train::SafetensorsCheckpoint::open(args.path);
  std::uint64_t total = 0;
  for (const auto* t : ckpt.tensors()) total += t->data.size();
  if (args.json) {
    nlohmann::json doc{{"format", "safetensors"}, {"sharded", ckpt.sharded()}, {"metadata", ckpt.metadata()}};
    auto& files = doc["files"] = nlohmann::json::array();
    for (const auto& f : ckpt.files()) files.push_back(f.path().string());
    auto& tensors = doc["tensors"] = nlohmann::json::array();
    for (const auto* t : ckpt.tensors()) tensors.push_back(tensor_json(*t));
    doc["total_bytes"] = total;
    print_json(doc);
    return;
  }
  fmt::print("{}: safetensors{}, {} tensors, {} bytes\n", args.path,
             ckpt.sharded() ? fmt::format(" ({} shards)", ckpt.files().size()) : "", ckpt.tensors().size(),
             total);
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [key, value] : ckpt.metadata()) rows.emplace_back("  " + key, value);
  print_rows(rows);
  std::size_t width = 6;
  for (const auto* t : ckpt.tensors()) width = std::max(width, t->name.size());
  fmt::print("\n{:<{}}  {:<8} {:<20} {:>12}\n", "tensor", width, "dtype", "shape", "bytes");
  for (const auto* t : ckpt.tensors()) {
    fmt::print("{:<{}}  {:<8} {:<20} {:>12}\n", t->name, width, t->dtype, shape_text(t->shape),
               t->data.size());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "List the tensors and metadata of a safetensors or GGUF file");
  auto args = std::make_shared<Args>();
  cmd->add_option("file", args->path, "a .gguf file, a .safetensors file, an index .json, or a folder")
      ->required();
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->footer("Examples:\n  lowbit inspect model.gguf\n  lowbit inspect model.safetensors --json");
  cmd->callback([args] {
    if (is_gguf(args->path)) {
      inspect_gguf(*args);
    } else {
      inspect_safetensors(*args);
    }
  });
}

}  // namespace lowbit::cli
