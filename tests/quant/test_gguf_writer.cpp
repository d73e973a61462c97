// The GGUF writer: a file with metadata of every value type, arrays, a non-default alignment and tensors of
// several types, read back field by field; bad plans refused before anything is written.
#include <catch2/catch.hpp>

#include <filesystem>

#include "../train/test_safetensors_support.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"

using namespace lowbit::quant;

TEST_CASE("GGUF written by lowbit reads back with every value type, arrays and the alignment", "[quant]") {
  lowbit_test::TempDir dir;
  const auto path = dir / "m.gguf";
  GgufMetadata meta = {
      {"general.alignment", GgufValue::u32(64)},
      {"u8", GgufValue::scalar(GgufValueType::uint8, std::uint64_t{200})},
      {"i8", GgufValue::scalar(GgufValueType::int8, std::int64_t{-5})},
      {"u16", GgufValue::scalar(GgufValueType::uint16, std::uint64_t{65535})},
      {"i16", GgufValue::scalar(GgufValueType::int16, std::int64_t{-32768})},
      {"i32", GgufValue::i32(-7)},
      {"f32", GgufValue::f32(0.5f)},
      {"bool", GgufValue::boolean(true)},
      {"str", GgufValue::string("h\xc3\xa9llo")},
      {"u64", GgufValue::u64(1ull << 40)},
      {"i64", GgufValue::scalar(GgufValueType::int64, std::int64_t{-(1ll << 40)})},
      {"f64", GgufValue::scalar(GgufValueType::float64, 0.1)},
      {"tokens",
       GgufValue::array(GgufValueType::string, {std::string("a"), std::string(""), std::string("ccc")})},
      {"ids", GgufValue::array(GgufValueType::int32, {std::int64_t{1}, std::int64_t{-2}})},
  };
  std::vector<GgufTensorPlan> plans = {
      {"a", {2, 3}, GgmlType::f32}, {"b", {1, 64}, GgmlType::q8_0}, {"empty", {0, 4}, GgmlType::f16}};
  {
    GgufWriter w(path, meta, plans);
    CHECK(w.tensor_bytes(1) == 68);
    std::vector<std::uint8_t> a(24, 1), b(68, 2);
    w.write(a);
    w.write(std::span(b).first(10));
    w.write(std::span(b).subspan(10));
    w.commit();
  }
  const auto f = GgufFile::open(path);
  CHECK(f.alignment() == 64);
  REQUIRE(f.metadata().size() == meta.size());
  for (std::size_t i = 0; i < meta.size(); ++i) {
    INFO(meta[i].first);
    CHECK(f.metadata()[i].first == meta[i].first);
    CHECK(f.metadata()[i].second.type == meta[i].second.type);
    CHECK(f.metadata()[i].second.to_string(100) == meta[i].second.to_string(100));
  }
  CHECK(f.find_metadata("tokens")->element_type == GgufValueType::string);
  REQUIRE(f.tensors().size() == 3);
  CHECK(f.tensors()[1].offset == 64);  // 24 bytes of "a", padded to the alignment
  CHECK(f.tensors()[1].data[0] == 2);
  CHECK(f.tensors()[0].data[23] == 1);
  CHECK(f.tensors()[2].bytes == 0);
}

TEST_CASE("the GGUF writer refuses bad plans and leaves no file", "[quant]") {
  lowbit_test::TempDir dir;
  const auto path = dir / "bad.gguf";
  auto refused = [&](std::vector<GgufTensorPlan> plans, const GgufMetadata& meta, const std::string& needle) {
    try {
      GgufWriter w(path, meta, std::move(plans));
      FAIL("accepted");
    } catch (const lowbit::FileError& e) {
      CHECK_THAT(e.what(), Catch::Contains(needle));
    }
    CHECK(dir.entries().empty());
  };
  refused({{"t", {3, 48}, GgmlType::q4_0}}, {},
          "tensor \"t\": rows of 48 are not a whole number of q4_0 blocks");
  refused({{"t", {2}, GgmlType::f32}, {"t", {2}, GgmlType::f32}}, {}, "duplicate tensor name");
  refused({{"t", {1, 1, 1, 1, 1}, GgmlType::f32}}, {}, "5 dimensions");
  refused({}, {{"general.alignment", GgufValue::u32(24)}}, "general.alignment");
  refused({}, {{"k", GgufValue::u32(1)}, {"k", GgufValue::u32(2)}}, "metadata \"k\": duplicate key");
}

TEST_CASE("a GGUF writer that is not committed leaves no file behind", "[quant]") {
  lowbit_test::TempDir dir;
  {
    GgufWriter w(dir / "partial.gguf", {}, {{"t", {8}, GgmlType::f32}});
    std::vector<std::uint8_t> half(16);
    w.write(half);
    CHECK_THROWS_AS(w.commit(), lowbit::FileError);
  }
  CHECK(dir.entries().empty());
}
