// FP8 linear layers: E4M3 forward, E5M2 backward, per-tensor scales (delayed from an amax history, or
// current), MXFP8 blocks as an option, and the state in checkpoints. References: float64 products of the
// operands quantized by formats' scalar conversion, and Transformer Engine's scale rule
// scale = fp8_max / amax / 2^margin worked by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "amp_test_support.hpp"
#include "lowbit/amp/fp8.hpp"
#include "lowbit/amp/mixed_precision.hpp"
#include "lowbit/formats/block.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/trainer.hpp"

using namespace lowbit;
using namespace lowbit::amp;
using train::Tensor;

namespace {

std::vector<double> random_values(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  train::Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = (rng.next_double() * 2 - 1) * scale;
  return v;
}

float amax(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(static_cast<double>(static_cast<float>(x))));
  return static_cast<float>(m);
}

// Values as the GEMM sees them: code(v * s) / s, the code by formats' scalar conversion.
std::vector<double> quantized(const std::vector<double>& v, DType type, float s) {
  std::vector<double> scaled(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) scaled[i] = static_cast<float>(static_cast<float>(v[i]) * s);
  std::vector<double> q = train::from_values(scaled, {static_cast<std::int64_t>(v.size())}, type).to_vector();
  for (double& x : q) x /= s;
  return q;
}

double bf16_ulp(double x) {
  return std::ldexp(1.0, std::ilogb(std::max(std::abs(x), 1e-30)) - 7);
}

Tensor leaf(const std::vector<double>& v, const train::Shape& shape, DType t = DType::bfloat16) {
  Tensor x = train::from_values(v, shape, t);
  x.set_requires_grad(true);
  return x;
}

}  // namespace

TEST_CASE("the first fp8 step scales by the current amax and matches the float64 product of e4m3 operands",
          "[amp]") {
  const std::int64_t n = 8, in = 16, out = 4;
  const auto xv = random_values(n * in, 1, 3.0), wv = random_values(out * in, 2, 0.05);
  Fp8Recipe recipe({});
  Tensor w = leaf(wv, {out, in});
  recipe.register_weight("w", w);
  Tensor x = leaf(xv, {n, in}, DType::float32);
  const Tensor y = recipe.linear(x, w, Tensor());
  REQUIRE(y.dtype() == DType::bfloat16);
  const std::vector<double> wb = w.to_vector();  // the bfloat16 weight the recipe read
  const float sx = static_cast<float>(448.0 / amax(xv)), sw = static_cast<float>(448.0 / amax(wb));
  const auto xq = quantized(xv, DType::float8_e4m3fn, sx), wq = quantized(wb, DType::float8_e4m3fn, sw);
  const auto yv = y.to_vector();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = 0, magnitude = 0;
      for (std::int64_t i = 0; i < in; ++i) {
        s += xq[b * in + i] * wq[o * in + i];
        magnitude += std::abs(xq[b * in + i] * wq[o * in + i]);
      }
      // One bfloat16 rounding, plus the fp32 accumulation's error where the sum cancels.
      CHECK(std::abs(yv[b * out + o] - s) <= bf16_ulp(s) + in * std::ldexp(magnitude, -23));
    }
  // Backward with dL/dy = 1: the gradient becomes e5m2(1 * 57344) / 57344 = 1 exactly, so
  // dW[o][i] = sum_b xq[b][i] and dx[b][i] = sum_o wq[o][i].
  train::sum(train::cast(y, DType::float32)).backward();
  REQUIRE(w.grad().dtype() == DType::bfloat16);
  REQUIRE(x.grad().dtype() == DType::float32);
  const auto gw = w.grad().to_vector(), gx = x.grad().to_vector();
  for (std::int64_t i = 0; i < in; ++i) {
    double sum_x = 0, sum_w = 0;
    for (std::int64_t b = 0; b < n; ++b) sum_x += xq[b * in + i];
    for (std::int64_t o = 0; o < out; ++o) sum_w += wq[o * in + i];
    for (std::int64_t o = 0; o < out; ++o) CHECK(std::abs(gw[o * in + i] - sum_x) <= bf16_ulp(sum_x));
    for (std::int64_t b = 0; b < n; ++b) CHECK(gx[b * in + i] == Approx(sum_w).epsilon(1e-6));
  }
  // The gradient's amax went into the history's current column.
  CHECK(recipe.state_of("w").amax_history.to_vector()[2 * 16] == 1.0);
}

TEST_CASE("the recorded amax is the largest magnitude, NaNs ignored and infinities kept", "[amp]") {
  // 40 input elements: whole vectors and a tail for the vectorized reduction, the largest magnitude in
  // the tail, NaNs of both signs before and after it.
  const std::int64_t n = 5, in = 8, out = 2;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const auto& [largest, want] : {std::pair{-5.5, 5.5}, std::pair{-inf, inf}}) {
    std::vector<double> xv = random_values(n * in, 3, 1.0);
    xv[3] = nan;
    xv[20] = -nan;
    xv[33] = largest;
    xv[39] = nan;
    Fp8Recipe recipe({});
    Tensor w = leaf(random_values(out * in, 4, 0.05), {out, in});
    recipe.register_weight("w", w);
    Tensor x = leaf(xv, {n, in}, DType::float32);
    recipe.linear(x, w, Tensor());
    CHECK(recipe.state_of("w").amax_history.to_vector()[0] == want);  // the input's role, current column
  }
}

