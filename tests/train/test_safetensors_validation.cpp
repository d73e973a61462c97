// safetensors validation as the reference implementation does it, each rule against a hand-built file.
// Every rejection is a FileError naming the file, the field and the bad value.
#include <catch2/catch.hpp>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"
#include "test_safetensors_support.hpp"

using namespace lowbit::train;
using namespace lowbit_test;
using Catch::Contains;

namespace {

// Opens `bytes` written to a file and returns the error message (empty when the file is accepted).
std::string open_error(const Bytes& bytes) {
  TempDir dir;
  const auto path = dir / "case.safetensors";
  write_bytes(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const lowbit::FileError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains(path.string()));
    return message;
  }
  return "";
}

std::string header_error(std::string_view header, std::size_t data_bytes) {
  return open_error(safetensors_image(header, data_bytes));
}

}  // namespace

TEST_CASE("a well-formed hand-built file with padding and unsorted entries is accepted", "[train]") {
  // Entries listed out of offset order, space padding after the JSON, and a zero-size tensor.
  CHECK(header_error(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("e":{"dtype":"F16","shape":[0,3],"data_offsets":[6,6]}}     )",
                     6) == "");
  CHECK(header_error("{}", 0) == "");
}

TEST_CASE("a file shorter than the 8-byte header length is rejected", "[train]") {
  CHECK_THAT(open_error({}), Contains("fewer than the 8"));
  CHECK_THAT(open_error({1, 0, 0}), Contains("fewer than the 8"));
}

TEST_CASE("a header length above 100,000,000 bytes is rejected before reading it", "[train]") {
  Bytes b;
  append_le64(b, 100'000'001);
  b.push_back('{');
  CHECK_THAT(open_error(b), Contains("header length 100000001") && Contains("limit of 100000000"));
  Bytes huge;
  append_le64(huge, ~std::uint64_t{0});
  CHECK_THAT(open_error(huge), Contains("larger than the limit"));
}

TEST_CASE("a header length past the end of the file is rejected as truncated", "[train]") {
  Bytes b;
  append_le64(b, 50);
  const std::string text = R"({"a":{"dtype":"U8")";
  b.insert(b.end(), text.begin(), text.end());
  CHECK_THAT(open_error(b), Contains("header length 50 runs past the end"));
}

TEST_CASE("a header that is not valid UTF-8 is rejected", "[train]") {
  std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"k":"x"}})";
  header[header.find('x')] = '\xff';
  CHECK_THAT(header_error(header, 1), Contains("header is not valid UTF-8") && Contains("0xff"));
  std::string overlong = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"k":"xx"}})";
  overlong.replace(overlong.find("xx"), 2, "\xc0\xaf");  // an overlong '/'
  CHECK_THAT(header_error(overlong, 1), Contains("not valid UTF-8"));
}

TEST_CASE("a header that does not start with '{' or is not a JSON object is rejected", "[train]") {
  CHECK_THAT(header_error(R"( {})", 0), Contains("does not start with '{'"));
  CHECK_THAT(header_error(R"([1, 2])", 0), Contains("does not start with '{'") && Contains("0x5b"));
  CHECK_THAT(header_error("", 0), Contains("does not start with '{'"));
  CHECK_THAT(header_error(R"({"a": )", 0), Contains("header is not valid JSON"));
  CHECK_THAT(header_error(R"({} {})", 0), Contains("header is not valid JSON"));
}

TEST_CASE("a tensor name given twice in the header is rejected", "[train]") {
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                          2),
             Contains("key \"w\" twice"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})", 1),
             Contains("key \"dtype\" twice"));
}

TEST_CASE("an unknown dtype is rejected with the list of dtypes", "[train]") {
  CHECK_THAT(header_error(R"({"w":{"dtype":"F12","shape":[1],"data_offsets":[0,1]}})", 1),
             Contains("tensor \"w\": dtype \"F12\" is not a safetensors dtype") && Contains("BF16"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", 4),
             Contains("\"f32\""));
  CHECK_THAT(header_error(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4), Contains("dtype 7"));
}

TEST_CASE("missing or malformed tensor fields are rejected", "[train]") {
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[1]}})", 1),
             Contains("tensor \"w\": data_offsets is missing"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", 1), Contains("shape is missing"));
  CHECK_THAT(header_error(R"({"w":[1,2]})", 0), Contains("tensor \"w\": entry must be an object"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", 1),
             Contains("shape [-1] has the dimension -1"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", 1),
             Contains("dimension 1.0"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1),
             Contains("data_offsets must be [begin, end]") && Contains("[0]"));
  CHECK_THAT(header_error(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,-1]}})", 1),
             Contains("data_offsets"));
}

TEST_CASE("metadata values must be strings", "[train]") {
  CHECK_THAT(header_error(R"({"__metadata__":{"epoch":3}})", 0),
             Contains("__metadata__ \"epoch\"") && Contains("3"));
  CHECK_THAT(header_error(R"({"__metadata__":["a"]})", 0), Contains("__metadata__ must be an object"));
}

TEST_CASE("overlapping data_offsets are rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          8),
             Contains("tensor \"b\": data_offsets [4, 8] overlap tensor \"a\" [0, 8]"));
  // Two tensors on the same bytes.
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          4),
             Contains("overlap"));
}

TEST_CASE("a gap between tensors or before the first one is rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}})",
                          10),
             Contains("tensor \"b\": data_offsets [6, 10] leave a gap: bytes [4, 6)"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 6),
             Contains("bytes [0, 2)"));
}

TEST_CASE("data_offsets that end before they begin are rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
                          4),
             Contains("[4, 0] end before they begin"));
}

TEST_CASE("data_offsets past the end of the file are rejected as truncated", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 10),
             Contains("tensor \"a\": data_offsets [0, 16] run past the end of the data buffer (10 bytes"));
}

TEST_CASE("bytes after the last tensor are rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 7),
             Contains("end at byte 4 of the data buffer, but it has 7 bytes (3 trailing bytes)"));
  CHECK_THAT(header_error("{}", 1), Contains("1 trailing bytes"));
}

TEST_CASE("a byte size that differs from shape times dtype size is rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
             Contains("tensor \"a\": data_offsets [0, 20] span 20 bytes, but shape [2, 3] of F32 needs 24"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
             Contains("12 bits, not a whole number of bytes"));
}

TEST_CASE("a shape whose element count or byte size overflows is rejected", "[train]") {
  CHECK_THAT(header_error(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
             Contains("tensor \"a\": shape [4294967296, 4294967296] has more elements than 2^64"));
  // 2^62 elements fit, 4-byte elements do not.
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0),
             Contains("overflows the byte size"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})", 0),
             Contains("not an integer in [0, 2^63)"));
}

TEST_CASE("an in-memory image validates exactly as a file does", "[train]") {
  const Bytes good = safetensors_image(R"({"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})", 4);
  const SafetensorsFile file = SafetensorsFile::parse(good, "memory");
  CHECK(file.at("a").data.size() == 4);
  CHECK(file.at("a").data[3] == 3);
  const Bytes bad = safetensors_image(R"({"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})", 3);
  CHECK_THROWS_WITH(SafetensorsFile::parse(bad, "memory"), Contains("memory: tensor \"a\""));
}
