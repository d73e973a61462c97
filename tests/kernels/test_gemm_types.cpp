// gemm() over every input type pair against the fp64 reference: integer GEMMs and small-integer float
// inputs exactly, other float inputs within the K-dependent bound; the epilogue (scales, bias, activations)
// and every output type.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "gemm_test_support.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cpu_path.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels {
namespace {

bool is_int(DType t) {
  return t == DType::int8 || t == DType::uint8 || t == DType::int4 || t == DType::int32;
}

// A stored rows x cols matrix of `type` codes with ld = cols + pad. Floats: normal(0, 1) values rounded into
// the type, or small integers in [-4, 4] (exact in every type); integers: uniform codes over the type.
std::vector<std::uint8_t> random_operand(DType type, std::int64_t rows, std::int64_t /*cols*/,
                                         std::int64_t ld, std::mt19937& rng, bool small_integers) {
  const std::size_t count = static_cast<std::size_t>(std::max<std::int64_t>(rows * ld, 1));
  std::vector<std::uint8_t> out(dtype_storage_bytes(type, count) + 1);
  const int bytes = std::max(dtype_bits(type) / 8, 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-4, 4);
  std::uniform_int_distribution<std::uint32_t> any;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t code;
    if (type == DType::int4) {
      const std::uint8_t nib = any(rng) & 0xf;
      out[i / 2] = static_cast<std::uint8_t>(out[i / 2] | (nib << (4 * (i % 2))));
      continue;
    } else if (is_int(type)) {
      code = any(rng);
      if (small_integers)
        code = static_cast<std::uint64_t>(small(rng)) & ((std::uint64_t{1} << dtype_bits(type)) - 1);
      if (type == DType::uint8 && small_integers) code = small(rng) + 4;
    } else {
      const float v = small_integers ? static_cast<float>(small(rng)) : normal(rng);
      code = convert(dtype_format(DType::float32), dtype_format(type), std::bit_cast<std::uint32_t>(v));
    }
    std::memcpy(out.data() + i * bytes, &code, bytes);
  }
  return out;
}

struct Shape {
  std::int64_t m, n, k;
};

// {9, 40, 4301}: k past every kernel's k block (2048 for the AVX-512 ones), so C is added to between blocks.
const Shape kShapes[] = {{1, 1, 1},     {7, 33, 1},      {33, 7, 3},    {15, 33, 65},
                         {29, 47, 257}, {1, 100, 1000},  {64, 10, 256}, {130, 140, 70},
                         {40, 1000, 5}, {345, 33, 1025}, {9, 40, 4301}};

// Runs gemm and the reference on one problem; exact or bounded comparison of every element of C.
void check_gemm(DType ta_type, DType tb_type, DType c_type, const Shape& s, Transpose ta, Transpose tb,
                const Epilogue& e, bool small_integers, std::mt19937& rng) {
  const bool a_t = ta == Transpose::yes, b_t = tb == Transpose::yes;
  const std::int64_t a_ld = (a_t ? s.m : s.k) + 3, b_ld = (b_t ? s.k : s.n) + 2, c_ld = s.n + 1;
  const auto a = random_operand(ta_type, a_t ? s.k : s.m, a_t ? s.m : s.k, a_ld, rng, small_integers);
  const auto b = random_operand(tb_type, b_t ? s.n : s.k, b_t ? s.k : s.n, b_ld, rng, small_integers);
  auto c = random_operand(c_type, s.m, s.n, c_ld, rng, true);
  auto c_ref = c;
  const MatrixIn ai{a.data(), ta_type, a_ld, ta}, bi{b.data(), tb_type, b_ld, tb};
  const MatrixOut co{c.data(), c_type, c_ld}, cr{c_ref.data(), c_type, c_ld};
  INFO(dtype_name(ta_type) << " x " << dtype_name(tb_type) << " -> " << dtype_name(c_type) << ", m=" << s.m
                           << " n=" << s.n << " k=" << s.k << " ta=" << a_t << " tb=" << b_t << " alpha="
                           << e.alpha << " beta=" << e.beta << (small_integers ? " small integers" : ""));
  const ReferenceResult values = gemm_reference_values(s.m, s.n, s.k, ai, bi, cr, e);
  gemm_reference(s.m, s.n, s.k, ai, bi, cr, e);
  gemm(s.m, s.n, s.k, ai, bi, co, e);
  const bool exact =
      (is_int(ta_type) && is_int(tb_type) && c_type == DType::int32 && e.alpha == 1.0f && !e.row_scale &&
       !e.col_scale && !e.bias) ||
      (small_integers && e.activation != Activation::gelu_tanh && !e.row_scale && !e.col_scale);
  int failures = 0;
  for (std::int64_t i = 0; i < s.m; ++i) {
    for (std::int64_t j = 0; j < s.n; ++j) {
      const double got = decode_element(c_type, c.data(), i * c_ld + j);
      const double want = exact ? decode_element(c_type, c_ref.data(), i * c_ld + j) : values.at(i, j);
      const double bound =
          exact ? 0.0
                : gemm_error_bound(s.k, want, values.magnitude[i * s.n + j], c_type, 0x1p-24, e.activation);
      if (!(std::fabs(got - want) <= bound) && failures++ < 3) {
        INFO("C(" << i << ", " << j << ") = " << got << ", reference " << want << ", bound " << bound);
        CHECK(std::fabs(got - want) <= bound);
      }
    }
  }
  CHECK(failures == 0);
}

