// The GGUF reader on hand-built files: a valid one read field by field, then each header field made wrong
// on its own, which must be refused with a message naming that field and its value.
#include <catch2/catch.hpp>

#include <limits>

#include "gguf_bytes.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"

using lowbit::FileError;
using lowbit::quant::GgmlType;
using lowbit::quant::GgufFile;
using lowbit_test::GgufBytes;

namespace {

GgufFile parse(const GgufBytes& b) {
  return GgufFile::parse(b.bytes, "test.gguf");
}

void require_rejected(const GgufBytes& b, const std::string& needle) {
  try {
    parse(b);
    FAIL("accepted a malformed file; expected an error containing: " << needle);
  } catch (const FileError& e) {
    INFO("message: " << e.what());
    CHECK_THAT(e.what(), Catch::Contains("test.gguf") && Catch::Contains(needle));
  }
}

// A valid file: two key-values, an f32 [2, 3] tensor and a q8_0 [1, 32] tensor.
GgufBytes valid() {
  GgufBytes b;
  b.header(2, 2).kv_u32("general.quantization_version", 2).kv_str("general.name", "tiny");
  b.tensor("w", {3, 2}, 0, 0).tensor("q", {32, 1}, 8, 32).pad();
  b.zeros(24).pad().zeros(34).pad();
  return b;
}

}  // namespace

TEST_CASE("the GGUF reader reads version, metadata, tensor infos and data offsets of a valid file",
          "[quant]") {
  const auto b = valid();
  const auto f = parse(b);
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  REQUIRE(f.metadata().size() == 2);
  CHECK(f.metadata()[0].first == "general.quantization_version");
  CHECK(std::get<std::uint64_t>(f.metadata()[0].second.items[0]) == 2);
  CHECK(f.find_metadata("general.name")->to_string() == "\"tiny\"");
  REQUIRE(f.tensors().size() == 2);
  const auto& w = f.tensors()[0];
  CHECK(w.name == "w");
  CHECK(w.shape() == std::vector<std::int64_t>{2, 3});
  CHECK(w.type == GgmlType::f32);
  CHECK(w.bytes == 24);
  const auto& q = f.tensors()[1];
  CHECK(q.type == GgmlType::q8_0);
  CHECK(q.bytes == 34);
  CHECK(q.data.data() == b.bytes.data() + f.data_offset() + 32);
  CHECK(f.data_offset() % 32 == 0);
}

TEST_CASE("the GGUF reader refuses a bad magic, an old, newer or big-endian version", "[quant]") {
  auto b = valid();
  b.bytes[0] = 'X';
  require_rejected(b, "magic");
  GgufBytes v1;
  v1.header(0, 0, 1);
  require_rejected(v1, "version 1");
  GgufBytes v4;
  v4.header(0, 0, 4);
  require_rejected(v4, "version 4");
  GgufBytes big;
  big.header(0, 0, 0x03000000);
  require_rejected(big, "big-endian");
  GgufBytes tiny;
  tiny.bytes = {'G', 'G', 'U', 'F', 3, 0};
  require_rejected(tiny, "truncated: version");
}

TEST_CASE("the GGUF reader refuses tensor and metadata counts the file cannot hold", "[quant]") {
  GgufBytes many_tensors;
  many_tensors.header(std::numeric_limits<std::uint64_t>::max() / 2, 0).zeros(64);
  require_rejected(many_tensors, "tensor count 9223372036854775807");
  GgufBytes many_kv;
  many_kv.header(0, 1'000'000).zeros(64);
  require_rejected(many_kv, "metadata count 1000000");
}

TEST_CASE("the GGUF reader refuses strings and arrays longer than the rest of the file", "[quant]") {
  GgufBytes long_key;
  long_key.header(0, 1).put<std::uint64_t>(1'000'000).zeros(32);
  require_rejected(long_key, "metadata key 0: string length 1000000");
  GgufBytes long_value;
  long_value.header(0, 1).str("general.name").put<std::uint32_t>(8).put<std::uint64_t>(~0ull).zeros(8);
  require_rejected(long_value, "metadata \"general.name\": string length 18446744073709551615");
  GgufBytes long_array;
  // 2^61 u64 elements: the byte count would overflow 64 bits.
  long_array.header(0, 1)
      .str("a")
      .put<std::uint32_t>(9)
      .put<std::uint32_t>(10)
      .put<std::uint64_t>(1ull << 61)
      .zeros(16);
  require_rejected(long_array, "metadata \"a\": array length 2305843009213693952");
  GgufBytes long_name;
  long_name.header(1, 0).put<std::uint64_t>(1ull << 40).zeros(64);
  require_rejected(long_name, "tensor 0 name: string length 1099511627776");
}

