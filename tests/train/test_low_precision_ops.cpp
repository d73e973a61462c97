// Low-precision tensors in train/: bfloat16/float16 (and float8 as GEMM storage) through cast, the GEMM ops
// (fp32 accumulation, one rounding to the output dtype) and the other ops (float32 inside, one rounding),
// with gradients in each tensor's own dtype. References: float64 arithmetic on the rounded inputs, rounded
// once by formats' scalar conversion (from_values).
#include <catch2/catch.hpp>

#include <cmath>

#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;

namespace {

// Values on a coarse grid (multiples of 1/8 in [-2, 2]): exact in every dtype here, and their products and
// short sums are exact in fp32, so a GEMM's only rounding is the final one.
std::vector<double> grid_values(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = (static_cast<double>(rng.next_below(33)) - 16.0) / 8.0;
  return v;
}

// Uniform values in [-1, 1): not representable in bfloat16, so the casts round.
std::vector<double> random_values(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = rng.next_double() * 2 - 1;
  return v;
}

// x rounded once to `dtype` (formats' scalar path), back as double.
std::vector<double> rounded(const std::vector<double>& x, DType dtype) {
  return from_values(x, {static_cast<std::int64_t>(x.size())}, dtype).to_vector();
}

double ulp_bf16(double x) {
  return std::ldexp(1.0, std::ilogb(std::max(std::abs(x), 1e-30)) - 7);
}

}  // namespace

TEST_CASE("cast to bfloat16 rounds to nearest-even and its gradient is a cast back", "[train]") {
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (even: 1); 1 + 3 * 2^-8 ties to 1 + 2^-6.
  Tensor x = from_values(std::vector<double>{1 + std::ldexp(1, -8), 1 + 3 * std::ldexp(1, -8), -0.1}, {3});
  x.set_requires_grad(true);
  const Tensor y = cast(x, DType::bfloat16);
  CHECK(y.dtype() == DType::bfloat16);
  const auto v = y.to_vector();
  CHECK(v[0] == 1.0);
  CHECK(v[1] == 1 + std::ldexp(1, -6));
  CHECK(v[2] == -0.10009765625);  // bfloat16 nearest to -0.1: -0x3dcd -> -0.10009765625
  sum(mul_scalar(cast(y, DType::float32), 3.0)).backward();
  CHECK(x.grad().dtype() == DType::float32);
  CHECK(x.grad().to_vector() == std::vector<double>{3, 3, 3});
}

TEST_CASE("matmul of bfloat16 and float16 operands accumulates in fp32 and rounds once to their dtype",
          "[train]") {
  for (DType t : {DType::bfloat16, DType::float16}) {
    INFO(dtype_name(t));
    const std::int64_t m = 5, k = 7, n = 3;
    const auto a = grid_values(m * k, 1), b = grid_values(k * n, 2);
    std::vector<double> ref(m * n, 0.0);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t p = 0; p < k; ++p) ref[i * n + j] += a[i * k + p] * b[p * n + j];
    const Tensor c = matmul(from_values(a, {m, k}, t), from_values(b, {k, n}, t));
    CHECK(c.dtype() == t);
    CHECK(c.to_vector() == rounded(ref, t));
  }
}

TEST_CASE("linear in bfloat16 adds the bias in fp32 before the one rounding", "[train]") {
  const std::int64_t n = 4, in = 6, out = 3;
  const auto x = grid_values(n * in, 3), w = grid_values(out * in, 4);
  // A bias below half an ulp of the products: added after rounding it would vanish, added before it moves
  // the rounding of ties; the reference adds it in float64 before the one rounding.
  std::vector<double> bias{std::ldexp(1.0, -9), -std::ldexp(1.0, -9), 0.25};
  std::vector<double> ref(n * out);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = bias[o];
      for (std::int64_t p = 0; p < in; ++p) s += x[i * in + p] * w[o * in + p];
      ref[i * out + o] = s;
    }
  const Tensor y =
      linear(from_values(x, {n, in}, DType::bfloat16), from_values(w, {out, in}, DType::bfloat16),
             from_values(bias, {out}, DType::bfloat16));
  CHECK(y.dtype() == DType::bfloat16);
  CHECK(y.to_vector() == rounded(ref, DType::bfloat16));
}

