#include "gemm_args.hpp"

#include <fmt/format.h>

#include "lowbit/formats/error.hpp"

namespace lowbit::kernels {

void check_operand(const char* fn, const char* name, const MatrixIn& x, std::int64_t rows,
                   std::int64_t cols) {
  const bool t = x.transpose == Transpose::yes;
  check_matrix(fn, name, x.data, t ? cols : rows, t ? rows : cols, x.ld);
  if (x.group_size < 0)
    throw RangeError(fmt::format("{}: {}.group_size = {} is negative", fn, name, x.group_size));
  if (x.group_span < 1)
    throw RangeError(fmt::format("{}: {}.group_span = {} must be at least 1", fn, name, x.group_span));
  if (x.group_size > 0 && x.group_scale == nullptr) {
    throw RangeError(
        fmt::format("{}: {}.group_size = {} but {}.group_scale is null", fn, name, x.group_size, name));
  }
}

void check_dims(const char* fn, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (m < 0) throw RangeError(fmt::format("{}: m = {} is negative", fn, m));
  if (n < 0) throw RangeError(fmt::format("{}: n = {} is negative", fn, n));
  if (k < 0) throw RangeError(fmt::format("{}: k = {} is negative", fn, k));
}

void check_matrix(const char* fn, const char* name, const void* data, std::int64_t rows, std::int64_t cols,
                  std::int64_t ld) {
  if (rows == 0 || cols == 0) return;
  if (data == nullptr)
    throw RangeError(fmt::format("{}: {} is null for a {}x{} matrix", fn, name, rows, cols));
  if (ld < cols) {
    throw RangeError(
        fmt::format("{}: ld{} = {} is less than the {} elements of a stored row", fn, name, ld, cols));
  }
}

void check_gemm_args(const char* fn, std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a,
                     const MatrixIn& b, const MatrixOut& c) {
  check_dims(fn, m, n, k);
  check_operand(fn, "a", a, m, k);
  check_operand(fn, "b", b, k, n);
  check_matrix(fn, "c", c.data, m, n, c.ld);
  if (c.type == DType::int4) throw RangeError(fmt::format("{}: c.type = int4 is not an output type", fn));
}

}  // namespace lowbit::kernels