TEST_CASE("the GGUF reader refuses unknown value types, nested arrays and duplicate keys", "[quant]") {
  GgufBytes bad_type;
  bad_type.header(0, 1).str("k").put<std::uint32_t>(13).zeros(16);
  require_rejected(bad_type, "metadata \"k\": unknown value type 13");
  GgufBytes bad_element;
  bad_element.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(99).put<std::uint64_t>(0).zeros(
      16);
  require_rejected(bad_element, "metadata \"k\": unknown array element type 99");
  GgufBytes nested;
  nested.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(9).put<std::uint64_t>(1).zeros(16);
  require_rejected(nested, "metadata \"k\": nested arrays");
  GgufBytes dup;
  dup.header(0, 2).kv_u32("k", 1).kv_u32("k", 2).zeros(16);
  require_rejected(dup, "metadata \"k\": duplicate key");
}

TEST_CASE("the GGUF reader refuses an alignment that is not a u32 power of two", "[quant]") {
  GgufBytes three;
  three.header(0, 1).kv_u32("general.alignment", 48).zeros(16);
  require_rejected(three, "\"general.alignment\": 48 is not a power of two");
  GgufBytes zero;
  zero.header(0, 1).kv_u32("general.alignment", 0).zeros(16);
  require_rejected(zero, "\"general.alignment\": 0 is not a power of two");
  GgufBytes as_string;
  as_string.header(0, 1).kv_str("general.alignment", "32").zeros(16);
  require_rejected(as_string, "\"general.alignment\": type str, must be u32");
}

TEST_CASE("the GGUF reader honours general.alignment for the data section and offsets", "[quant]") {
  GgufBytes b;
  b.header(2, 1).kv_u32("general.alignment", 64).tensor("a", {4}, 0, 0).tensor("b", {4}, 0, 64).pad(64);
  b.zeros(128);
  const auto f = parse(b);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() % 64 == 0);
  GgufBytes unaligned;
  unaligned.header(1, 1).kv_u32("general.alignment", 64).tensor("a", {4}, 0, 32).pad(64).zeros(128);
  require_rejected(unaligned, "tensor \"a\": offset 32 is not a multiple of the alignment 64");
}

TEST_CASE("the GGUF reader refuses bad tensor infos: dims, overflow, type, block size", "[quant]") {
  GgufBytes five_dims;
  five_dims.header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32);
  require_rejected(five_dims, "tensor \"t\": n_dims 5 exceeds");
  GgufBytes negative;
  negative.header(1, 0).tensor("t", {1ull << 63}, 0, 0).pad().zeros(32);
  require_rejected(negative, "tensor \"t\": ne[0] = 9223372036854775808 is negative");
  GgufBytes overflow;
  overflow.header(1, 0).tensor("t", {1ull << 32, 1ull << 32}, 0, 0).pad().zeros(32);
  require_rejected(overflow, "tensor \"t\": the element count overflows at ne[1] = 4294967296");
  GgufBytes bytes_overflow;
  bytes_overflow.header(1, 0).tensor("t", {1ull << 62}, 0, 0).pad().zeros(32);
  require_rejected(bytes_overflow,
                   "tensor \"t\": the byte size of 4611686018427387904 f32 elements overflows");
  GgufBytes bad_type;
  bad_type.header(1, 0).tensor("t", {4}, 31, 0).pad().zeros(32);
  require_rejected(bad_type, "tensor \"t\": unknown ggml type 31");
  GgufBytes partial_block;
  partial_block.header(1, 0).tensor("t", {48}, 8, 0).pad().zeros(64);
  require_rejected(partial_block,
                   "tensor \"t\": row length ne[0] = 48 is not a multiple of the q8_0 block size 32");
  GgufBytes dup;
  dup.header(2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad().zeros(64);
  require_rejected(dup, "tensor \"t\": duplicate tensor name");
}

TEST_CASE("the GGUF reader refuses tensor data past the end of the file or overlapping another", "[quant]") {
  GgufBytes past;
  past.header(1, 0).tensor("t", {16}, 0, 0).pad().zeros(32);  // 64 bytes needed, 32 present
  require_rejected(past, "tensor \"t\": data [0, 64)");
  GgufBytes far;
  far.header(1, 0).tensor("t", {4}, 0, 1ull << 62).pad().zeros(32);
  require_rejected(far, "tensor \"t\": data [4611686018427387904");
  GgufBytes overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128);
  require_rejected(overlap, "tensor \"b\": data at offset 32 overlaps tensor \"a\"");
  GgufBytes cut;
  cut.header(1, 0).tensor("t", {4}, 0, 0);
  cut.bytes.resize(cut.bytes.size() - 3);
  require_rejected(cut, "truncated: tensor \"t\" offset");
}
