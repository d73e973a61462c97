// sgemm against the fp64 reference: every shape class the packed kernel treats differently (edge tiles in
// M, N and K, one thread or two, several k / m / n blocks), both transposes, padded leading dimensions.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "gemm_test_support.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels {
namespace {

using test::F32Matrix;

struct Case {
  std::int64_t m, n, k;
};

// Runs sgemm and the reference on the same inputs and compares them.
void run_case(const Case& s, Transpose ta, Transpose tb, float alpha, float beta, bool small_integers,
              std::mt19937& rng) {
  const bool ta_yes = ta == Transpose::yes, tb_yes = tb == Transpose::yes;
  F32Matrix a(ta_yes ? s.k : s.m, ta_yes ? s.m : s.k, 3, rng, small_integers);
  F32Matrix b(tb_yes ? s.n : s.k, tb_yes ? s.k : s.n, 5, rng, small_integers);
  F32Matrix c(s.m, s.n, 2, rng, small_integers);
  const std::vector<float> c_before = c.data;
  INFO("m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta_yes << " tb=" << tb_yes
            << " alpha=" << alpha << " beta=" << beta << (small_integers ? " small integers" : " normal"));
  const MatrixIn ai{a.data.data(), DType::float32, a.ld, ta}, bi{b.data.data(), DType::float32, b.ld, tb};
  const MatrixOut co{c.data.data(), DType::float32, c.ld};
  const ReferenceResult ref = gemm_reference_values(s.m, s.n, s.k, ai, bi, co, {alpha, beta});
  sgemm(ta, tb, s.m, s.n, s.k, alpha, a.data.data(), a.ld, b.data.data(), b.ld, beta, c.data.data(), c.ld);
  test::check_f32_result(ref, c.data.data(), c.ld, s.k, small_integers);
  // The padding between rows of C is never written.
  for (std::int64_t i = 0; i < s.m; ++i) {
    for (std::int64_t j = s.n; j < c.ld; ++j) REQUIRE(c.data[i * c.ld + j] == c_before[i * c.ld + j]);
  }
}

const Case kShapes[] = {
    {1, 1, 1},
    {1, 7, 33},
    {7, 1, 33},
    {33, 33, 1},
    {13, 31, 17},
    {15, 33, 257},
    {29, 65, 300},
    {64, 10, 256},
    {1, 1000, 7},
    {1000, 1, 7},
    {40, 40, 1000},
    {33, 1000, 3},
    {200, 300, 129},
    {400, 40, 40},
    {9, 2100, 20},
    {345, 97, 513},
    {16, 3000, 20},
    {16, 100, 1000},
    {17, 65, 40},
    {4, 9000, 30},
    {3, 100, 600},
    {2, 33, 1},
    // Two threads splitting columns (at most 6 row tiles), A packed (more than 4 panels) or read in place,
    // short last tiles of 1-13 rows; products one tile high read B in place (9 and 13 rows: 8 + 1, 8 + 4 +
    // 1).
    {29, 300, 100},
    {85, 200, 64},
    {70, 129, 600},
    {9, 32, 5000},
    {13, 260, 700},
    {64, 784, 288},
    // Three k blocks of the packed path (kc 1024), two threads taking row blocks.
    {100, 200, 2100},
};

TEST_CASE("sgemm matches the reference exactly on small-integer inputs, every shape and transpose",
          "[kernels]") {
  std::mt19937 rng(1);
  for (const Case& s : kShapes) {
    for (const Transpose ta : {Transpose::no, Transpose::yes}) {
      for (const Transpose tb : {Transpose::no, Transpose::yes}) {
        run_case(s, ta, tb, 1.0f, 0.0f, true, rng);
      }
    }
    run_case(s, Transpose::no, Transpose::yes, 2.0f, -1.0f, true, rng);
    run_case(s, Transpose::yes, Transpose::no, -0.5f, 1.0f, true, rng);
  }
}

TEST_CASE("sgemm stays within the K-dependent error bound on normal inputs", "[kernels]") {
  std::mt19937 rng(2);
  for (const Case& s : kShapes) {
    for (const Transpose ta : {Transpose::no, Transpose::yes}) {
      for (const Transpose tb : {Transpose::no, Transpose::yes}) {
        run_case(s, ta, tb, 0.75f, 0.0f, false, rng);
      }
    }
    run_case(s, Transpose::no, Transpose::no, 1.5f, 0.25f, false, rng);
  }
}

TEST_CASE("sgemm with one thread gives the same result as with two", "[kernels]") {
  std::mt19937 rng(3);
  // Row split with shared B, column split with A packed and in place, B read in place.
  for (const Case& s : {Case{150, 170, 90}, Case{64, 784, 288}, Case{40, 100, 1000}, Case{13, 260, 700},
                        Case{345, 97, 513}}) {
    INFO("m=" << s.m << " n=" << s.n << " k=" << s.k);
    F32Matrix a(s.m, s.k, 0, rng, false), b(s.k, s.n, 0, rng, false);
    std::vector<float> c1(s.m * s.n), c2(s.m * s.n);
    const int saved = num_threads();
    set_num_threads(1);
    sgemm(Transpose::no, Transpose::no, s.m, s.n, s.k, 1.0f, a.data.data(), s.k, b.data.data(), s.n, 0.0f,
          c1.data(), s.n);
    set_num_threads(2);
    sgemm(Transpose::no, Transpose::no, s.m, s.n, s.k, 1.0f, a.data.data(), s.k, b.data.data(), s.n, 0.0f,
          c2.data(), s.n);
    set_num_threads(saved);
    CHECK(c1 == c2);  // the split is over whole tiles of C; each element sums in the same order
  }
}

TEST_CASE("sgemm with beta = 0 ignores NaN in C, with k = 0 or alpha = 0 only scales C", "[kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float a[] = {1, 2}, b[] = {3, 4};
  float c[] = {nan, nan, nan, nan};
  sgemm(Transpose::no, Transpose::no, 2, 2, 1, 1.0f, a, 1, b, 2, 0.0f, c, 2);
  CHECK(c[0] == 3);
  CHECK(c[3] == 8);
  float d[] = {1, 2, 3, 4};
  sgemm(Transpose::no, Transpose::no, 2, 2, 0, 1.0f, a, 1, b, 2, 3.0f, d, 2);
  CHECK(d[3] == 12);
  sgemm(Transpose::no, Transpose::no, 2, 2, 1, 0.0f, a, 1, b, 2, 0.0f, d, 2);
  CHECK(d[3] == 0);
}

TEST_CASE("sgemm rejects negative sizes, null pointers and short leading dimensions by name", "[kernels]") {
  const float a[4] = {}, b[4] = {};
  float c[4] = {};
  CHECK_THROWS_WITH(sgemm(Transpose::no, Transpose::no, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                    Catch::Contains("m = -1"));
  CHECK_THROWS_WITH(sgemm(Transpose::no, Transpose::no, 2, 2, 2, 1, nullptr, 2, b, 2, 0, c, 2),
                    Catch::Contains("a is null"));
  CHECK_THROWS_WITH(sgemm(Transpose::no, Transpose::yes, 2, 2, 2, 1, a, 2, b, 1, 0, c, 2),
                    Catch::Contains("ldb = 1"));
  CHECK_THROWS_AS(sgemm(Transpose::no, Transpose::no, 2, 2, 2, 1, a, 2, b, 2, 0, c, 1), RangeError);
}

}  // namespace
}  // namespace lowbit::kernels
