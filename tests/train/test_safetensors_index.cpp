// Sharded checkpoints (model.safetensors.index.json) opened as one collection, and their validation.
#include <catch2/catch.hpp>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"
#include "test_safetensors_support.hpp"

using namespace lowbit::train;
using namespace lowbit_test;
using Catch::Contains;

namespace {

const Bytes kFour{1, 2, 3, 4};

void write_shard(const std::filesystem::path& path, const std::vector<std::string>& names) {
  std::vector<SafetensorsEntry> entries;
  for (const auto& n : names) entries.push_back(SafetensorsEntry::bytes(n, "F32", {1}, kFour));
  write_safetensors(path, entries);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

std::string open_error(const std::filesystem::path& path) {
  try {
    SafetensorsCheckpoint::open(path);
  } catch (const lowbit::FileError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a sharded checkpoint opens as one collection of tensors", "[train]") {
  TempDir dir;
  write_shard(dir / "model-00001-of-00002.safetensors", {"a.weight", "a.bias"});
  write_shard(dir / "model-00002-of-00002.safetensors", {"b.weight"});
  write_safetensors_index(dir / "model.safetensors.index.json", 12,
                          {{"a.weight", "model-00001-of-00002.safetensors"},
                           {"a.bias", "model-00001-of-00002.safetensors"},
                           {"b.weight", "model-00002-of-00002.safetensors"}},
                          {{"format", "pt"}});
  for (const auto& path : {dir.path(), dir / "model.safetensors.index.json"}) {
    const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(path);
    CHECK(ckpt.sharded());
    CHECK(ckpt.files().size() == 2);
    REQUIRE(ckpt.tensors().size() == 3);
    CHECK(ckpt.tensors()[0]->name == "a.bias");
    CHECK(ckpt.tensors()[2]->name == "b.weight");
    CHECK(ckpt.metadata().at("total_size") == "12");
    CHECK(ckpt.metadata().at("format") == "pt");
    CHECK(ckpt.file_of("b.weight").path().filename() == "model-00002-of-00002.safetensors");
    CHECK(Bytes(ckpt.at("a.weight").data.begin(), ckpt.at("a.weight").data.end()) == kFour);
    CHECK_THROWS_WITH(ckpt.at("c.weight"), Contains("\"c.weight\"") && Contains("in 2 shards"));
  }
}

TEST_CASE("a single safetensors file opens as a checkpoint, directly or from its folder", "[train]") {
  TempDir dir;
  write_shard(dir / "model.safetensors", {"w"});
  for (const auto& path : {dir.path(), dir / "model.safetensors"}) {
    const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(path);
    CHECK_FALSE(ckpt.sharded());
    CHECK(ckpt.tensors().size() == 1);
    CHECK(ckpt.find("w") != nullptr);
  }
  TempDir empty;
  CHECK_THAT(open_error(empty.path()),
             Contains("neither model.safetensors.index.json nor model.safetensors"));
}

TEST_CASE("an index naming a missing shard is rejected", "[train]") {
  TempDir dir;
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"w": "gone.safetensors"}})");
  CHECK_THAT(open_error(dir.path()), Contains("model.safetensors.index.json") &&
                                         Contains("weight_map \"w\"") &&
                                         Contains("shard \"gone.safetensors\" does not exist"));
}

TEST_CASE("a tensor missing from the shard the index names is rejected", "[train]") {
  TempDir dir;
  write_shard(dir / "s1.safetensors", {"a"});
  write_text(dir / "model.safetensors.index.json",
             R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  CHECK_THAT(open_error(dir.path()),
             Contains("weight_map \"b\": shard \"s1.safetensors\" has no tensor of that name"));
}

TEST_CASE("a tensor present in two shards is rejected", "[train]") {
  TempDir dir;
  write_shard(dir / "s1.safetensors", {"a", "dup"});
  write_shard(dir / "s2.safetensors", {"dup"});
  write_text(dir / "model.safetensors.index.json",
             R"({"weight_map": {"a": "s1.safetensors", "dup": "s2.safetensors"}})");
  CHECK_THAT(open_error(dir.path()), Contains("tensor \"dup\" is in shard \"s1.safetensors\" but the "
                                              "weight_map places it in \"s2.safetensors\""));
}

TEST_CASE("a shard tensor that the index does not list is rejected", "[train]") {
  TempDir dir;
  write_shard(dir / "s1.safetensors", {"a", "extra"});
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors"}})");
  CHECK_THAT(open_error(dir.path()), Contains("holds tensor \"extra\", which the weight_map does not list"));
}

TEST_CASE("malformed index files are rejected, naming the index and the field", "[train]") {
  TempDir dir;
  write_shard(dir / "s1.safetensors", {"a"});
  const auto index = dir / "model.safetensors.index.json";
  write_text(index, R"({"weight_map": {"a": "../s1.safetensors"}})");
  CHECK_THAT(open_error(index), Contains("is not a file name in the index's folder"));
  write_text(index, R"({"weight_map": {"a": "/etc/passwd"}})");
  CHECK_THAT(open_error(index), Contains("is not a file name in the index's folder"));
  write_text(index, R"({"weight_map": ["a"]})");
  CHECK_THAT(open_error(index), Contains("weight_map is missing or not an object"));
  write_text(index, R"({"metadata": {}})");
  CHECK_THAT(open_error(index), Contains("weight_map is missing"));
  write_text(index, R"({"weight_map": {"a": 1}})");
  CHECK_THAT(open_error(index), Contains("weight_map \"a\": the shard must be a file name string"));
  write_text(index, R"({"weight_map": {"a": "s1.safetensors", "a": "s1.safetensors"}})");
  CHECK_THAT(open_error(index), Contains("key \"a\" twice"));
  write_text(index, R"({"weight_map": )");
  CHECK_THAT(open_error(index), Contains(index.string()) && Contains("index is not valid JSON"));
}

TEST_CASE("a corrupt shard is reported with the shard's own name", "[train]") {
  TempDir dir;
  write_bytes(dir / "s1.safetensors", {3, 0, 0});
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors"}})");
  CHECK_THAT(open_error(dir.path()), Contains("s1.safetensors") && Contains("fewer than the 8"));
}