TEST_CASE("elementwise ops on bfloat16 compute in float32 and round once", "[train]") {
  const auto a = rounded(random_values(64, 5), DType::bfloat16),
             b = rounded(random_values(64, 6), DType::bfloat16);
  const Tensor ta = from_values(a, {64}, DType::bfloat16), tb = from_values(b, {64}, DType::bfloat16);
  std::vector<double> sum_ref(64), prod_ref(64), tanh_ref(64);
  for (std::size_t i = 0; i < 64; ++i) {
    sum_ref[i] = a[i] + b[i];   // exact in fp32 (both bfloat16 within a factor 2^16)
    prod_ref[i] = a[i] * b[i];  // exact in fp32 (8 x 8 significant bits)
    tanh_ref[i] = std::tanh(a[i]);
  }
  const Tensor s = add(ta, tb), p = mul(ta, tb), h = tanh(ta);
  CHECK(s.dtype() == DType::bfloat16);
  CHECK(s.to_vector() == rounded(sum_ref, DType::bfloat16));
  CHECK(p.to_vector() == rounded(prod_ref, DType::bfloat16));
  // tanh goes through fp32's tanh (error below an fp32 ulp) before the rounding: within one bfloat16 ulp.
  const auto hv = h.to_vector();
  for (std::size_t i = 0; i < 64; ++i) CHECK(std::abs(hv[i] - tanh_ref[i]) <= ulp_bf16(tanh_ref[i]));
}

TEST_CASE("bfloat16 with float32 operands promotes to float32", "[train]") {
  const Tensor a = from_values(std::vector<double>{1.5, -2}, {2}, DType::bfloat16);
  const Tensor b = from_values(std::vector<double>{0.1, 0.2}, {2}, DType::float32);
  const Tensor c = add(a, b);
  CHECK(c.dtype() == DType::float32);
  CHECK(c.to_vector()[0] == Approx(1.6).epsilon(1e-7));
  // float16 with bfloat16: neither holds the other, so float32 (as PyTorch promotes).
  CHECK(mul(a, from_values(std::vector<double>{1, 1}, {2}, DType::float16)).dtype() == DType::float32);
}

TEST_CASE("gradients of bfloat16 leaves arrive in bfloat16 and match the float64 gradient", "[train]") {
  const std::int64_t n = 6, in = 5, out = 4;
  const auto xv = rounded(random_values(n * in, 7), DType::bfloat16);
  const auto wv = rounded(random_values(out * in, 8), DType::bfloat16);
  Tensor x = from_values(xv, {n, in}, DType::bfloat16), w = from_values(wv, {out, in}, DType::bfloat16);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  // L = sum(relu(x W^T)): dL/dW = mask^T x, dL/dx = mask W.
  sum(relu(linear(x, w, Tensor()))).backward();
  REQUIRE(x.grad().dtype() == DType::bfloat16);
  REQUIRE(w.grad().dtype() == DType::bfloat16);
  Tensor x64 = from_values(xv, {n, in}, DType::float64), w64 = from_values(wv, {out, in}, DType::float64);
  x64.set_requires_grad(true);
  w64.set_requires_grad(true);
  sum(relu(linear(x64, w64, Tensor()))).backward();
  const auto gw = w.grad().to_vector(), gw64 = w64.grad().to_vector();
  const auto gx = x.grad().to_vector(), gx64 = x64.grad().to_vector();
  // The forward's bfloat16 rounding can flip a mask entry only where the pre-activation is within an ulp of
  // 0; with these seeds none is, so the gradients are the float64 ones to bfloat16 rounding.
  for (std::size_t i = 0; i < gw.size(); ++i) CHECK(std::abs(gw[i] - gw64[i]) <= ulp_bf16(gw64[i]));
  for (std::size_t i = 0; i < gx.size(); ++i) CHECK(std::abs(gx[i] - gx64[i]) <= ulp_bf16(gx64[i]));
}

