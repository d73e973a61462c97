// conv2d, max_pool2d and avg_pool2d against direct nested loops written here (not im2col), and their
// gradients against central differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "gradcheck.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/random.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::train::testing::leaf;
using lowbit::train::testing::random_tensor;
using lowbit::train::testing::require_gradients_match;

namespace {

std::size_t at4(const Shape& s, std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  return static_cast<std::size_t>(((a * s[1] + b) * s[2] + c) * s[3] + d);
}

// The definition of 2-D cross-correlation with zero padding, one output element at a time.
std::vector<double> conv_loops(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride,
                               std::int64_t padding, Shape& out_shape) {
  const auto xv = x.to_vector(), wv = w.to_vector();
  const auto bv = b.defined() ? b.to_vector() : std::vector<double>();
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const std::int64_t oh = (xs[2] + 2 * padding - ws[2]) / stride + 1;
  const std::int64_t ow = (xs[3] + 2 * padding - ws[3]) / stride + 1;
  out_shape = {xs[0], ws[0], oh, ow};
  std::vector<double> out;
  for (std::int64_t n = 0; n < xs[0]; ++n) {
    for (std::int64_t o = 0; o < ws[0]; ++o) {
      for (std::int64_t i = 0; i < oh; ++i) {
        for (std::int64_t j = 0; j < ow; ++j) {
          double acc = bv.empty() ? 0.0 : bv[static_cast<std::size_t>(o)];
          for (std::int64_t c = 0; c < xs[1]; ++c) {
            for (std::int64_t ki = 0; ki < ws[2]; ++ki) {
              for (std::int64_t kj = 0; kj < ws[3]; ++kj) {
                const std::int64_t r = i * stride - padding + ki, q = j * stride - padding + kj;
                if (r < 0 || r >= xs[2] || q < 0 || q >= xs[3]) continue;
                acc += xv[at4(xs, n, c, r, q)] * wv[at4(ws, o, c, ki, kj)];
              }
            }
          }
          out.push_back(acc);
        }
      }
    }
  }
  return out;
}

struct ConvCase {
  Shape x, w;
  std::int64_t stride, padding;
  bool bias;
};

const std::vector<ConvCase> kConvCases = {
    {{2, 3, 7, 6}, {4, 3, 3, 2}, 1, 0, true},   // rectangular kernel
    {{2, 3, 7, 6}, {4, 3, 3, 3}, 2, 1, true},   // stride 2 with padding, odd extents
    {{1, 2, 5, 5}, {3, 2, 3, 3}, 2, 2, false},  // padding wider than half the kernel
    {{3, 1, 6, 8}, {2, 1, 5, 5}, 1, 2, true},   // "same" 5x5
    {{2, 4, 4, 4}, {5, 4, 1, 1}, 1, 0, true},   // 1x1
    {{1, 2, 3, 3}, {2, 2, 3, 3}, 1, 0, true},   // one output position
    {{2, 3, 6, 5}, {4, 3, 3, 3}, 1, 1, true},   // "same" 3x3, as in the CNN
    {{2, 2, 5, 6}, {3, 2, 1, 3}, 1, 1, false},  // as wide as the input, two rows taller
};

}  // namespace

TEST_CASE("conv2d in float64 equals the nested-loop definition, with padding and stride 2", "[train]") {
  std::uint64_t seed = 1;
  for (const ConvCase& k : kConvCases) {
    const Tensor x = random_tensor(k.x, seed++), w = random_tensor(k.w, seed++);
    const Tensor b = k.bias ? random_tensor({k.w[0]}, seed++) : Tensor();
    Shape expected_shape;
    const auto expected = conv_loops(x, w, b, k.stride, k.padding, expected_shape);
    const Tensor y = conv2d(x, w, b, k.stride, k.padding);
    INFO("x " << shape_string(k.x) << " w " << shape_string(k.w) << " stride " << k.stride << " padding "
              << k.padding);
    REQUIRE(y.shape() == expected_shape);
    const auto got = y.to_vector();
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(1e-12));
  }
}

