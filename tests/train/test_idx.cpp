// IDX reading: raw and gzip, every element type in host byte order, and each defect a FileError naming
// the file and the field.
#include <catch2/catch.hpp>
#include <cstring>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/idx.hpp"
#include "test_idx_support.hpp"

using namespace lowbit::train;
using namespace lowbit_test;
using Catch::Contains;

namespace {

std::string read_error(const Bytes& bytes, const char* name = "case.idx") {
  TempDir dir;
  write_bytes(dir / name, bytes);
  try {
    read_idx(dir / name);
  } catch (const lowbit::FileError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains((dir / name).string()));
    return message;
  }
  return "";
}

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 13 + 5);
  return b;
}

}  // namespace

TEST_CASE("an unsigned-byte IDX file reads the same raw and gzip-compressed", "[train]") {
  TempDir dir;
  const Bytes pixels = pattern(3 * 28 * 28);
  const Bytes file = idx_image(0x08, {3, 28, 28}, pixels);
  write_bytes(dir / "raw-idx3-ubyte", file);
  write_bytes(dir / "gz-idx3-ubyte.gz", gzip_stored(file));
  for (const auto* name : {"raw-idx3-ubyte", "gz-idx3-ubyte.gz"}) {
    const IdxArray a = read_idx(dir / name);
    CHECK(a.type == IdxType::u8);
    CHECK(a.dims == std::vector<std::int64_t>{3, 28, 28});
    CHECK(a.element_count() == 3 * 28 * 28);
    CHECK(a.data == pixels);
  }
}

TEST_CASE("a gzip file of many deflate blocks reads whole", "[train]") {
  TempDir dir;
  const Bytes labels = pattern(200'000);
  write_bytes(dir / "l.gz", gzip_stored(idx_image(0x08, {200'000}, labels)));
  CHECK(read_idx(dir / "l.gz").data == labels);
}

TEST_CASE("multi-byte IDX elements are big-endian in the file and host order in memory", "[train]") {
  TempDir dir;
  write_bytes(dir / "i32", idx_image(0x0C, {2}, {0x01, 0x02, 0x03, 0x04, 0xFF, 0xFF, 0xFF, 0xFE}));
  const IdxArray a = read_idx(dir / "i32");
  REQUIRE(a.data.size() == 8);
  std::int32_t v[2];
  std::memcpy(v, a.data.data(), 8);
  CHECK(v[0] == 0x01020304);
  CHECK(v[1] == -2);

  write_bytes(dir / "f32", idx_image(0x0D, {1}, {0x3F, 0xC0, 0x00, 0x00}));  // 1.5f
  float f;
  std::memcpy(&f, read_idx(dir / "f32").data.data(), 4);
  CHECK(f == 1.5f);

  write_bytes(dir / "f64", idx_image(0x0E, {1}, {0xC0, 0x04, 0, 0, 0, 0, 0, 0}));  // -2.5
  double d;
  std::memcpy(&d, read_idx(dir / "f64").data.data(), 8);
  CHECK(d == -2.5);

  write_bytes(dir / "i16", idx_image(0x0B, {1}, {0x80, 0x01}));
  std::int16_t s;
  std::memcpy(&s, read_idx(dir / "i16").data.data(), 2);
  CHECK(s == -32767);

  write_bytes(dir / "i8", idx_image(0x09, {1, 1}, {0x80}));
  CHECK(read_idx(dir / "i8").type == IdxType::i8);
}

TEST_CASE("an IDX magic without two leading zero bytes is rejected", "[train]") {
  CHECK_THAT(read_error({'P', 'K', 3, 4, 0, 0, 0, 0}),
             Contains("magic 0x504b0304") && Contains("not an IDX file"));
}

TEST_CASE("an unknown IDX type code is rejected", "[train]") {
  CHECK_THAT(read_error(idx_image(0x0A, {1}, {0})), Contains("type code 0x0a is not an IDX type"));
}

TEST_CASE("an IDX file with no dimensions is rejected", "[train]") {
  CHECK_THAT(read_error({0, 0, 8, 0}), Contains("0 dimensions"));
}

TEST_CASE("a truncated IDX file is rejected, raw or gzip", "[train]") {
  CHECK_THAT(read_error({}), Contains("fewer than the 4 of the IDX magic"));
  CHECK_THAT(read_error({0, 0, 8, 3, 0, 0, 0, 2}),
             Contains("dimensions: the file ends inside the 3 dimension sizes"));
  const Bytes short_data = idx_image(0x08, {2, 4, 4}, pattern(20));
  CHECK_THAT(read_error(short_data),
             Contains("data: dimensions [2, 4, 4] need 32 bytes of data, the file has 20"));
  Bytes gz = gzip_stored(idx_image(0x08, {2, 4, 4}, pattern(32)));
  gz.resize(gz.size() - 20);
  CHECK_THAT(read_error(gz, "cut.gz"), Contains("truncated"));
  // Only the gzip trailer (CRC and length) is missing.
  Bytes no_trailer = gzip_stored(idx_image(0x08, {2}, {1, 2}));
  no_trailer.resize(no_trailer.size() - 8);
  CHECK_THAT(read_error(no_trailer, "trailer.gz"), Contains("gzip stream is truncated"));
}

TEST_CASE("corrupt gzip data is rejected", "[train]") {
  Bytes bad_crc = gzip_stored(idx_image(0x08, {4}, {1, 2, 3, 4}));
  bad_crc[bad_crc.size() - 8] ^= 0xFF;
  CHECK_THAT(read_error(bad_crc, "crc.gz"),
             Contains("corrupt gzip data") && Contains("incorrect data check"));
  Bytes bad_block = gzip_stored(idx_image(0x08, {4}, {1, 2, 3, 4}));
  bad_block[10] = 0x07;  // BTYPE 11: reserved
  CHECK_THAT(read_error(bad_block, "block.gz"), Contains("corrupt gzip data"));
}

TEST_CASE("dimensions whose product overflows are rejected", "[train]") {
  CHECK_THAT(read_error(idx_image(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})),
             Contains("dimensions [4294967295, 4294967295...] overflow the data size"));
}

TEST_CASE("a header claiming far more data than the file has fails as truncated without a huge allocation",
          "[train]") {
  CHECK_THAT(read_error(idx_image(0x08, {0x7FFFFFFF, 0x7FFFFFFF}, pattern(10))),
             Contains("the file has 10 (truncated)"));
}

TEST_CASE("bytes after the described data are rejected, raw or gzip", "[train]") {
  const Bytes extra = idx_image(0x08, {2}, {1, 2, 3});
  CHECK_THAT(read_error(extra), Contains("data: trailing bytes after the 2 bytes"));
  CHECK_THAT(read_error(gzip_stored(extra), "extra.gz"), Contains("trailing bytes"));
}

TEST_CASE("a missing IDX file is a FileError naming it", "[train]") {
  TempDir dir;
  CHECK_THROWS_WITH(read_idx(dir / "absent.gz"), Contains("absent.gz") && Contains("No such file"));
}
