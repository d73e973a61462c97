// The reference GEMM: deliberately plain, sharing no code with the fast paths (kernels/src/cpu). Narrow
// floats are decoded through the formats registry (a conversion to float64, exact for every code), so a bug
// in the SIMD decoders cannot hide behind the same bug here.
#include "lowbit/kernels/reference.hpp"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::kernels {

namespace {

// Exact fp64 values of every code of a 16-bit or narrower float type, built once through formats.
const std::vector<double>& value_table(DType type) {
  static std::array<std::vector<double>, 16> tables;
  static std::once_flag once[16];
  const auto slot = static_cast<std::size_t>(type);
  std::call_once(once[slot], [&] {
    const Format& from = dtype_format(type);
    const Format& to = dtype_format(DType::float64);
    const std::uint64_t count = std::uint64_t{1} << from.bits();
    tables[slot].resize(count);
    for (std::uint64_t code = 0; code < count; ++code) {
      tables[slot][code] = std::bit_cast<double>(convert(from, to, code));
    }
  });
  return tables[slot];
}

bool is_integer(DType t) {
  return t == DType::int8 || t == DType::uint8 || t == DType::int4 || t == DType::int32;
}

// op(X)(row, col), with X's group scale and zero point applied; `other` is the index that selects the group
// row (the row of op(A) or the column of op(B)) and `p` the index along K.
double operand(const MatrixIn& x, std::int64_t row, std::int64_t col, std::int64_t other, std::int64_t p,
               std::int64_t k) {
  const std::int64_t index = x.transpose == Transpose::yes ? col * x.ld + row : row * x.ld + col;
  double v = decode_element(x.type, x.data, index);
  if (x.group_size > 0) {
    const std::int64_t groups = (k + x.group_size - 1) / x.group_size;
    const std::int64_t g = other / x.group_span * groups + p / x.group_size;
    if (x.group_zero) v -= x.group_zero[g];
    v *= static_cast<double>(x.group_scale[g]);
  }
  return v;
}

double activate(Activation act, double x) {
  switch (act) {
    case Activation::none:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0.0;
    case Activation::gelu_tanh: {
      const double c = std::sqrt(2.0 / M_PI);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
  }
  return x;
}

void check_operand(const char* name, const MatrixIn& x, std::int64_t rows, std::int64_t cols) {
  const std::int64_t stored_cols = x.transpose == Transpose::yes ? rows : cols;
  if (rows > 0 && cols > 0 && x.data == nullptr)
    throw RangeError(fmt::format("gemm_reference: {} is null", name));
  if (rows > 0 && cols > 0 && x.ld < stored_cols) {
    throw RangeError(fmt::format("gemm_reference: leading dimension of {} is {}, less than its row of {}",
                                 name, x.ld, stored_cols));
  }
}

}  // namespace

double decode_element(DType type, const void* data, std::int64_t index) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  switch (type) {
    case DType::float64: {
      double v;
      std::memcpy(&v, bytes + index * 8, 8);
      return v;
    }
    case DType::float32: {
      float v;
      std::memcpy(&v, bytes + index * 4, 4);
      return v;
    }
    case DType::bfloat16:
    case DType::float16: {
      std::uint16_t code;
      std::memcpy(&code, bytes + index * 2, 2);
      return value_table(type)[code];
    }
    case DType::float8_e4m3fn:
    case DType::float8_e5m2:
      return value_table(type)[bytes[index]];
    case DType::int32: {
      std::int32_t v;
      std::memcpy(&v, bytes + index * 4, 4);
      return v;
    }
    case DType::int8:
      return static_cast<std::int8_t>(bytes[index]);
    case DType::uint8:
      return bytes[index];
    case DType::int4: {
      const int nibble = (bytes[index / 2] >> (4 * (index % 2))) & 0xf;
      return nibble >= 8 ? nibble - 16 : nibble;
    }
  }
  throw RangeError(fmt::format("decode_element: unknown type {}", static_cast<int>(type)));
}