TEST_CASE("delayed scaling takes the next scale from the amax history with its reduction and margin",
          "[amp]") {
  for (auto [reduction, margin, expected] :
       {std::tuple{AmaxReduction::max, 0, 448.0 / 2}, std::tuple{AmaxReduction::most_recent, 0, 448.0 / 0.5},
        std::tuple{AmaxReduction::max, 1, 448.0 / 2 / 2}}) {
    Fp8Options o;
    o.history = 3;
    o.reduction = reduction;
    o.margin = margin;
    Fp8Recipe recipe(o);
    const Tensor w = leaf(std::vector<double>(8, 0.25), {2, 4});
    recipe.register_weight("w", w);
    // Input amaxes 1, 2, 0.5 in three steps (and a fourth earlier value 4 that the window of 3 forgets).
    for (double a : {4.0, 1.0, 2.0, 0.5}) {
      recipe.linear(train::full({3, 4}, a, DType::float32), w, Tensor());
      recipe.end_step();
    }
    const Fp8TensorState& s = recipe.state_of("w");
    CHECK(s.scale.to_vector()[0] == Approx(expected).epsilon(1e-7));
    CHECK(s.scale.to_vector()[1] == Approx(448.0 / 0.25 / std::ldexp(1.0, margin)).epsilon(1e-7));
    // Column 0 is the new (empty) step, then the newest first: 0.5, 2 (1 and 4 left the window).
    const auto h = s.amax_history.to_vector();
    CHECK(std::vector<double>(h.begin(), h.begin() + 3) == std::vector<double>{0, 0.5, 2});
    // Evaluation (no grad) uses the scales without writing the history.
    {
      train::NoGradGuard no_grad;
      recipe.linear(train::full({3, 4}, 100.0, DType::float32), w, Tensor());
    }
    CHECK(s.amax_history.to_vector() == h);
  }
}

TEST_CASE("delayed scaling saturates an input beyond the history's amax instead of overflowing", "[amp]") {
  Fp8Recipe recipe({});
  const Tensor w = leaf(std::vector<double>(4, 1.0), {1, 4});
  recipe.register_weight("w", w);
  recipe.linear(train::full({1, 4}, 1.0, DType::float32), w, Tensor());
  recipe.end_step();  // the input scale is now 448 / 1
  // An input 10x larger than the history knows: clamped to 448 / 448 = 1 per element, not NaN.
  const Tensor y = recipe.linear(train::full({1, 4}, 10.0, DType::float32), w, Tensor());
  CHECK(y.to_vector() == std::vector<double>{4.0});
}

TEST_CASE("MXFP8 scaling multiplies the operands as MX blocks of 32 decode them", "[amp]") {
  const std::int64_t n = 3, in = 40, out = 2;  // 40: one full block and a partial one per row
  const auto xv = random_values(n * in, 5, 7.0), wv = random_values(out * in, 6, 0.1);
  Fp8Options o;
  o.scaling = Fp8Scaling::mxfp8;
  Fp8Recipe recipe(o);
  const Tensor w = leaf(wv, {out, in});
  recipe.register_weight("w", w);
  const Tensor y = recipe.linear(train::from_values(xv, {n, in}), w, Tensor());
  auto decoded_rows = [](const std::vector<double>& v, std::int64_t rows, std::int64_t cols) {
    const BlockFormat& f = find_block_format("mxfp8_e4m3");
    std::vector<double> out;
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<float> row(v.begin() + r * cols, v.begin() + (r + 1) * cols);
      const EncodedBlocks e = encode_blocks(f, row);
      std::vector<float> back(static_cast<std::size_t>(cols));
      decode_blocks(f, e.elements, e.scales, back);
      out.insert(out.end(), back.begin(), back.end());
    }
    return out;
  };
  const auto xd = decoded_rows(xv, n, in), wd = decoded_rows(w.to_vector(), out, in);
  const auto yv = y.to_vector();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t j = 0; j < out; ++j) {
      double s = 0, magnitude = 0;
      for (std::int64_t i = 0; i < in; ++i) {
        s += xd[b * in + i] * wd[j * in + i];
        magnitude += std::abs(xd[b * in + i] * wd[j * in + i]);
      }
      CHECK(std::abs(yv[b * out + j] - s) <= bf16_ulp(s) + in * std::ldexp(magnitude, -23));
    }
}

TEST_CASE("fp8 scales and amax histories are saved in the checkpoint and loaded back", "[amp]") {
  const auto dir = std::filesystem::temp_directory_path() / "lowbit_test_fp8_checkpoint";
  std::filesystem::create_directories(dir);
  const auto file = dir / "fp8.safetensors";
  AmpOptions options;
  options.mode = AmpMode::fp8;
  train::TrainOptions t;
  t.batch = 8;
  auto first = std::make_unique<MixedPrecision>(options);
  MixedPrecision* fp = first.get();
  train::Trainer a(t, std::move(first));
  for (std::uint64_t s = 0; s < 3; ++s) {
    const auto [x, y] = testing::synthetic_batch(8, s);
    a.step(x, y);
  }
  a.save(file);
  auto second = std::make_unique<MixedPrecision>(options);
  MixedPrecision* sp = second.get();
  train::Trainer b(t, std::move(second));
  b.load(file, true);
  const train::NamedTensors sa = fp->state(), sb = sp->state();
  REQUIRE(sa.size() == sb.size());
  REQUIRE(sa.size() == 1 + 2 * 3);  // the loss scale, and scale + history of the MLP's three linear layers
  for (std::size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sb[i].first == sa[i].first);
    CHECK(sb[i].second.to_vector() == sa[i].second.to_vector());
  }
  // The working copies were re-derived from the loaded masters.
  CHECK(b.model().parameters()[0].to_vector() == a.model().parameters()[0].to_vector());
  std::filesystem::remove_all(dir);
}
