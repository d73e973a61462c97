// The portable paths: float inputs of any type widened to fp32 (formats' bulk conversion, exact for every
// type narrower than fp32) and multiplied by the packed Highway sgemm; integer inputs (and int4 / grouped
// operands) by plain int32/fp32 loops. Used when the CPU lacks AVX512_BF16 or VNNI, and for type pairs
// without a dedicated kernel.
#include <cstring>
#include <vector>

#include "cpu/problem.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels::cpu {

bool epilogue_is_exact_int32(const GemmProblem& p);

namespace {

// op(X) as a dense rows x cols fp32 matrix (not transposed), group scales applied.
std::vector<float> widen(const MatrixIn& x, std::int64_t rows, std::int64_t cols, bool is_b, std::int64_t k) {
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  const bool t = x.transpose == Transpose::yes;
  const std::int64_t stored_rows = t ? cols : rows, stored_cols = t ? rows : cols;
  std::vector<float> line(static_cast<std::size_t>(stored_cols));
  const Format& from = dtype_format(x.type);
  const Format& f32 = dtype_format(DType::float32);
  const auto* bytes = static_cast<const unsigned char*>(x.data);
  for (std::int64_t r = 0; r < stored_rows; ++r) {
    if (x.type == DType::int4) {
      for (std::int64_t c = 0; c < stored_cols; ++c)
        line[c] = static_cast<float>(decode_element(x.type, x.data, r * x.ld + c));
    } else {
      convert_bulk(from, bytes + r * x.ld * static_cast<std::int64_t>(element_bytes(from)), f32, line.data(),
                   static_cast<std::size_t>(stored_cols));
    }
    for (std::int64_t c = 0; c < stored_cols; ++c) {
      const std::int64_t i = t ? c : r, j = t ? r : c;  // position in op(X)
      float v = line[c];
      if (x.group_size > 0) {
        const std::int64_t groups = (k + x.group_size - 1) / x.group_size;
        const std::int64_t other = is_b ? j : i, p = is_b ? i : j;
        const std::int64_t g = other / x.group_span * groups + p / x.group_size;
        if (x.group_zero) v -= x.group_zero[g];
        v *= x.group_scale[g];
      }
      out[static_cast<std::size_t>(i * cols + j)] = v;
    }
  }
  return out;
}

}  // namespace

void gemm_widen_f32(const GemmProblem& p) {
  const std::vector<float> a = widen(p.a, p.m, p.k, false, p.k), b = widen(p.b, p.k, p.n, true, p.k);
  if (epilogue_is_plain_f32(p)) {
    sgemm(Transpose::no, Transpose::no, p.m, p.n, p.k, p.epilogue.alpha, a.data(), p.k, b.data(), p.n,
          p.epilogue.beta, static_cast<float*>(p.c.data), p.c.ld);
    return;
  }
  std::vector<float> acc(static_cast<std::size_t>(p.m * p.n));
  sgemm(Transpose::no, Transpose::no, p.m, p.n, p.k, 1.0f, a.data(), p.k, b.data(), p.n, 0.0f, acc.data(),
        p.n);
  apply_epilogue(p, acc.data(), p.n, 0, p.m, 0, p.n);
}

void gemm_int_portable(const GemmProblem& p) {
  // Exact int32 sums (wrapping), one row of C at a time.
  std::vector<std::int32_t> acc(static_cast<std::size_t>(p.m * p.n));
  std::vector<std::int32_t> bcol(static_cast<std::size_t>(p.k));
  for (std::int64_t j = 0; j < p.n; ++j) {
    for (std::int64_t q = 0; q < p.k; ++q) {
      const std::int64_t idx = p.b.transpose == Transpose::yes ? j * p.b.ld + q : q * p.b.ld + j;
      bcol[q] = static_cast<std::int32_t>(decode_element(p.b.type, p.b.data, idx));
    }
    for (std::int64_t i = 0; i < p.m; ++i) {
      std::uint32_t s = 0;
      for (std::int64_t q = 0; q < p.k; ++q) {
        const std::int64_t idx = p.a.transpose == Transpose::yes ? q * p.a.ld + i : i * p.a.ld + q;
        s += static_cast<std::uint32_t>(static_cast<std::int32_t>(decode_element(p.a.type, p.a.data, idx)) *
                                        bcol[q]);
      }
      acc[static_cast<std::size_t>(i * p.n + j)] = static_cast<std::int32_t>(s);
    }
  }
  if (epilogue_is_exact_int32(p)) {
    auto* c = static_cast<std::int32_t*>(p.c.data);
    for (std::int64_t i = 0; i < p.m; ++i) {
      for (std::int64_t j = 0; j < p.n; ++j) {
        const std::uint32_t old = p.epilogue.beta == 1.0f ? static_cast<std::uint32_t>(c[i * p.c.ld + j]) : 0;
        c[i * p.c.ld + j] = static_cast<std::int32_t>(old + static_cast<std::uint32_t>(acc[i * p.n + j]));
      }
    }
    return;
  }
  std::vector<float> f(acc.begin(), acc.end());
  apply_epilogue(p, f.data(), p.n, 0, p.m, 0, p.n);
}

}  // namespace lowbit::kernels::cpu
