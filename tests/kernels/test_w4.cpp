// int4 weight-only GEMM/GEMV (group-wise scales, symmetric and with zero points) against the reference.
#include <catch2/catch.hpp>

#include <bit>
#include <random>
#include <vector>

#include "gemm_test_support.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/cpu_path.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/packed_weights.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels {
namespace {

struct W4Case {
  std::int64_t m, n, k;
  std::int32_t group;
  bool zero_points;
  DType a_type;
};

// gemm on the int4 weights as stored, or (packed) on PackedInt4Weights made from them, against the reference
// on the stored weights.
void check_w4(const W4Case& s, Transpose tb, std::mt19937& rng, bool packed = false) {
  const bool bt = tb == Transpose::yes;
  const std::int64_t ld_b = (bt ? s.k : s.n) + 2;  // even: whole bytes per stored row
  const std::int64_t stored = (bt ? s.n : s.k) * ld_b;
  std::vector<std::uint8_t> w(static_cast<std::size_t>((stored + 1) / 2));
  std::uniform_int_distribution<int> byte(0, 255), zero(-8, 7);
  for (auto& x : w) x = static_cast<std::uint8_t>(byte(rng));
  const std::int64_t groups = (s.k + s.group - 1) / s.group;
  std::vector<float> scale(static_cast<std::size_t>(groups * s.n));
  std::vector<std::int8_t> zeros(scale.size());
  std::uniform_real_distribution<float> unit(0.01f, 0.2f);
  for (auto& x : scale) x = unit(rng);
  for (auto& x : zeros) x = static_cast<std::int8_t>(zero(rng));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::int64_t ld_a = s.k + 1;
  std::vector<std::uint32_t> a(static_cast<std::size_t>(s.m * ld_a));  // room for fp32; bf16 uses half
  for (std::int64_t i = 0; i < s.m * ld_a; ++i) {
    const float v = normal(rng);
    if (s.a_type == DType::float32) {
      a[i] = std::bit_cast<std::uint32_t>(v);
    } else if (s.a_type == DType::float8_e4m3fn || s.a_type == DType::float8_e5m2) {
      reinterpret_cast<std::uint8_t*>(a.data())[i] = static_cast<std::uint8_t>(
          convert(dtype_format(DType::float32), dtype_format(s.a_type), std::bit_cast<std::uint32_t>(v)));
    } else {
      const auto code = static_cast<std::uint16_t>(convert(
          dtype_format(DType::float32), dtype_format(DType::bfloat16), std::bit_cast<std::uint32_t>(v)));
      reinterpret_cast<std::uint16_t*>(a.data())[i] = code;
    }
  }
  MatrixIn ai{a.data(), s.a_type, ld_a};
  MatrixIn bi{w.data(), DType::int4, ld_b, tb, s.group, scale.data(), s.zero_points ? zeros.data() : nullptr};
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const MatrixOut co{c.data(), DType::float32, s.n};
  INFO("w4 m=" << s.m << " n=" << s.n << " k=" << s.k << " group=" << s.group << " zero points="
               << s.zero_points << " a=" << dtype_name(s.a_type) << " tb=" << bt << " packed=" << packed);
  const ReferenceResult ref = gemm_reference_values(s.m, s.n, s.k, ai, bi, co);
  if (packed) {
    gemm(s.m, s.n, s.k, ai, PackedInt4Weights(s.k, s.n, bi), co);
  } else {
    gemm(s.m, s.n, s.k, ai, bi, co);
  }
  test::check_f32_result(ref, c.data(), s.n, s.k, false);
}

TEST_CASE("int4 weight-only gemm with group scales and zero points stays within the bound", "[kernels]") {
  std::mt19937 rng(20);
  // best: AMX where the CPU has it; avx512: the AVX512_BF16 kernel (M > 8) and the GEMV; portable: widening.
  const CpuPath path = GENERATE(CpuPath::best, CpuPath::avx512, CpuPath::portable);
  set_cpu_path_limit(path);
  for (const std::int32_t group : {32, 64, 128}) {
    for (const bool zp : {false, true}) {
      for (const DType at : {DType::bfloat16, DType::float8_e5m2, DType::float32}) {
        for (const W4Case& s : {W4Case{1, 1, 128, group, zp, at}, W4Case{1, 100, 512, group, zp, at},
                                W4Case{3, 33, 256, group, zp, at}, W4Case{8, 70, 384, group, zp, at},
                                W4Case{9, 40, 256, group, zp, at}, W4Case{2, 17, 96, group, zp, at},
                                W4Case{64, 50, 1024, group, zp, at}, W4Case{1, 2000, 256, group, zp, at},
                                W4Case{40, 70, 2176, group, zp, at}}) {
          check_w4(s, Transpose::yes, rng);
          check_w4(s, Transpose::no, rng);
        }
      }
    }
  }
  set_cpu_path_limit(CpuPath::best);
}

TEST_CASE("gemm on pre-packed int4 weights stays within the bound of the weights it was packed from",
          "[kernels]") {
  std::mt19937 rng(21);
  // best: AMX unpacks the packed codes (bf16 / fp8 activations), avx512: the AVX512_BF16 kernel does (both
  // where the CPU lacks AMX); portable: the weights unpacked into a temporary and the plain gemm. fp32
  // activations take that last way on every path.
  const CpuPath path = GENERATE(CpuPath::best, CpuPath::avx512, CpuPath::portable);
  set_cpu_path_limit(path);
  for (const std::int32_t group : {32, 128, 1024}) {
    for (const bool zp : {false, true}) {
      for (const DType at : {DType::bfloat16, DType::float8_e4m3fn, DType::float32}) {
        // Sizes 1, 7, 33, 1000 and others off every tile (32 columns, 32 k per step, 256-column blocks,
        // 1024-k blocks, 256-row A blocks), K = 1, M above one A block.
        for (const W4Case& s : {W4Case{1, 1, 1, group, zp, at}, W4Case{7, 33, 33, group, zp, at},
                                W4Case{1, 1000, 96, group, zp, at}, W4Case{33, 7, 1000, group, zp, at},
                                W4Case{64, 300, 2080, group, zp, at}, W4Case{300, 40, 128, group, zp, at}}) {
          check_w4(s, Transpose::yes, rng, true);
          check_w4(s, Transpose::no, rng, true);
        }
      }
    }
  }
  set_cpu_path_limit(CpuPath::best);
}

TEST_CASE("packed int4 weights unpack to the codes, scales and zero points they were packed from",
          "[kernels]") {
  std::mt19937 rng(22);
  const std::int64_t k = 100, n = 45, ld = 102, groups = 4;
  std::vector<std::uint8_t> w(static_cast<std::size_t>(n * ld / 2));
  for (auto& x : w) x = static_cast<std::uint8_t>(rng());
  std::vector<float> scale(static_cast<std::size_t>(n * groups));
  std::vector<std::int8_t> zero(scale.size());
  for (std::size_t i = 0; i < scale.size(); ++i) {
    scale[i] = static_cast<float>(i) + 0.5f;
    zero[i] = static_cast<std::int8_t>(static_cast<int>(i % 16) - 8);
  }
  const MatrixIn b{w.data(), DType::int4, ld, Transpose::yes, 32, scale.data(), zero.data()};
  const PackedInt4Weights packed(k, n, b);
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;
  std::vector<std::int8_t> zeros;
  const MatrixIn u = packed.unpacked(codes, scales, zeros);
  REQUIRE(u.group_zero != nullptr);
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t p = 0; p < k; ++p) {
      INFO("j=" << j << " p=" << p);
      REQUIRE(decode_element(DType::int4, u.data, j * u.ld + p) ==
              decode_element(DType::int4, w.data(), j * ld + p));
    }
    for (std::int64_t g = 0; g < groups; ++g) {
      REQUIRE(u.group_scale[j * groups + g] == scale[static_cast<std::size_t>(j * groups + g)]);
      REQUIRE(u.group_zero[j * groups + g] == zero[static_cast<std::size_t>(j * groups + g)]);
    }
  }
}

