// The plain GEMM every fast path is tested against (DESIGN.md section 4): straightforward loops, every input
// decoded exactly through the formats registry, products summed in fp64 (int64 for integer inputs, so
// integer GEMMs are exact), the same epilogue as gemm(), one final rounding into C's type.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels {

// The exact value of element `index` (row-major position i * ld + j) of a buffer of `type`, before any
// group scale; int4 reads the nibble `index % 2` of byte `index / 2` as a two's-complement number.
double decode_element(DType type, const void* data, std::int64_t index);

// What the reference computed for every element of C, before rounding into C's type.
struct ReferenceResult {
  std::int64_t m = 0, n = 0;
  std::vector<double> value;      // the epilogue's result in fp64 (m * n, row-major)
  std::vector<double> magnitude;  // the same expression over absolute values: |scales| * sum|a||b| + |beta C|
                                  // + |bias|, the scale of the rounding errors a fast path may make
  double at(std::int64_t i, std::int64_t j) const { return value[static_cast<std::size_t>(i * n + j)]; }
};

// The reference's fp64 result for gemm(m, n, k, a, b, c, epilogue); reads C only when beta != 0.
ReferenceResult gemm_reference_values(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a,
                                      const MatrixIn& b, const MatrixOut& c, const Epilogue& epilogue = {});

// gemm_reference_values, rounded once (nearest-even) into C's type and written to C. For integer inputs
// with an int32 C and no scales the result is the exact int32 sum (wrapping like the hardware on overflow).
void gemm_reference(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
                    const MatrixOut& c, const Epilogue& epilogue = {});

// The error a correct fast path may make on one element (DESIGN.md section 4): accumulating k products in a
// format with unit roundoff `accumulate_u` (2^-24 for fp32) costs at most about (k + extra) * u * magnitude,
// where extra counts the epilogue's own roundings; then one rounding into `out` (half an ulp of the value,
// plus the smallest subnormal step) and the activation's evaluation error. Generous by a factor of 2.
double gemm_error_bound(std::int64_t k, double value, double magnitude, DType out,
                        double accumulate_u = 0x1p-24, Activation activation = Activation::none);

}  // namespace lowbit::kernels