const std::pair<DType, DType> kFloatPairs[] = {
    {DType::bfloat16, DType::bfloat16},       {DType::float8_e4m3fn, DType::float8_e4m3fn},
    {DType::float8_e5m2, DType::float8_e5m2}, {DType::bfloat16, DType::float8_e4m3fn},
    {DType::float16, DType::float16},         {DType::float32, DType::float16},
    {DType::float32, DType::float32}};

const std::pair<DType, DType> kIntPairs[] = {{DType::int8, DType::int8},
                                             {DType::uint8, DType::int8},
                                             {DType::int8, DType::uint8},
                                             {DType::uint8, DType::uint8},
                                             {DType::int4, DType::int8}};

// Runs the body once per CPU path limit (AMX, AVX-512, portable), restoring the default afterwards; paths
// the CPU lacks fall back to the next one, so every machine runs every limit.
const CpuPath kPaths[] = {CpuPath::best, CpuPath::avx512, CpuPath::portable};
struct PathLimit {
  explicit PathLimit(CpuPath p) { set_cpu_path_limit(p); }
  ~PathLimit() { set_cpu_path_limit(CpuPath::best); }
};

TEST_CASE("gemm on bf16, fp16 and fp8 inputs matches the reference exactly on small integers", "[kernels]") {
  std::mt19937 rng(10);
  const CpuPath path = GENERATE(from_range(std::begin(kPaths), std::end(kPaths)));
  const PathLimit limit(path);
  INFO("path limit " << static_cast<int>(path));
  for (const auto& [ta, tb] : kFloatPairs) {
    for (const Shape& s : kShapes) {
      for (const Transpose tra : {Transpose::no, Transpose::yes}) {
        for (const Transpose trb : {Transpose::no, Transpose::yes}) {
          check_gemm(ta, tb, DType::float32, s, tra, trb, {}, true, rng);
        }
      }
      check_gemm(ta, tb, DType::float32, s, Transpose::no, Transpose::no, {2.0f, -1.0f}, true, rng);
    }
  }
}

TEST_CASE("gemm reads every fp8 code as its exact value, NaNs as NaN, on either side of the product",
          "[kernels]") {
  // Row c of A (or column c of B) holds code c at k = 0 and zeros elsewhere; the other operand is 1 at k = 0.
  // So C's element for code c is that code's value, through whatever packing the path uses (K = 64: whole
  // 32-code chunks, the vectorized AMX packers, plus the scalar tails of B's odd rows).
  const CpuPath path = GENERATE(from_range(std::begin(kPaths), std::end(kPaths)));
  const PathLimit limit(path);
  const DType type = GENERATE(DType::float8_e4m3fn, DType::float8_e5m2);
  INFO("path limit " << static_cast<int>(path) << ", " << dtype_name(type));
  constexpr std::int64_t kCodes = 256, kK = 64, kOther = 32;
  const auto one =
      static_cast<std::uint8_t>(convert(dtype_format(DType::float32), dtype_format(type), 0x3f800000u));
  auto expected = [&](std::int64_t code) {
    return std::bit_cast<float>(
        static_cast<std::uint32_t>(convert(dtype_format(type), dtype_format(DType::float32), code)));
  };
  auto check = [&](const std::vector<float>& c, std::int64_t ld, bool codes_in_rows) {
    int failures = 0;
    for (std::int64_t code = 0; code < kCodes; ++code) {
      const float got = codes_in_rows ? c[code * ld] : c[code], want = expected(code);
      const bool same = std::isnan(want) ? std::isnan(got) : got == want;
      if (!same && failures++ < 3) {
        INFO("code 0x" << std::hex << code << std::dec << ": got " << got << ", want " << want);
        CHECK(same);
      }
    }
    CHECK(failures == 0);
  };
  for (const bool codes_in_a : {true, false}) {  // codes down A's first column, or along B's first row
    INFO((codes_in_a ? "codes in A, ones in B" : "codes in B, ones in A"));
    const std::int64_t m = codes_in_a ? kCodes : kOther, n = codes_in_a ? kOther : kCodes;
    std::vector<std::uint8_t> a(m * kK, 0), b(kK * n, 0);
    for (std::int64_t i = 0; i < m; ++i) a[i * kK] = codes_in_a ? static_cast<std::uint8_t>(i) : one;
    for (std::int64_t j = 0; j < n; ++j) b[j] = codes_in_a ? one : static_cast<std::uint8_t>(j);
    std::vector<float> c(m * n, -7.0f);
    gemm(m, n, kK, {a.data(), type, kK, Transpose::no}, {b.data(), type, n, Transpose::no},
         {c.data(), DType::float32, n});
    check(c, n, codes_in_a);
  }
}

