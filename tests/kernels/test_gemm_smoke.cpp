#include <catch2/catch.hpp>

#include "lowbit/kernels/gemm.hpp"

TEST_CASE("sgemm multiplies a 2x2 by a 2x2", "[kernels]") {
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  float c[4] = {};
  lowbit::kernels::sgemm(lowbit::kernels::Transpose::no, lowbit::kernels::Transpose::no, 2, 2, 2, 1.0f, a, 2,
                         b, 2, 0.0f, c, 2);
  CHECK(c[0] == 19);
  CHECK(c[1] == 22);
  CHECK(c[2] == 43);
  CHECK(c[3] == 50);
}
