// int4 weight-only GEMM/GEMV (group-wise scales, symmetric and with zero points) against the reference.
#include <catch2/catch.hpp>

#include <bit>
#include <random>
#include <vector>

#include "gemm_test_support.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/cpu_path.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels {
namespace {

struct W4Case {
  std::int64_t m, n, k;
  std::int32_t group;
  bool zero_points;
  DType a_type;
};

void check_w4(const W4Case& s, Transpose tb, std::mt19937& rng) {
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
  INFO("w4 m=" << s.m << " n=" << s.n << " k=" << s.k << " group=" << s.group
               << " zero points=" << s.zero_points << " a=" << dtype_name(s.a_type) << " tb=" << bt);
  const ReferenceResult ref = gemm_reference_values(s.m, s.n, s.k, ai, bi, co);
  gemm(s.m, s.n, s.k, ai, bi, co);
  test::check_f32_result(ref, c.data(), s.n, s.k, false);
}

TEST_CASE("int4 weight-only gemm with group scales and zero points stays within the bound", "[kernels]") {
  std::mt19937 rng(20);
  const CpuPath path = GENERATE(CpuPath::best, CpuPath::portable);
  set_cpu_path_limit(path);
  for (const std::int32_t group : {32, 64, 128}) {
    for (const bool zp : {false, true}) {
      for (const DType at : {DType::bfloat16, DType::float32}) {
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

}  // namespace
}  // namespace lowbit::kernels
