// safetensors reading and writing: the reference writer's exact bytes, round trips of every dtype, the
// lowbit DType mapping, streaming, and writer-side validation.
#include <catch2/catch.hpp>
#include <cstring>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"
#include "test_safetensors_support.hpp"

using namespace lowbit::train;
using namespace lowbit_test;
using lowbit::DType;
using lowbit::FileError;

namespace {

Bytes f32_bytes(std::initializer_list<float> values) {
  Bytes out(values.size() * 4);
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

}  // namespace

// Expected bytes from the reference implementation's own tests (safetensors/src/tensor.rs:
// test_serialization, test_serialization_forced_alignement, test_empty).
TEST_CASE("the writer produces the reference implementation's bytes", "[train]") {
  TempDir dir;
  const Bytes data = f32_bytes({0, 1, 2, 3, 4, 5});
  {
    const SafetensorsEntry entries[] = {SafetensorsEntry::bytes("attn.0", "F32", {1, 2, 3}, data)};
    write_safetensors(dir / "a.safetensors", entries);
    const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
    Bytes expected;
    append_le64(expected, 64);
    expected.insert(expected.end(), header.begin(), header.end());
    expected.insert(expected.end(), data.begin(), data.end());
    CHECK(read_bytes(dir / "a.safetensors") == expected);
  }
  {
    const SafetensorsEntry entries[] = {SafetensorsEntry::bytes("attn0", "F32", {1, 1, 2, 3}, data)};
    write_safetensors(dir / "b.safetensors", entries);
    const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       )";
    Bytes expected;
    append_le64(expected, 72);
    expected.insert(expected.end(), header.begin(), header.end());
    expected.insert(expected.end(), data.begin(), data.end());
    CHECK(read_bytes(dir / "b.safetensors") == expected);
  }
  write_safetensors(dir / "empty.safetensors", {});
  CHECK(read_bytes(dir / "empty.safetensors") ==
        Bytes{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '});
  write_safetensors(dir / "meta.safetensors", {}, {{"framework", "pt"}});
  const std::string meta = R"({"__metadata__":{"framework":"pt"}}     )";
  Bytes expected;
  append_le64(expected, 40);
  expected.insert(expected.end(), meta.begin(), meta.end());
  CHECK(read_bytes(dir / "meta.safetensors") == expected);
}

TEST_CASE("tensors of every dtype round-trip through a file with their metadata", "[train]") {
  TempDir dir;
  std::vector<Bytes> buffers;
  std::vector<SafetensorsEntry> entries;
  int k = 0;
  for (const std::string_view dtype : safetensors_dtype_names()) {
    const std::vector<std::int64_t> shape{2, 4};  // 8 elements: whole bytes even for F4 and F6
    const std::uint64_t size = *safetensors_byte_size(dtype, shape);
    Bytes b(size);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 31 + k);
    buffers.push_back(std::move(b));
    entries.push_back(
        SafetensorsEntry::bytes("t." + std::string(dtype), std::string(dtype), shape, buffers.back()));
    ++k;
  }
  const Bytes scalar = f32_bytes({3.5f});
  entries.push_back(SafetensorsEntry::bytes("scalar", "F32", {}, scalar));
  entries.push_back(SafetensorsEntry::bytes("empty", "BF16", {0, 7}, {}));
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "ünïcode \"quoted\"\n"}};
  write_safetensors(dir / "all.safetensors", entries, metadata);

  const SafetensorsFile file = SafetensorsFile::open(dir / "all.safetensors");
  CHECK(file.metadata() == metadata);
  REQUIRE(file.tensors().size() == entries.size());
  for (const auto& e : entries) {
    const SafetensorsTensor& t = file.at(e.name);
    CHECK(t.dtype == e.dtype);
    CHECK(t.shape == e.shape);
    CHECK(Bytes(t.data.begin(), t.data.end()) == Bytes(e.data.begin(), e.data.end()));
  }
  CHECK(file.at("scalar").element_count() == 1);
  CHECK(file.at("empty").element_count() == 0);
  // The data buffer starts 8-byte aligned (header padded), so F64 data is aligned in the mapping.
  CHECK((8 + file.header_bytes()) % 8 == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(file.at("t.F64").data.data()) % 8 == 0);
}

