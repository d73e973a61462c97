// Argument checks shared by every GEMM entry point (CPU and CUDA): each bad argument gets a RangeError
// that names the function, the argument and its value.
#pragma once

#include <cstdint>

#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels {

void check_dims(const char* fn, std::int64_t m, std::int64_t n, std::int64_t k);

// A stored rows x cols matrix (before any transpose) with leading dimension ld.
void check_matrix(const char* fn, const char* name, const void* data, std::int64_t rows, std::int64_t cols,
                  std::int64_t ld);

// One operand: op(X) is rows x cols, stored as given by its transpose; its group fields are consistent.
void check_operand(const char* fn, const char* name, const MatrixIn& x, std::int64_t rows, std::int64_t cols);

// The sizes, operands (op(A) m x k, op(B) k x n, with their group scales) and C of a gemm() call.
void check_gemm_args(const char* fn, std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a,
                     const MatrixIn& b, const MatrixOut& c);

}  // namespace lowbit::kernels
