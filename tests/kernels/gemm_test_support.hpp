// Shared helpers of the kernels tests: random operands with padding between rows, and the comparison of a
// fast result with gemm_reference (exact, or within gemm_error_bound).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels::test {

// A stored rows x cols fp32 matrix with `pad` extra elements per row (ld = cols + pad), filled with small
// integers in [-range, range] (every product and sum exact in fp32) or with normal(0, 1) values.
struct F32Matrix {
  std::int64_t rows = 0, cols = 0, ld = 0;
  std::vector<float> data;
  F32Matrix(std::int64_t r, std::int64_t c, std::int64_t pad, std::mt19937& rng, bool small_integers,
            int range = 4)
      : rows(r),
        cols(c),
        ld(c + pad),
        data(static_cast<std::size_t>(std::max<std::int64_t>(r * (c + pad), 1))) {
    std::uniform_int_distribution<int> ints(-range, range);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& x : data) x = small_integers ? static_cast<float>(ints(rng)) : normal(rng);
  }
};

// Checks every element of an fp32 C against the reference: bit-exact when `exact`, otherwise within the
// K-dependent bound. Reports the first few failures with their position.
inline void check_f32_result(const ReferenceResult& ref, const float* c, std::int64_t ldc, std::int64_t k,
                             bool exact, Activation act = Activation::none, DType out = DType::float32) {
  int failures = 0;
  for (std::int64_t i = 0; i < ref.m; ++i) {
    for (std::int64_t j = 0; j < ref.n; ++j) {
      const double want = ref.at(i, j), got = c[i * ldc + j];
      const double bound =
          exact ? 0.0 : gemm_error_bound(k, want, ref.magnitude[i * ref.n + j], out, 0x1p-24, act);
      if (!(std::fabs(got - want) <= bound) && failures++ < 5) {
        INFO("C(" << i << ", " << j << ") = " << got << ", reference " << want << ", bound " << bound);
        CHECK(std::fabs(got - want) <= bound);
      }
    }
  }
  CHECK(failures == 0);
}

}  // namespace lowbit::kernels::test