TEST_CASE("the writer orders tensors by dtype alignment, widest first, then by name", "[train]") {
  TempDir dir;
  const Bytes b8(8), b4(4), b2(2), b1(1);
  const SafetensorsEntry entries[] = {
      SafetensorsEntry::bytes("z", "U8", {1}, b1),  SafetensorsEntry::bytes("b", "F32", {1}, b4),
      SafetensorsEntry::bytes("a", "F32", {1}, b4), SafetensorsEntry::bytes("m", "BF16", {1}, b2),
      SafetensorsEntry::bytes("c", "I64", {1}, b8), SafetensorsEntry::bytes("d", "F64", {1}, b8),
  };
  write_safetensors(dir / "o.safetensors", entries);
  const SafetensorsFile file = SafetensorsFile::open(dir / "o.safetensors");
  std::vector<std::string> names;
  for (const auto& t : file.tensors()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"c", "d", "a", "b", "m", "z"});
  CHECK(file.at("c").begin == 0);
  CHECK(file.at("z").end == 8 + 8 + 4 + 4 + 2 + 1);
}

TEST_CASE("streamed tensors are written by their callbacks in file order", "[train]") {
  TempDir dir;
  std::vector<std::string> calls;
  const SafetensorsEntry entries[] = {
      SafetensorsEntry::streamed("big", "F32", {3},
                                 [&](AtomicFile& out) {
                                   calls.push_back("big");
                                   const Bytes b = f32_bytes({1, 2, 3});
                                   out.write(b.data(), 6);
                                   out.write(b.data() + 6, 6);
                                 }),
      SafetensorsEntry::streamed("small", "U8", {2},
                                 [&](AtomicFile& out) {
                                   calls.push_back("small");
                                   out.write("\x07\x08", 2);
                                 }),
  };
  write_safetensors(dir / "s.safetensors", entries);
  CHECK(calls == std::vector<std::string>{"big", "small"});
  const SafetensorsFile file = SafetensorsFile::open(dir / "s.safetensors");
  CHECK(Bytes(file.at("big").data.begin(), file.at("big").data.end()) == f32_bytes({1, 2, 3}));
  CHECK(Bytes(file.at("small").data.begin(), file.at("small").data.end()) == Bytes{7, 8});
}

TEST_CASE("a stream that writes the wrong number of bytes fails and leaves no file", "[train]") {
  TempDir dir;
  const SafetensorsEntry entries[] = {
      SafetensorsEntry::streamed("w", "F32", {2}, [](AtomicFile& out) { out.write("abc", 3); })};
  CHECK_THROWS_WITH(
      write_safetensors(dir / "bad.safetensors", entries),
      Catch::Contains("tensor \"w\"") && Catch::Contains("wrote 3 bytes") && Catch::Contains("needs 8"));
  CHECK(dir.entries().empty());
}

