// The portable paths: float inputs of any type widened to fp32 (formats' bulk conversion, exact for every
// type narrower than fp32) and multiplied by the packed Highway sgemm; integer inputs (and int4 / grouped
// operands) by plain int32/fp32 loops. Used when the CPU lacks AVX512_BF16 or VNNI, and for type pairs
// without a dedicated kernel.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/problem.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/parallel.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels::cpu {

bool epilogue_is_exact_int32(const GemmProblem& p);

namespace {

// An operand as sgemm reads it: fp32 data, leading dimension, transpose; `owned` holds the widened copy (none
// for fp32 operands, read in place). Copies are not zero-filled first: every element is written, and at the
// trainer's sizes the fill cost as much as the conversion.
struct Widened {
  std::unique_ptr<float[]> owned;
  const float* data = nullptr;
  std::int64_t ld = 0;
  Transpose transpose = Transpose::no;
};

// op(X) as a dense rows x cols fp32 matrix (not transposed), group scales applied: the slow, general
// widening, for int4 and group-scaled operands.
Widened widen_grouped(const MatrixIn& x, std::int64_t rows, std::int64_t cols, bool is_b, std::int64_t k) {
  Widened w{std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(rows * cols)), nullptr, cols,
            Transpose::no};
  w.data = w.owned.get();
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
      w.owned[static_cast<std::size_t>(i * cols + j)] = v;
    }
  }
  return w;
}

// A plain float operand widened in its stored layout (transpose kept, rows packed to ld = stored columns),
// the rows converted in parallel: no transposing scatter, and sgemm picks its own path for the transpose.
Widened widen_stored(const MatrixIn& x, std::int64_t rows, std::int64_t cols) {
  const bool t = x.transpose == Transpose::yes;
  const std::int64_t stored_rows = t ? cols : rows, stored_cols = t ? rows : cols;
  if (x.type == DType::float32) return {nullptr, static_cast<const float*>(x.data), x.ld, x.transpose};
  Widened w{std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(stored_rows * stored_cols)),
            nullptr, stored_cols, x.transpose};
  w.data = w.owned.get();
  const Format& from = dtype_format(x.type);
  const Format& f32 = dtype_format(DType::float32);
  const auto* bytes = static_cast<const unsigned char*>(x.data);
  const std::int64_t row_bytes = x.ld * static_cast<std::int64_t>(element_bytes(from));
  float* out = w.owned.get();
  const std::int64_t grain = std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(stored_cols, 1));
  parallel_for(stored_rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    if (x.ld == stored_cols) {  // contiguous rows: one conversion for the whole range
      convert_bulk(from, bytes + r0 * row_bytes, f32, out + r0 * stored_cols,
                   static_cast<std::size_t>((r1 - r0) * stored_cols));
      return;
    }
    for (std::int64_t r = r0; r < r1; ++r)
      convert_bulk(from, bytes + r * row_bytes, f32, out + r * stored_cols,
                   static_cast<std::size_t>(stored_cols));
  });
  return w;
}

Widened widen(const MatrixIn& x, std::int64_t rows, std::int64_t cols, bool is_b, std::int64_t k) {
  if (x.group_size > 0 || x.type == DType::int4) return widen_grouped(x, rows, cols, is_b, k);
  return widen_stored(x, rows, cols);
}

}  // namespace

void gemm_widen_f32(const GemmProblem& p) {
  const Widened a = widen(p.a, p.m, p.k, false, p.k), b = widen(p.b, p.k, p.n, true, p.k);
  if (epilogue_is_plain_f32(p)) {
    sgemm(a.transpose, b.transpose, p.m, p.n, p.k, p.epilogue.alpha, a.data, a.ld, b.data, b.ld,
          p.epilogue.beta, static_cast<float*>(p.c.data), p.c.ld);
    return;
  }
  const auto acc = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(p.m * p.n));
  sgemm(a.transpose, b.transpose, p.m, p.n, p.k, 1.0f, a.data, a.ld, b.data, b.ld, 0.0f, acc.get(), p.n);
  apply_epilogue(p, acc.get(), p.n, 0, p.m, 0, p.n);
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