TEST_CASE("conv2d in float32 matches the float64 loops within float32 rounding", "[train]") {
  for (const auto& [stride, padding] : {std::pair<int, int>{1, 1}, {2, 0}, {2, 1}}) {
    // K = 8 * 3 * 3 = 72 products of values in [-1, 1]: the float32 sum errs by well under 1e-5.
    const Tensor x = random_tensor({5, 8, 13, 11}, 10), w = random_tensor({6, 8, 3, 3}, 11),
                 b = random_tensor({6}, 12);
    Shape shape;
    const auto expected = conv_loops(x, w, b, stride, padding, shape);
    const Tensor y =
        conv2d(cast(x, DType::float32), cast(w, DType::float32), cast(b, DType::float32), stride, padding);
    REQUIRE(y.dtype() == DType::float32);
    REQUIRE(y.shape() == shape);
    const auto got = y.to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("conv2d differentiates with respect to x, weight and bias", "[train]") {
  for (const ConvCase& k : kConvCases) {
    INFO("x " << shape_string(k.x) << " w " << shape_string(k.w) << " stride " << k.stride << " padding "
              << k.padding);
    const std::int64_t stride = k.stride, padding = k.padding;
    if (k.bias) {
      require_gradients_match(
          [=](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], stride, padding); },
          {leaf(k.x, 20), leaf(k.w, 21), leaf({k.w[0]}, 22)});
    } else {
      require_gradients_match(
          [=](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], Tensor(), stride, padding); },
          {leaf(k.x, 20), leaf(k.w, 21)});
    }
  }
  // Only some inputs require grad (the first layer's images; a frozen filter bank).
  require_gradients_match([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 2, 1); },
                          {random_tensor({2, 2, 5, 6}, 30), leaf({3, 2, 3, 3}, 31), leaf({3}, 32)});
  require_gradients_match([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 1, 1); },
                          {leaf({2, 2, 5, 6}, 30), random_tensor({3, 2, 3, 3}, 31), random_tensor({3}, 32)});
}