TEST_CASE("packed int4 weights reject other types, group sizes and shapes, naming them", "[kernels]") {
  std::vector<std::uint8_t> w(64 * 64 / 2);
  std::vector<float> scale(64 * 2, 1.0f);
  const MatrixIn b{w.data(), DType::int4, 64, Transpose::yes, 32, scale.data()};
  MatrixIn bad = b;
  bad.type = DType::int8;
  CHECK_THROWS_WITH(PackedInt4Weights(64, 64, bad), Catch::Contains("b.type = int8"));
  bad = b;
  bad.group_size = 48;
  CHECK_THROWS_WITH(PackedInt4Weights(64, 64, bad), Catch::Contains("b.group_size = 48"));
  bad = b;
  bad.group_scale = nullptr;
  CHECK_THROWS_WITH(PackedInt4Weights(64, 64, bad), Catch::Contains("group_scale"));
  const PackedInt4Weights packed(64, 64, b);
  std::vector<std::uint16_t> a(64);
  std::vector<float> c(64);
  CHECK_THROWS_WITH(gemm(1, 32, 64, MatrixIn{a.data(), DType::bfloat16, 64}, packed,
                         MatrixOut{c.data(), DType::float32, 64}),
                    Catch::Contains("packed weights are 64 x 64"));
}

}  // namespace
}  // namespace lowbit::kernels