TEST_CASE("the writer rejects bad entries, naming the file and the tensor, and leaves no file", "[train]") {
  TempDir dir;
  const auto path = dir / "w.safetensors";
  const Bytes b4(4);
  SECTION("unknown dtype") {
    const SafetensorsEntry e[] = {SafetensorsEntry::bytes("x", "F12", {1}, b4)};
    CHECK_THROWS_WITH(write_safetensors(path, e),
                      Catch::Contains(path.string()) && Catch::Contains("\"F12\""));
  }
  SECTION("data size differs from the shape") {
    const SafetensorsEntry e[] = {SafetensorsEntry::bytes("x", "F32", {2}, b4)};
    CHECK_THROWS_WITH(write_safetensors(path, e),
                      Catch::Contains("tensor \"x\"") && Catch::Contains("needs 8"));
  }
  SECTION("duplicate names") {
    const SafetensorsEntry e[] = {SafetensorsEntry::bytes("x", "F32", {1}, b4),
                                  SafetensorsEntry::bytes("x", "I32", {1}, b4)};
    CHECK_THROWS_WITH(write_safetensors(path, e), Catch::Contains("\"x\" is given twice"));
  }
  SECTION("the reserved name __metadata__") {
    const SafetensorsEntry e[] = {SafetensorsEntry::bytes("__metadata__", "F32", {1}, b4)};
    CHECK_THROWS_AS(write_safetensors(path, e), FileError);
  }
  SECTION("negative or overflowing shapes") {
    const SafetensorsEntry neg[] = {SafetensorsEntry::bytes("x", "F32", {-1}, b4)};
    CHECK_THROWS_AS(write_safetensors(path, neg), FileError);
    const SafetensorsEntry big[] = {SafetensorsEntry::bytes("x", "F32", {1ll << 40, 1ll << 40}, b4)};
    CHECK_THROWS_AS(write_safetensors(path, big), FileError);
  }
  SECTION("an odd number of F4 elements") {
    const SafetensorsEntry e[] = {SafetensorsEntry::bytes("x", "F4", {3}, b4)};
    CHECK_THROWS_AS(write_safetensors(path, e), FileError);
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("safetensors dtypes map to lowbit DTypes where lowbit has one", "[train]") {
  const std::pair<const char*, DType> pairs[] = {{"F32", DType::float32},
                                                 {"F16", DType::float16},
                                                 {"BF16", DType::bfloat16},
                                                 {"F64", DType::float64},
                                                 {"F8_E4M3", DType::float8_e4m3fn},
                                                 {"F8_E5M2", DType::float8_e5m2},
                                                 {"I32", DType::int32},
                                                 {"I8", DType::int8},
                                                 {"U8", DType::uint8}};
  for (const auto& [name, type] : pairs) {
    CHECK(dtype_from_safetensors(name) == type);
    CHECK(safetensors_dtype_of(type) == std::string_view(name));
  }
  CHECK_FALSE(dtype_from_safetensors("I64"));
  CHECK_FALSE(dtype_from_safetensors("F8_E4M3FNUZ"));
  CHECK_FALSE(safetensors_dtype_of(DType::int4));
  CHECK(safetensors_dtype_names().size() == 22);
  CHECK(safetensors_dtype_bits("F4") == 4);
  CHECK(safetensors_dtype_bits("F6_E3M2") == 6);
  CHECK(safetensors_dtype_bits("C64") == 64);
  CHECK_FALSE(safetensors_dtype_bits("f32"));
  const std::int64_t f6_shape[] = {4};
  CHECK(safetensors_byte_size("F6_E2M3", f6_shape) == 3);
}

TEST_CASE("looking up a missing tensor names the file and the tensor", "[train]") {
  TempDir dir;
  const Bytes b4(4);
  const SafetensorsEntry e[] = {SafetensorsEntry::bytes("w", "F32", {1}, b4)};
  write_safetensors(dir / "m.safetensors", e);
  const SafetensorsFile file = SafetensorsFile::open(dir / "m.safetensors");
  CHECK(file.find("w") != nullptr);
  CHECK(file.find("v") == nullptr);
  CHECK_THROWS_WITH(file.at("layer.9.bias"),
                    Catch::Contains((dir / "m.safetensors").string()) && Catch::Contains("\"layer.9.bias\""));
}

TEST_CASE("opening a missing safetensors file is a FileError naming it", "[train]") {
  TempDir dir;
  CHECK_THROWS_WITH(SafetensorsFile::open(dir / "nope.safetensors"),
                    Catch::Contains("nope.safetensors") && Catch::Contains("No such file"));
}
