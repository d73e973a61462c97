// The fast fp32 GEMM behind sgemm() (kernels/src/gemm.cpp): Goto/BLIS structure compiled once per Highway
// target (sgemm_simd.cpp) and picked at run time. Arguments are validated by the caller.
#pragma once

#include <cstdint>

namespace lowbit::kernels::cpu {

struct SgemmArgs {
  bool transpose_a = false, transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  float alpha = 1, beta = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0;
  float* c = nullptr;
  std::int64_t ldc = 0;
  int threads = 1;
};

// C = alpha * op(A) * op(B) + beta * C for m, n, k >= 1 (C is not read when beta == 0).
void sgemm_packed(const SgemmArgs& args);

// The Highway target the dispatcher chose (for benchmark reports).
const char* sgemm_target_name();

}  // namespace lowbit::kernels::cpu