TEST_CASE("conv2d float32 gradients match the float64 gradients", "[train]") {
  // The float32 backward runs through sgemm with transposed operands; float64 through loops that the
  // gradient check above verified.
  const Tensor x64 = random_tensor({4, 3, 10, 9}, 40), w64 = random_tensor({5, 3, 3, 3}, 41),
               b64 = random_tensor({5}, 42), r64 = random_tensor({4, 5, 5, 5}, 43);
  auto grads = [&](DType type) {
    Tensor x = clone(cast(x64, type)), w = clone(cast(w64, type)), b = clone(cast(b64, type));
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    sum(mul(conv2d(x, w, b, 2, 1), cast(r64, type))).backward();
    return std::vector<std::vector<double>>{x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
  };
  const auto g32 = grads(DType::float32), g64 = grads(DType::float64);
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(g32[i].size() == g64[i].size());
    double worst = 0;
    for (std::size_t e = 0; e < g32[i].size(); ++e) worst = std::max(worst, std::abs(g32[i][e] - g64[i][e]));
    INFO("input " << i);
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("conv2d over several blocks of images: output, dx and dW equal the loops", "[train]") {
  // 16 channels x 3 x 3 taps x 24 x 24 positions: 0.33 MB of columns per image in float32 (blocks of 3
  // images for a 1 MiB block, so 5 images make blocks of 3 and 2) and 0.66 MB in float64 (one image per
  // block). The gradients of sum(conv(x, w, b) * r) by definition:
  //   dx[n, c, y, z] = sum over o, i, j, ki, kj with (y, z) = (i - 1 + ki, j - 1 + kj) of r[n, o, i, j] w[o,
  //   c, ki, kj] dW[o, c, ki, kj] = sum over n, i, j of r[n, o, i, j] x[n, c, i - 1 + ki, j - 1 + kj]
  const Shape xs{5, 16, 24, 24}, ws{3, 16, 3, 3};
  const Tensor x64 = random_tensor(xs, 60), w64 = random_tensor(ws, 61), b64 = random_tensor({3}, 62),
               r64 = random_tensor({5, 3, 24, 24}, 63);
  Shape out_shape;
  const auto expected = conv_loops(x64, w64, b64, 1, 1, out_shape);
  const auto xv = x64.to_vector(), wv = w64.to_vector(), rv = r64.to_vector();
  std::vector<double> dx(xv.size(), 0.0), dw(wv.size(), 0.0);
  for (std::int64_t n = 0; n < 5; ++n) {
    for (std::int64_t o = 0; o < 3; ++o) {
      for (std::int64_t i = 0; i < 24; ++i) {
        for (std::int64_t j = 0; j < 24; ++j) {
          const double r = rv[at4(out_shape, n, o, i, j)];
          for (std::int64_t c = 0; c < 16; ++c) {
            for (std::int64_t ki = 0; ki < 3; ++ki) {
              for (std::int64_t kj = 0; kj < 3; ++kj) {
                const std::int64_t y = i - 1 + ki, z = j - 1 + kj;
                if (y < 0 || y >= 24 || z < 0 || z >= 24) continue;
                dx[at4(xs, n, c, y, z)] += r * wv[at4(ws, o, c, ki, kj)];
                dw[at4(ws, o, c, ki, kj)] += r * xv[at4(xs, n, c, y, z)];
              }
            }
          }
        }
      }
    }
  }
  for (const DType type : {DType::float64, DType::float32}) {
    INFO(dtype_name(type));
    // float64 rounds only the sums; float32 sums of 144 (forward) to 2880 (dW) products of values in [-1, 1].
    const double bound = type == DType::float64 ? 1e-11 : 5e-4;
    Tensor x = clone(cast(x64, type)), w = clone(cast(w64, type)), b = clone(cast(b64, type));
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    const Tensor y = conv2d(x, w, b, 1, 1);
    sum(mul(y, cast(r64, type))).backward();
    auto worst = [](const std::vector<double>& got, const std::vector<double>& want) {
      double e = 0;
      for (std::size_t i = 0; i < got.size(); ++i) e = std::max(e, std::abs(got[i] - want[i]));
      return e;
    };
    CHECK(worst(y.to_vector(), expected) < bound);
    CHECK(worst(x.grad().to_vector(), dx) < bound);
    CHECK(worst(w.grad().to_vector(), dw) < bound);
  }
}

TEST_CASE("conv2d rejects bad shapes, strides and dtypes", "[train]") {
  const Tensor x = random_tensor({2, 3, 6, 6}, 1), w = random_tensor({4, 3, 3, 3}, 2),
               b = random_tensor({4}, 3);
  CHECK_THROWS_AS(conv2d(random_tensor({3, 6, 6}, 1), w, b), ShapeError);
  CHECK_THROWS_AS(conv2d(x, random_tensor({4, 3, 3}, 2), b), ShapeError);
  CHECK_THROWS_AS(conv2d(x, random_tensor({4, 2, 3, 3}, 2), b), ShapeError);
  CHECK_THROWS_AS(conv2d(x, w, random_tensor({3}, 3)), ShapeError);
  CHECK_THROWS_AS(conv2d(x, random_tensor({4, 3, 7, 3}, 2), b), ShapeError);
  CHECK_NOTHROW(conv2d(x, random_tensor({4, 3, 7, 3}, 2), b, 1, 1));
  CHECK_THROWS_AS(conv2d(x, w, b, 0), RangeError);
  CHECK_THROWS_AS(conv2d(x, w, b, 1, -1), RangeError);
  CHECK(conv2d(cast(x, DType::float32), w, b).dtype() == DType::float64);  // mixed dtypes promote
  CHECK_THROWS_WITH(conv2d(x, random_tensor({4, 2, 3, 3}, 2), b), Catch::Contains("conv2d") &&
                                                                      Catch::Contains("[2, 3, 6, 6]") &&
                                                                      Catch::Contains("[4, 2, 3, 3]"));
}

namespace {

// Pooling by definition: the max or mean of each kernel x kernel window at (i * stride, j * stride).
std::vector<double> pool_loops(const Tensor& x, std::int64_t kernel, std::int64_t stride, bool max) {
  const auto xv = x.to_vector();
  const Shape& s = x.shape();
  const std::int64_t oh = (s[2] - kernel) / stride + 1, ow = (s[3] - kernel) / stride + 1;
  std::vector<double> out;
  for (std::int64_t n = 0; n < s[0]; ++n) {
    for (std::int64_t c = 0; c < s[1]; ++c) {
      for (std::int64_t i = 0; i < oh; ++i) {
        for (std::int64_t j = 0; j < ow; ++j) {
          double acc = max ? -INFINITY : 0.0;
          for (std::int64_t a = 0; a < kernel; ++a) {
            for (std::int64_t b = 0; b < kernel; ++b) {
              const double v = xv[at4(s, n, c, i * stride + a, j * stride + b)];
              acc = max ? std::max(acc, v) : acc + v;
            }
          }
          out.push_back(max ? acc : acc / static_cast<double>(kernel * kernel));
        }
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d equal the window definitions", "[train]") {
  const Tensor x = random_tensor({2, 3, 7, 8}, 5);
  // (kernel, stride): default non-overlapping (odd extent drops the last row), overlapping, strided 3x3.
  for (const auto& [kernel, stride] : {std::pair<int, int>{2, 0}, {2, 1}, {3, 2}, {7, 1}}) {
    const std::int64_t effective = stride == 0 ? kernel : stride;
    INFO("kernel " << kernel << " stride " << stride);
    const Tensor ymax = max_pool2d(x, kernel, stride), yavg = avg_pool2d(x, kernel, stride);
    const Shape expected_shape{2, 3, (7 - kernel) / effective + 1, (8 - kernel) / effective + 1};
    CHECK(ymax.shape() == expected_shape);
    CHECK(yavg.shape() == expected_shape);
    const auto emax = pool_loops(x, kernel, effective, true), eavg = pool_loops(x, kernel, effective, false);
    const auto gmax = ymax.to_vector(), gavg = yavg.to_vector();
    for (std::size_t i = 0; i < emax.size(); ++i) {
      CHECK(gmax[i] == emax[i]);
      CHECK(gavg[i] == Approx(eavg[i]).margin(1e-14));
    }
    // float32 as well.
    const auto fmax = max_pool2d(cast(x, DType::float32), kernel, stride).to_vector();
    const auto favg = avg_pool2d(cast(x, DType::float32), kernel, stride).to_vector();
    for (std::size_t i = 0; i < emax.size(); ++i) {
      CHECK(fmax[i] == Approx(emax[i]).margin(1e-7));
      CHECK(favg[i] == Approx(eavg[i]).margin(1e-6));
    }
  }
}

TEST_CASE("pooling differentiates; max pooling routes each gradient to its window's maximum", "[train]") {
  for (const auto& [kernel, stride] : {std::pair<int, int>{2, 0}, {2, 1}, {3, 2}}) {
    INFO("kernel " << kernel << " stride " << stride);
    const std::int64_t k = kernel, s = stride;
    require_gradients_match([=](const std::vector<Tensor>& v) { return max_pool2d(v[0], k, s); },
                            {leaf({2, 2, 7, 6}, 50)});
    require_gradients_match([=](const std::vector<Tensor>& v) { return avg_pool2d(v[0], k, s); },
                            {leaf({2, 2, 7, 6}, 51)});
  }
  // A tie goes to the first maximum in row-major window order, as in PyTorch.
  Tensor x = from_values(std::vector<double>{1, 5, 5, 2, 0, 5, 3, 4}, {1, 1, 2, 4}, DType::float64);
  x.set_requires_grad(true);
  sum(max_pool2d(x, 2)).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 1, 0, 0, 0, 0, 0});
}

TEST_CASE(
    "float32 2x2 max pooling (the vectorised path) keeps the first maximum, lets NaN win, routes gradients",
    "[train]") {
  // Widths give 1, 7, 14, 16, 17, 32 and 33 windows per row (one vector, partial vectors, several), odd
  // extents leave a row or column outside every window; values from a small set make ties common.
  const std::vector<std::pair<std::int64_t, std::int64_t>> extents = {{2, 2},  {4, 14},  {28, 28}, {5, 32},
                                                                      {7, 35}, {14, 64}, {3, 66}};
  Rng rng(7);
  for (const auto& [h, w] : extents) {
    INFO("plane " << h << "x" << w);
    const Shape shape{2, 3, h, w};
    std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
    for (float& v : values) {
      const std::uint64_t r = rng.next_below(40);
      v = r == 0 ? NAN : r == 1 ? -INFINITY : r == 2 ? INFINITY : static_cast<float>(r % 4) - 1.5f;
    }
    Tensor x = from_values(values, shape);
    x.set_requires_grad(true);
    const Tensor y = max_pool2d(x, 2);
    const std::int64_t oh = h / 2, ow = w / 2;
    REQUIRE(y.shape() == Shape{2, 3, oh, ow});
    // Gradient o + 1 for output o, so each input's gradient names the window that chose it.
    std::vector<double> seed(static_cast<std::size_t>(y.numel()));
    for (std::size_t o = 0; o < seed.size(); ++o) seed[o] = static_cast<double>(o + 1);
    y.backward(from_values(seed, y.shape()));
    std::vector<double> expected_grad(values.size(), 0.0);
    const auto got = y.to_vector();
    std::size_t o = 0;
    for (std::int64_t plane = 0; plane < 6; ++plane) {
      for (std::int64_t i = 0; i < oh; ++i) {
        for (std::int64_t j = 0; j < ow; ++j, ++o) {
          // The window in row-major order: a strictly larger value wins, a NaN beats a number.
          std::size_t best = 0;
          for (std::int64_t a = 0; a < 2; ++a) {
            for (std::int64_t b = 0; b < 2; ++b) {
              const auto e = static_cast<std::size_t>((plane * h + 2 * i + a) * w + 2 * j + b);
              const bool first = a == 0 && b == 0;
              if (first || values[e] > values[best] || (std::isnan(values[e]) && !std::isnan(values[best])))
                best = e;
            }
          }
          if (std::isnan(values[best])) {
            CHECK(std::isnan(got[o]));
          } else {
            CHECK(got[o] == values[best]);
          }
          expected_grad[best] = static_cast<double>(o + 1);
        }
      }
    }
    CHECK(x.grad().to_vector() == expected_grad);
  }
}

TEST_CASE("max_pool2d propagates NaN", "[train]") {
  const Tensor x = from_values(std::vector<double>{1, NAN, 2, 3}, {1, 1, 2, 2}, DType::float64);
  CHECK(std::isnan(max_pool2d(x, 2).item()));
}

TEST_CASE("pooling rejects bad shapes and kernels", "[train]") {
  const Tensor x = random_tensor({1, 2, 4, 4}, 1);
  CHECK_THROWS_AS(max_pool2d(random_tensor({2, 4, 4}, 1), 2), ShapeError);
  CHECK_THROWS_AS(avg_pool2d(random_tensor({2, 4, 4}, 1), 2), ShapeError);
  CHECK_THROWS_AS(max_pool2d(x, 5), ShapeError);
  CHECK_THROWS_AS(avg_pool2d(x, 0), RangeError);
  CHECK_THROWS_AS(max_pool2d(x, 2, -1), RangeError);
  CHECK_THROWS_WITH(max_pool2d(x, 5), Catch::Contains("max_pool2d") && Catch::Contains("[1, 2, 4, 4]"));
}
