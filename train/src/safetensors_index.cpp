// A checkpoint as one collection of tensors: one safetensors file, or shards listed by
// model.safetensors.index.json, cross-validated against each other.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"
#include "safetensors_json.hpp"

namespace lowbit::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void bad(const fs::path& path, const std::string& message) {
  throw FileError(fmt::format("{}: {}", path.string(), message));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("cannot open '{}': {}", path.string(), std::strerror(errno)));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw FileError(fmt::format("cannot read '{}'", path.string()));
  return text;
}

// A shard named by the index must be a plain file name beside it: an index must not reach elsewhere.
void check_shard_name(const fs::path& index, const std::string& tensor, const std::string& shard) {
  const fs::path p(shard);
  if (shard.empty() || p.is_absolute() || p.has_parent_path() || shard == "." || shard == "..") {
    bad(index, fmt::format("weight_map \"{}\": shard \"{}\" is not a file name in the index's folder", tensor,
                           shard));
  }
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const fs::path& path) {
  std::error_code ec;
  fs::path target = path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json", ec)) {
      target = path / "model.safetensors.index.json";
    } else if (fs::exists(path / "model.safetensors", ec)) {
      target = path / "model.safetensors";
    } else {
      throw FileError(
          fmt::format("{}: the folder holds neither model.safetensors.index.json nor "
                      "model.safetensors",
                      path.string()));
    }
  }
  SafetensorsCheckpoint checkpoint;
  checkpoint.path_ = target;
  if (target.extension() != ".json") {
    checkpoint.files_.push_back(SafetensorsFile::open(target));
    checkpoint.metadata_ = checkpoint.files_.front().metadata();
    for (const auto& t : checkpoint.files_.front().tensors())
      checkpoint.index_.emplace(t.name, std::pair{&t, 0});
  } else {
    checkpoint.sharded_ = true;
    const json index = detail::parse_json_strict(read_text(target), target.string(), "index");
    if (!index.is_object()) bad(target, "index is not a JSON object");
    if (index.contains("metadata")) {
      const json& metadata = index["metadata"];
      if (!metadata.is_object() && !metadata.is_null()) {
        bad(target, fmt::format("metadata must be an object, not {}", detail::json_excerpt(metadata)));
      }
      if (metadata.is_object()) {
        for (const auto& [key, value] : metadata.items()) {
          checkpoint.metadata_.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
        }
      }
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      bad(target, "weight_map is missing or not an object of tensor name -> shard file");
    }
    // Shards in order of first mention, each opened once.
    std::map<std::string, std::size_t> shard_slot;
    std::map<std::string, std::string> expected;  // tensor -> shard
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      if (!shard.is_string()) {
        bad(target, fmt::format("weight_map \"{}\": the shard must be a file name string, not {}", tensor,
                                detail::json_excerpt(shard)));
      }
      const std::string name = shard.get<std::string>();
      check_shard_name(target, tensor, name);
      expected.emplace(tensor, name);
      if (shard_slot.count(name)) continue;
      const fs::path shard_path = target.parent_path() / name;
      if (!fs::exists(shard_path, ec)) {
        bad(target, fmt::format("weight_map \"{}\": shard \"{}\" does not exist ({})", tensor, name,
                                shard_path.string()));
      }
      shard_slot.emplace(name, checkpoint.files_.size());
      checkpoint.files_.push_back(SafetensorsFile::open(shard_path));
    }
    for (const auto& [name, slot] : shard_slot) {
      for (const auto& t : checkpoint.files_[slot].tensors()) {
        const auto it = expected.find(t.name);
        if (it == expected.end()) {
          bad(target, fmt::format("shard \"{}\" holds tensor \"{}\", which the weight_map does not list",
                                  name, t.name));
        }
        if (it->second != name) {
          bad(target, fmt::format("tensor \"{}\" is in shard \"{}\" but the weight_map places it in \"{}\" "
                                  "(a tensor in two shards?)",
                                  t.name, name, it->second));
        }
        checkpoint.index_.emplace(t.name, std::pair{&t, slot});
      }
    }
    for (const auto& [tensor, shard] : expected) {
      if (!checkpoint.index_.count(tensor)) {
        bad(target, fmt::format("weight_map \"{}\": shard \"{}\" has no tensor of that name", tensor, shard));
      }
    }
  }
  for (const auto& [name, entry] : checkpoint.index_) checkpoint.tensors_.push_back(entry.first);
  return checkpoint;
}

const SafetensorsTensor* SafetensorsCheckpoint::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.first;
}

const SafetensorsTensor& SafetensorsCheckpoint::at(std::string_view name) const {
  if (const auto* t = find(name)) return *t;
  throw FileError(fmt::format("{}: no tensor named \"{}\" in the checkpoint ({} tensors{})", path_.string(),
                              name, tensors_.size(),
                              sharded_ ? fmt::format(" in {} shards", files_.size()) : ""));
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(std::string_view name) const {
  at(name);
  return files_[index_.find(name)->second.second];
}

}  // namespace lowbit::train