TEST_CASE("conv2d in bfloat16 matches the float64 convolution of the rounded inputs", "[train]") {
  const auto xv = grid_values(2 * 2 * 6 * 6, 9), wv = grid_values(3 * 2 * 3 * 3, 10), bv = grid_values(3, 11);
  Tensor x = from_values(xv, {2, 2, 6, 6}, DType::bfloat16),
         w = from_values(wv, {3, 2, 3, 3}, DType::bfloat16);
  Tensor b = from_values(bv, {3}, DType::bfloat16);
  w.set_requires_grad(true);
  const Tensor y = conv2d(x, w, b, 1, 1);
  REQUIRE(y.dtype() == DType::bfloat16);
  Tensor w64 = from_values(wv, {3, 2, 3, 3}, DType::float64);
  w64.set_requires_grad(true);
  const Tensor y64 =
      conv2d(from_values(xv, {2, 2, 6, 6}, DType::float64), w64, from_values(bv, {3}, DType::float64), 1, 1);
  // Grid inputs: every sum is exact in fp32, so the only rounding is the last one.
  CHECK(y.to_vector() == rounded(y64.to_vector(), DType::bfloat16));
  const auto r = grid_values(y.numel(), 12);
  sum(mul(y, from_values(r, y.shape(), DType::bfloat16))).backward();
  sum(mul(y64, from_values(r, y64.shape(), DType::float64))).backward();
  REQUIRE(w.grad().dtype() == DType::bfloat16);
  CHECK(w.grad().to_vector() == rounded(w64.grad().to_vector(), DType::bfloat16));
}

TEST_CASE("float8 operands multiply through the GEMM with a bfloat16 result", "[train]") {
  const auto a = rounded(grid_values(4 * 8, 13), DType::float8_e4m3fn);
  const auto b = rounded(grid_values(8 * 2, 14), DType::float8_e5m2);
  std::vector<double> ref(4 * 2, 0.0);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int p = 0; p < 8; ++p) ref[i * 2 + j] += a[i * 8 + p] * b[p * 2 + j];
  const Tensor c =
      matmul(from_values(a, {4, 8}, DType::float8_e4m3fn), from_values(b, {8, 2}, DType::float8_e5m2));
  CHECK(c.dtype() == DType::bfloat16);
  CHECK(c.to_vector() == rounded(ref, DType::bfloat16));
}

TEST_CASE(
    "relu on bfloat16 and float16 gives every code's float32 result and passes the gradient where "
    "the output is positive",
    "[train]") {
  for (const DType dtype : {DType::bfloat16, DType::float16}) {
    INFO(dtype_name(dtype));
    // Every 16-bit code: zeros of both signs, subnormals, infinities and NaNs included.
    Tensor x = empty({256, 256}, dtype);
    auto* codes = static_cast<std::uint16_t*>(x.raw_data());
    for (std::uint32_t c = 0; c < 65536; ++c) codes[c] = static_cast<std::uint16_t>(c);
    x.set_requires_grad(true);
    // Transposed, so the input is read with strides; the weights make every gradient element distinct.
    const Tensor xt = transpose(x, 0, 1);
    const Tensor y = relu(xt);
    const Tensor w = cast(from_values(grid_values(65536, 7), {256, 256}), dtype);
    sum(mul(y, w)).backward();

    const Tensor want = cast(relu(cast(xt, DType::float32)), dtype);  // through float32, rounded once
    const Tensor yc = contiguous(y), wc = contiguous(want);
    const auto* got = static_cast<const std::uint16_t*>(yc.raw_data());
    const auto* expected = static_cast<const std::uint16_t*>(wc.raw_data());
    const std::vector<double> values = cast(xt, DType::float32).to_vector();
    const std::vector<double> grad = contiguous(transpose(x.grad(), 0, 1)).to_vector();
    const std::vector<double> weights = w.to_vector();
    int failures = 0;
    for (std::size_t i = 0; i < 65536; ++i) {
      const double want_grad = values[i] > 0 ? weights[i] : 0.0;
      if ((got[i] != expected[i] || grad[i] != want_grad) && failures++ < 5) {
        INFO("element " << i << ": x " << values[i] << ", relu code " << got[i] << " (want " << expected[i]
                        << "), gradient " << grad[i] << " (want " << want_grad << ")");
        CHECK(false);
      }
    }
    CHECK(failures == 0);
  }
}
