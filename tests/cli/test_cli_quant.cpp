// `lowbit quantize`, `inspect` and `dequantize`, run as a user runs them: a small checkpoint through GGUF
// and back, the report, and every kind of bad input (exit code 2, a message naming the problem, no output
// file or temporary left behind, the input unchanged).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cli_runner.hpp"

using lowbit::test::file_exists;
using lowbit::test::list_dir;
using lowbit::test::read_file;
using lowbit::test::require_bad_input;
using lowbit::test::run_cli;
using lowbit::test::TempDir;
using lowbit::test::write_file;
using nlohmann::json;

namespace {

struct Tensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

std::string f32_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// A safetensors file built by hand (not by lowbit), with `header_edit` applied to the JSON text.
std::string safetensors(const std::vector<Tensor>& tensors, const std::string& metadata_json = "{}") {
  json header = json::object();
  header["__metadata__"] = json::parse(metadata_json);
  std::string data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

std::string raw_safetensors(const std::string& header_text, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header_text.size();
  std::memcpy(out.data(), &n, 8);
  return out + header_text + data;
}

std::vector<float> weights(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return v;
}

std::string small_checkpoint() {
  return safetensors({{"layers.0.attn.weight", "F32", {4, 64}, f32_bytes(weights(256, 0.05f))},
                      {"layers.0.mlp.weight", "F32", {2, 256}, f32_bytes(weights(512, 0.02f))},
                      {"layers.0.norm.weight", "F32", {64}, f32_bytes(std::vector<float>(64, 1.0f))}},
                     R"({"format": "pt"})");
}

}  // namespace

TEST_CASE("quantize writes a GGUF that inspect lists and dequantize turns back into safetensors", "[cli]") {
  TempDir dir;
  const auto in = dir.file("model.safetensors");
  write_file(in, small_checkpoint());
  const auto r =
      run_cli({"quantize", in, "-o", dir.file("m.gguf"), "--scheme", "q8_0", "--rule", "mlp=q4_K", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = json::parse(r.out);
  REQUIRE(report["tensors"].size() == 3);
  std::map<std::string, json> by_name;
  for (const auto& t : report["tensors"]) by_name[t["name"]] = t;
  CHECK(by_name["layers.0.attn.weight"]["stored_as"] == "q8_0");
  CHECK(by_name["layers.0.attn.weight"]["bits_per_weight"] == 8.5);
  CHECK(by_name["layers.0.attn.weight"]["sqnr_db"].get<double>() > 35);
  CHECK(by_name["layers.0.mlp.weight"]["stored_as"] == "q4_K");
  CHECK(by_name["layers.0.mlp.weight"]["reason"] == "rule 1: mlp");
  CHECK(by_name["layers.0.norm.weight"]["scheme"] == "keep");
  CHECK(by_name["layers.0.norm.weight"]["sqnr_db"].is_null());
  CHECK(report["totals"]["bytes_before"] == 4 * (256 + 512 + 64));
  CHECK(list_dir(dir.path()).size() == 2);  // no temporary left

  const auto listed = run_cli({"inspect", dir.file("m.gguf"), "--json"});
  REQUIRE(listed.exit_code == 0);
  const auto doc = json::parse(listed.out);
  CHECK(doc["format"] == "gguf");
  CHECK(doc["metadata"]["safetensors.format"]["value"] == "pt");
  CHECK(doc["tensors"][0]["name"] == "layers.0.attn.weight");
  CHECK(doc["tensors"][0]["shape"] == json::array({4, 64}));
  CHECK(doc["tensors"][0]["type"] == "q8_0");

  const auto back =
      run_cli({"dequantize", dir.file("m.gguf"), "-o", dir.file("d.safetensors"), "--dtype", "bf16"});
  INFO(back.err);
  REQUIRE(back.exit_code == 0);
  const auto d = json::parse(run_cli({"inspect", dir.file("d.safetensors"), "--json"}).out);
  CHECK(d["format"] == "safetensors");
  CHECK(d["tensors"].size() == 3);
  CHECK(d["tensors"][0]["dtype"] == "BF16");

  const auto text = run_cli({"inspect", dir.file("m.gguf")});
  CHECK_THAT(text.out, Catch::Contains("GGUF v3") && Catch::Contains("q4_K"));
}

TEST_CASE("quantize refuses bad schemes, rules and output names before writing anything", "[cli]") {
  TempDir dir;
  const auto in = dir.file("model.safetensors");
  write_file(in, small_checkpoint());
  require_bad_input(run_cli({"quantize", in, "-o", dir.file("m.gguf"), "--scheme", "q9_0"}),
                    "unknown scheme 'q9_0'");
  require_bad_input(
      run_cli({"quantize", in, "-o", dir.file("m.gguf"), "--scheme", "q8_0", "--rule", "a(=q4_0"}),
      "bad regular expression");
  require_bad_input(run_cli({"quantize", in, "-o", dir.file("m.bin"), "--scheme", "q8_0"}),
                    "extension must be .gguf");
  require_bad_input(
      run_cli({"quantize", dir.file("missing.safetensors"), "-o", dir.file("m.gguf"), "--scheme", "q8_0"}),
      "missing.safetensors");
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("quantize never writes over its input", "[cli]") {
  TempDir dir;
  const auto in = dir.file("model.gguf");  // a safetensors file with a misleading name
  const auto bytes = small_checkpoint();
  write_file(in, bytes);
  require_bad_input(run_cli({"quantize", in, "-o", in, "--scheme", "q8_0"}), "is the input file");
  CHECK(read_file(in) == bytes);
  CHECK(list_dir(dir.path()).size() == 1);
}

TEST_CASE("quantize refuses malformed safetensors with exit code 2 and leaves no output", "[cli]") {
  TempDir dir;
  const auto out = dir.file("m.gguf");
  const std::string four_floats = f32_bytes({1, 2, 3, 4});
  struct Case {
    const char* what;
    std::string bytes;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"truncated", small_checkpoint().substr(0, 200), "m.safetensors"},
      {"overlapping offsets",
       raw_safetensors(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           four_floats),
       "m.safetensors"},
      {"size overflow",
       raw_safetensors(R"({"a":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,16]}})",
                       four_floats),
       "\"a\""},
      {"bad dtype",
       raw_safetensors(R"({"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", four_floats), "F33"},
      {"header too large", std::string("\x00\xe2\xf5\x05\x00\x00\x00\x00", 8) + "{}", "header"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    write_file(dir.file("m.safetensors"), c.bytes);
    require_bad_input(run_cli({"quantize", dir.file("m.safetensors"), "-o", out, "--scheme", "q4_0"}),
                      c.needle);
    CHECK_FALSE(file_exists(out));
    CHECK(list_dir(dir.path()).size() == 1);
  }
}

TEST_CASE("inspect and dequantize refuse malformed GGUF with exit code 2 and leave no output", "[cli]") {
  TempDir dir;
  const auto in = dir.file("model.safetensors");
  write_file(in, small_checkpoint());
  REQUIRE(run_cli({"quantize", in, "-o", dir.file("m.gguf"), "--scheme", "q4_0"}).exit_code == 0);
  const std::string good = read_file(dir.file("m.gguf"));
  struct Case {
    const char* what;
    std::string bytes;
    const char* needle;
  };
  std::string bad_version = good;
  bad_version[4] = 9;
  std::string huge_count = good;
  for (int i = 8; i < 16; ++i) huge_count[i] = '\x7f';
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() - 40), "runs past the end of the file"},
      {"bad version", bad_version, "version 9"},
      {"huge tensor count", huge_count, "tensor count"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    write_file(dir.file("bad.gguf"), c.bytes);
    require_bad_input(run_cli({"inspect", dir.file("bad.gguf")}), c.needle);
    require_bad_input(run_cli({"dequantize", dir.file("bad.gguf"), "-o", dir.file("d.safetensors")}),
                      c.needle);
    CHECK_FALSE(file_exists(dir.file("d.safetensors")));
    CHECK(list_dir(dir.path()).size() == 3);
  }
  require_bad_input(
      run_cli({"dequantize", dir.file("m.gguf"), "-o", dir.file("d.safetensors"), "--dtype", "int8"}),
      "--dtype int8");
  write_file(dir.file("bad.gguf"), "GGUX and more");
  require_bad_input(run_cli({"dequantize", dir.file("bad.gguf"), "-o", dir.file("d.safetensors")}),
                    "bad magic");
}

TEST_CASE("quantize to .safetensors writes compressed-tensors with a config.json that dequantize reads",
          "[cli]") {
  TempDir dir;
  const auto in = dir.file("model.safetensors");
  write_file(in, small_checkpoint());
  std::filesystem::create_directories(dir.file("out"));
  const auto r = run_cli({"quantize", in, "-o", dir.file("out/model.safetensors"), "--scheme",
                          "int4-g32-asym", "--rule", "mlp=fp8", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto config = json::parse(read_file(dir.file("out/config.json")));
  const auto& q = config["quantization_config"];
  CHECK(q["quant_method"] == "compressed-tensors");
  CHECK(q["format"] == "mixed-precision");
  CHECK(q["config_groups"].size() == 2);
  const auto listed = json::parse(run_cli({"inspect", dir.file("out/model.safetensors"), "--json"}).out);
  std::map<std::string, json> by_name;
  for (const auto& t : listed["tensors"]) by_name[t["name"]] = t;
  CHECK(by_name["layers.0.attn.weight_packed"]["shape"] == json::array({4, 8}));
  CHECK(by_name["layers.0.attn.weight_scale"]["shape"] == json::array({4, 2}));
  CHECK(by_name["layers.0.attn.weight_zero_point"]["shape"] == json::array({1, 2}));
  CHECK(by_name["layers.0.mlp.weight"]["dtype"] == "F8_E4M3");
  const auto back =
      run_cli({"dequantize", dir.file("out/model.safetensors"), "-o", dir.file("d.safetensors"), "--json"});
  INFO(back.err);
  REQUIRE(back.exit_code == 0);
  // The report lists the written file: the int4 and fp8 weights back as F32, in their original shapes.
  const auto written = json::parse(back.out);
  CHECK(written["output"] == dir.file("d.safetensors"));
  CHECK(written["dtype"] == "F32");
  std::map<std::string, json> plain;
  for (const auto& t : written["tensors"]) plain[t["name"]] = t;
  REQUIRE(plain.size() == 3);
  CHECK(plain["layers.0.attn.weight"]["dtype"] == "F32");
  CHECK(plain["layers.0.attn.weight"]["shape"] == json::array({4, 64}));
  CHECK(plain["layers.0.mlp.weight"]["bytes"] == 512 * 4);
  CHECK(written["total_bytes"] == 4 * (256 + 512 + 64));
  require_bad_input(run_cli({"quantize", in, "-o", dir.file("x.safetensors"), "--scheme", "int4-g48"}),
                    "g48");
  require_bad_input(run_cli({"quantize", in, "-o", dir.file("x.safetensors"), "--scheme", "q4_K"}),
                    "unknown compressed-tensors scheme 'q4_K'");
  CHECK_FALSE(file_exists(dir.file("x.safetensors")));
}

TEST_CASE("quantize reads a sharded checkpoint through its index and refuses a missing shard", "[cli]") {
  TempDir dir;
  write_file(dir.file("model-00001-of-00002.safetensors"),
             safetensors({{"l.0.weight", "F32", {2, 64}, f32_bytes(weights(128, 0.1f))}}));
  write_file(dir.file("model-00002-of-00002.safetensors"),
             safetensors({{"l.1.weight", "F32", {2, 64}, f32_bytes(weights(128, 0.2f))}}));
  const json index = {{"metadata", {{"total_size", 1024}}},
                      {"weight_map",
                       {{"l.0.weight", "model-00001-of-00002.safetensors"},
                        {"l.1.weight", "model-00002-of-00002.safetensors"}}}};
  write_file(dir.file("model.safetensors.index.json"), index.dump());
  const auto r = run_cli({"quantize", dir.path(), "-o", dir.file("m.gguf"), "--scheme", "q4_0", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = json::parse(r.out);
  REQUIRE(report["tensors"].size() == 2);
  CHECK(report["tensors"][1]["name"] == "l.1.weight");
  CHECK(report["tensors"][1]["stored_as"] == "q4_0");
  std::filesystem::remove(dir.file("model-00002-of-00002.safetensors"));
  std::filesystem::remove(dir.file("m.gguf"));
  require_bad_input(run_cli({"quantize", dir.file("model.safetensors.index.json"), "-o", dir.file("m.gguf"),
                             "--scheme", "q4_0"}),
                    "model-00002-of-00002.safetensors");
  CHECK_FALSE(file_exists(dir.file("m.gguf")));
}

TEST_CASE("quantize stops at a NaN weight, naming tensor, row and element, and leaves no partial file",
          "[cli]") {
  TempDir dir;
  auto w = weights(256, 0.1f);
  w[64 + 5] = std::nanf("");  // row 1, element 5
  write_file(dir.file("m.safetensors"),
             safetensors({{"a.weight", "F32", {4, 64}, f32_bytes(weights(256, 0.1f))},
                          {"b.weight", "F32", {4, 64}, f32_bytes(w)}}));
  require_bad_input(
      run_cli({"quantize", dir.file("m.safetensors"), "-o", dir.file("m.gguf"), "--scheme", "q8_0"}),
      "tensor \"b.weight\", row 1: element 5 is nan");
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"m.safetensors"});
}

TEST_CASE("quantize to GGUF warns about tensor names ggml would refuse but writes the file", "[cli]") {
  TempDir dir;
  const std::string long_name(70, 'w');
  write_file(dir.file("m.safetensors"),
             safetensors({{long_name, "F32", {2, 32}, f32_bytes(weights(64, 0.1f))}}));
  const auto r =
      run_cli({"quantize", dir.file("m.safetensors"), "-o", dir.file("m.gguf"), "--scheme", "q8_0"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("warning: 1 tensor names are 64 bytes or longer"));
  CHECK(file_exists(dir.file("m.gguf")));
}