TEST_CASE("gemm on bf16, fp16 and fp8 inputs stays within the K-dependent bound", "[kernels]") {
  std::mt19937 rng(11);
  const CpuPath path = GENERATE(from_range(std::begin(kPaths), std::end(kPaths)));
  const PathLimit limit(path);
  INFO("path limit " << static_cast<int>(path));
  for (const auto& [ta, tb] : kFloatPairs) {
    for (const Shape& s : kShapes) {
      check_gemm(ta, tb, DType::float32, s, Transpose::no, Transpose::yes, {0.5f, 0.0f}, false, rng);
      check_gemm(ta, tb, DType::float32, s, Transpose::yes, Transpose::no, {1.0f, 0.75f}, false, rng);
    }
  }
}

TEST_CASE("integer gemm gives the exact int32 sums for s8, u8 and int4 inputs", "[kernels]") {
  std::mt19937 rng(12);
  const CpuPath path = GENERATE(from_range(std::begin(kPaths), std::end(kPaths)));
  const PathLimit limit(path);
  INFO("path limit " << static_cast<int>(path));
  for (const auto& [ta, tb] : kIntPairs) {
    for (const Shape& s : kShapes) {
      for (const Transpose tra : {Transpose::no, Transpose::yes}) {
        for (const Transpose trb : {Transpose::no, Transpose::yes}) {
          check_gemm(ta, tb, DType::int32, s, tra, trb, {}, false, rng);
        }
      }
      check_gemm(ta, tb, DType::int32, s, Transpose::no, Transpose::no, {1.0f, 1.0f}, false, rng);
    }
  }
}

TEST_CASE("gemm epilogue: row and column scales, bias, relu and gelu, into fp32, bf16, fp16 and int32",
          "[kernels]") {
  std::mt19937 rng(13);
  const CpuPath path = GENERATE(from_range(std::begin(kPaths), std::end(kPaths)));
  const PathLimit limit(path);
  INFO("path limit " << static_cast<int>(path));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> row_scale(400), col_scale(1100), bias(1100);
  for (auto& x : row_scale) x = 0.5f + std::fabs(normal(rng));
  for (auto& x : col_scale) x = 0.5f + std::fabs(normal(rng));
  for (auto& x : bias) x = normal(rng);
  const std::pair<DType, DType> pairs[] = {{DType::float32, DType::float32},
                                           {DType::bfloat16, DType::bfloat16},
                                           {DType::float8_e4m3fn, DType::float8_e5m2},
                                           {DType::int8, DType::int8},
                                           {DType::uint8, DType::int8}};
  for (const auto& [ta, tb] : pairs) {
    for (const DType out : {DType::float32, DType::bfloat16, DType::float16}) {
      for (const Activation act : {Activation::none, Activation::relu, Activation::gelu_tanh}) {
        for (const Shape& s : {Shape{7, 33, 17}, Shape{130, 140, 70}, Shape{1, 1000, 64}}) {
          Epilogue e{0.25f, 0.5f, row_scale.data(), col_scale.data(), bias.data(), act};
          // Integer inputs hold small integers here, so sums stay inside fp16's range.
          check_gemm(ta, tb, out, s, Transpose::no, Transpose::no, e, is_int(ta), rng);
          e.row_scale = nullptr;
          e.beta = 0.0f;
          check_gemm(ta, tb, out, s, Transpose::yes, Transpose::yes, e, is_int(ta), rng);
        }
      }
    }
  }
  // int32 output from fp32 values: rounded to nearest-even, the reference rounding once from fp64.
  check_gemm(DType::int8, DType::int8, DType::int32, Shape{20, 30, 40}, Transpose::no, Transpose::no,
             Epilogue{0.5f, 0.0f, nullptr, col_scale.data()}, false, rng);
}

TEST_CASE("gemm rejects int4 output, a group size without scales and short leading dimensions", "[kernels]") {
  std::vector<float> buf(16);
  const MatrixIn a{buf.data(), DType::float32, 4}, b{buf.data(), DType::float32, 4};
  CHECK_THROWS_WITH(gemm(2, 2, 2, a, b, MatrixOut{buf.data(), DType::int4, 4}), Catch::Contains("int4"));
  MatrixIn grouped = b;
  grouped.group_size = 32;
  CHECK_THROWS_WITH(gemm(2, 2, 2, a, grouped, MatrixOut{buf.data(), DType::float32, 4}),
                    Catch::Contains("group_scale is null"));
  CHECK_THROWS_AS(
      gemm(2, 4, 2, a, MatrixIn{buf.data(), DType::float32, 3}, MatrixOut{buf.data(), DType::float32, 4}),
      RangeError);
}

}  // namespace
}  // namespace lowbit::kernels