ReferenceResult gemm_reference_values(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a,
                                      const MatrixIn& b, const MatrixOut& c, const Epilogue& e) {
  check_operand("a", a, m, k);
  check_operand("b", b, k, n);
  ReferenceResult r;
  r.m = m;
  r.n = n;
  r.value.resize(static_cast<std::size_t>(m * n));
  r.magnitude.resize(r.value.size());
  // op(A) and op(B) decoded once into fp64 (row-major m x k and k x n).
  std::vector<double> av(static_cast<std::size_t>(m * k)), bv(static_cast<std::size_t>(k * n));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t p = 0; p < k; ++p) av[i * k + p] = operand(a, i, p, i, p, k);
  }
  for (std::int64_t p = 0; p < k; ++p) {
    for (std::int64_t j = 0; j < n; ++j) bv[p * n + j] = operand(b, p, j, j, p, k);
  }
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t i = 0; i < m; ++i) {
      double sum = 0, abs_sum = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double prod = av[i * k + p] * bv[p * n + j];
        sum += prod;
        abs_sum += std::fabs(prod);
      }
      double scale = e.alpha;
      if (e.row_scale) scale *= e.row_scale[i];
      if (e.col_scale) scale *= e.col_scale[j];
      double v = sum * scale, mag = abs_sum * std::fabs(scale);
      if (e.beta != 0) {
        const double old = e.beta * decode_element(c.type, c.data, i * c.ld + j);
        v += old;
        mag += std::fabs(old);
      }
      if (e.bias) {
        v += e.bias[j];
        mag += std::fabs(e.bias[j]);
      }
      const std::size_t at = static_cast<std::size_t>(i * n + j);
      r.value[at] = activate(e.activation, v);
      r.magnitude[at] = mag;
    }
  }
  return r;
}

void gemm_reference(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
                    const MatrixOut& c, const Epilogue& e) {
  const bool exact_int = is_integer(a.type) && is_integer(b.type) && a.group_size == 0 && b.group_size == 0 &&
                         c.type == DType::int32 && e.alpha == 1.0f && (e.beta == 0.0f || e.beta == 1.0f) &&
                         !e.row_scale && !e.col_scale && !e.bias && e.activation == Activation::none;
  if (exact_int) {
    check_operand("a", a, m, k);
    check_operand("b", b, k, n);
    auto* out = static_cast<std::int32_t*>(c.data);
    std::vector<std::int64_t> av(static_cast<std::size_t>(m * k)), bv(static_cast<std::size_t>(k * n));
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t p = 0; p < k; ++p)
        av[i * k + p] = static_cast<std::int64_t>(operand(a, i, p, i, p, k));
    }
    for (std::int64_t p = 0; p < k; ++p) {
      for (std::int64_t j = 0; j < n; ++j)
        bv[p * n + j] = static_cast<std::int64_t>(operand(b, p, j, j, p, k));
    }
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        std::int64_t sum = e.beta == 1.0f ? out[i * c.ld + j] : 0;
        for (std::int64_t p = 0; p < k; ++p) sum += av[i * k + p] * bv[p * n + j];
        out[i * c.ld + j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(sum));
      }
    }
    return;
  }
  const ReferenceResult r = gemm_reference_values(m, n, k, a, b, c, e);
  const Format& f64 = dtype_format(DType::float64);
  const Format& out = dtype_format(c.type);
  const int bytes = dtype_bits(c.type) / 8;
  if (bytes == 0) throw RangeError("gemm_reference: C cannot be int4");
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      const std::uint64_t code = convert(f64, out, std::bit_cast<std::uint64_t>(r.at(i, j)));
      std::memcpy(static_cast<unsigned char*>(c.data) + (i * c.ld + j) * bytes, &code,
                  bytes);  // little-endian
    }
  }
}

double gemm_error_bound(std::int64_t k, double value, double magnitude, DType out, double accumulate_u,
                        Activation activation) {
  // k roundings of the running sum, and a few more in the epilogue (alpha, scales, beta C, bias).
  double err = 2.0 * static_cast<double>(k + 6) * accumulate_u * magnitude;
  if (activation == Activation::gelu_tanh) err = 1.2 * err + 16 * 0x1p-24 * magnitude;
  // Half an ulp relative and the smallest subnormal step of the output, from its spec; integers: the
  // rounding to an integer.
  double unit = 0, tiny = 1;
  if (const Format& format = dtype_format(out); format.is_float()) {
    const FloatSpec& spec = format.float_spec();
    unit = std::ldexp(1.0, -(spec.man_bits + 1));
    tiny = std::ldexp(1.0, spec.emin() - spec.man_bits);
  }
  return err + unit * (std::fabs(value) + err) + tiny;
}

}  // namespace lowbit::kernels
