// Every op the MLP, the CNN and the AMP path run on CUDA tensors, forward and backward, against the CPU op on
// the same random inputs: exact where both devices do the same arithmetic (copies, views, casts, pooling,
// dropout), else within a stated bound on ||gpu - cpu|| / ||cpu||.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <string>

#include "device_compare.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/optim.hpp"
#include "lowbit/train/view_ops.hpp"

namespace {

using namespace lowbit;
using namespace lowbit::train;
using namespace lowbit::train::testing;

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

// Backward from sum(y * w) with random weights w, so every output element gets its own gradient.
void backward_weighted(const Tensor& y_cpu, const Tensor& y_gpu, std::uint64_t seed) {
  const Tensor w = random_cpu(y_cpu.shape(), seed);
  sum(mul(cast(y_cpu, DType::float32), w)).backward();
  sum(mul(cast(y_gpu, DType::float32), to_device(w, Device::cuda))).backward();
}

void check_unary(const std::string& name, const Unary& f, const Shape& shape, double bound, double lo = -2.0,
                 double hi = 2.0) {
  INFO(name);
  const Pair x = leaf_pair(shape, 11, lo, hi);
  const Tensor yc = f(x.cpu), yg = f(x.gpu);
  REQUIRE(yg.device() == Device::cuda);
  CHECK(relative_error(yg, yc) <= bound);
  backward_weighted(yc, yg, 12);
  CHECK(relative_error(x.gpu.grad(), x.cpu.grad()) <= bound);
}

void check_binary(const std::string& name, const Binary& f, const Shape& sa, const Shape& sb, double bound,
                  double lo = -2.0, double hi = 2.0) {
  INFO(name);
  const Pair a = leaf_pair(sa, 21), b = leaf_pair(sb, 22, lo, hi);
  const Tensor yc = f(a.cpu, b.cpu), yg = f(a.gpu, b.gpu);
  CHECK(relative_error(yg, yc) <= bound);
  backward_weighted(yc, yg, 23);
  CHECK(relative_error(a.gpu.grad(), a.cpu.grad()) <= bound);
  CHECK(relative_error(b.gpu.grad(), b.cpu.grad()) <= bound);
}

constexpr double kF32 = 1e-6;  // float32 elementwise: a few ulp apart (the GPU's expf/tanhf, FMA contraction)

}  // namespace

TEST_CASE("cuda unary ops and activations match the cpu forward and backward", "[train_cuda]") {
  const Shape shape{7, 33};
  check_unary(
      "relu", [](const Tensor& x) { return relu(x); }, shape, 0.0);
  check_unary(
      "gelu", [](const Tensor& x) { return gelu(x); }, shape, kF32);
  check_unary(
      "tanh", [](const Tensor& x) { return tanh(x); }, shape, kF32);
  check_unary(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, shape, kF32);
  check_unary(
      "exp", [](const Tensor& x) { return exp(x); }, shape, kF32);
  check_unary(
      "neg", [](const Tensor& x) { return neg(x); }, shape, 0.0);
  check_unary(
      "add_scalar", [](const Tensor& x) { return add_scalar(x, 0.75); }, shape, 0.0);
  check_unary(
      "mul_scalar", [](const Tensor& x) { return mul_scalar(x, -1.5); }, shape, 0.0);
  check_unary(
      "log", [](const Tensor& x) { return log(x); }, shape, kF32, 0.1, 3.0);
  check_unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, shape, kF32, 0.1, 3.0);
  check_unary(
      "pow", [](const Tensor& x) { return pow(x, 2.5); }, shape, kF32, 0.1, 3.0);
}

TEST_CASE("cuda binary ops broadcast as the cpu ones, forward and backward", "[train_cuda]") {
  check_binary(
      "add, bias row", [](const Tensor& a, const Tensor& b) { return add(a, b); }, {4, 5, 6}, {6}, 0.0);
  check_binary(
      "sub, middle axis", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, {4, 1, 6}, {5, 1},
      kF32);
  check_binary(
      "mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, {3, 8}, {3, 8}, kF32);
  check_binary(
      "div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, {3, 8}, {1, 8}, kF32, 0.5, 2.0);
}

TEST_CASE("cuda sums, means and views match the cpu", "[train_cuda]") {
  check_unary(
      "sum all", [](const Tensor& x) { return sum(x); }, {5, 6, 7}, kF32);
  check_unary(
      "sum axis 0", [](const Tensor& x) { return sum(x, {0}); }, {64, 130}, kF32);
  check_unary(
      "sum axes 0 2 keepdim",
      [](const Tensor& x) {
        return sum(x, {0, 2}, true);
      },
      {4, 6, 49}, kF32);
  check_unary(
      "mean axis 1", [](const Tensor& x) { return mean(x, {1}); }, {9, 300}, kF32);
  check_unary(
      "transpose contiguous", [](const Tensor& x) { return contiguous(transpose(x, 0, 1)); }, {9, 13}, 0.0);
  check_unary(
      "flatten", [](const Tensor& x) { return flatten(x, 1); }, {4, 3, 5, 5}, 0.0);
  check_unary(
      "reshape of a permute",
      [](const Tensor& x) {
        return reshape(permute(x, {2, 0, 1}), {-1, 4});
      },
      {4, 3, 8}, 0.0);
  check_unary(
      "slice", [](const Tensor& x) { return contiguous(slice(x, 1, 2, 7)); }, {5, 9}, 0.0);
}

TEST_CASE("cuda casts are bit-identical to the cpu conversions", "[train_cuda]") {
  const Tensor x =
      mul_scalar(random_cpu({1000}, 31, -4.0, 4.0), 100.0);  // into fp8's large and subnormal ranges
  const Tensor xg = to_device(x, Device::cuda);
  for (DType t : {DType::bfloat16, DType::float16, DType::float8_e4m3fn, DType::float8_e5m2}) {
    INFO(dtype_name(t));
    const Tensor nc = cast(x, t), ng = cast(xg, t);
    require_equal(ng, nc);
    require_equal(cast(ng, DType::float32), cast(nc, DType::float32));
    if (t != DType::bfloat16) require_equal(cast(ng, DType::bfloat16), cast(nc, DType::bfloat16));
  }
}

TEST_CASE("cuda linear, matmul and bmm in float32 match the cpu within the K-dependent bound",
          "[train_cuda]") {
  // fp32 products in another order: |error| <= K u sum|a||b|, far under 1e-5 relative for these K.
  const Pair x = leaf_pair({33, 70}, 41), w = leaf_pair({20, 70}, 42), b = leaf_pair({20}, 43);
  const Tensor yc = linear(x.cpu, w.cpu, b.cpu), yg = linear(x.gpu, w.gpu, b.gpu);
  CHECK(relative_error(yg, yc) <= 1e-5);
  backward_weighted(yc, yg, 44);
  CHECK(relative_error(x.gpu.grad(), x.cpu.grad()) <= 1e-5);
  CHECK(relative_error(w.gpu.grad(), w.cpu.grad()) <= 1e-5);
  CHECK(relative_error(b.gpu.grad(), b.cpu.grad()) <= 1e-5);
  check_binary(
      "matmul", [](const Tensor& a, const Tensor& c) { return matmul(a, c); }, {17, 40}, {40, 23}, 1e-5);
  check_binary(
      "bmm", [](const Tensor& a, const Tensor& c) { return matmul(a, c); }, {3, 9, 16}, {3, 16, 7}, 1e-5);
}

TEST_CASE("cuda linear in bfloat16 and float16 matches the cpu through lowbit's kernels and cuBLAS",
          "[train_cuda]") {
  for (CudaGemm gemm : {CudaGemm::lowbit, CudaGemm::cublas}) {
    set_cuda_gemm(gemm);
    for (DType t : {DType::bfloat16, DType::float16}) {
      INFO((gemm == CudaGemm::lowbit ? "lowbit " : "cublas ") << dtype_name(t));
      const Pair x = leaf_pair({64, 784}, 51), w = leaf_pair({256, 784}, 52), b = leaf_pair({256}, 53);
      auto run = [t](const Tensor& xs, const Tensor& ws, const Tensor& bs) {
        return linear(cast(xs, t), cast(ws, t), cast(bs, t));
      };
      const Tensor yc = run(x.cpu, w.cpu, b.cpu), yg = run(x.gpu, w.gpu, b.gpu);
      REQUIRE(yg.dtype() == t);
      // Both accumulate in fp32 and round once; the order differs, so an output may land one ulp apart
      // (2^-8 relative in bfloat16, 2^-11 in float16).
      const double bound = t == DType::bfloat16 ? 4e-3 : 1e-3;
      CHECK(relative_error(yg, yc) <= bound);
      backward_weighted(yc, yg, 54);
      CHECK(relative_error(x.gpu.grad(), x.cpu.grad()) <= bound);
      CHECK(relative_error(w.gpu.grad(), w.cpu.grad()) <= bound);
      CHECK(relative_error(b.gpu.grad(), b.cpu.grad()) <= bound);
    }
  }
  set_cuda_gemm(CudaGemm::lowbit);
}

TEST_CASE("cuda conv2d matches the cpu forward and backward", "[train_cuda]") {
  struct Case {
    std::int64_t stride, padding;
    DType type;
    double bound;
  };
  for (const Case& c : {Case{1, 1, DType::float32, 1e-5}, Case{2, 0, DType::float32, 1e-5},
                        Case{1, 1, DType::bfloat16, 8e-3}}) {
    INFO("stride " << c.stride << " padding " << c.padding << " " << dtype_name(c.type));
    const Pair x = leaf_pair({4, 3, 9, 9}, 61), w = leaf_pair({16, 3, 3, 3}, 62), b = leaf_pair({16}, 63);
    auto run = [&](const Tensor& xs, const Tensor& ws, const Tensor& bs) {
      return conv2d(cast(xs, c.type), cast(ws, c.type), cast(bs, c.type), c.stride, c.padding);
    };
    const Tensor yc = run(x.cpu, w.cpu, b.cpu), yg = run(x.gpu, w.gpu, b.gpu);
    CHECK(relative_error(yg, yc) <= c.bound);
    backward_weighted(yc, yg, 64);
    CHECK(relative_error(x.gpu.grad(), x.cpu.grad()) <= c.bound);
    CHECK(relative_error(w.gpu.grad(), w.cpu.grad()) <= c.bound);
    CHECK(relative_error(b.gpu.grad(), b.cpu.grad()) <= c.bound);
  }
}

TEST_CASE("cuda max pooling picks the same elements as the cpu", "[train_cuda]") {
  check_unary(
      "2x2", [](const Tensor& x) { return max_pool2d(x, 2); }, {3, 4, 14, 14}, 0.0);
  // Overlapping windows add gradients in another order: a few ulp.
  check_unary(
      "3x3 stride 2", [](const Tensor& x) { return max_pool2d(x, 3, 2); }, {2, 3, 11, 11}, kF32);
}

TEST_CASE("cuda cross-entropy matches the cpu forward and backward", "[train_cuda]") {
  const Pair logits = leaf_pair({37, 10}, 71, -4.0, 4.0);
  std::vector<double> y(37);
  Rng rng(72);
  for (double& v : y) v = static_cast<double>(rng.next_below(10));
  const Tensor labels = from_values(y, {37}, DType::int32);
  const Tensor lc = cross_entropy(logits.cpu, labels);
  const Tensor lg = cross_entropy(logits.gpu, to_device(labels, Device::cuda));
  CHECK(relative_error(lg, lc) <= kF32);
  mul_scalar(lc, 3.0).backward();
  mul_scalar(lg, 3.0).backward();
  CHECK(relative_error(logits.gpu.grad(), logits.cpu.grad()) <= kF32);
}

TEST_CASE("cuda dropout draws the cpu's mask from the same generator", "[train_cuda]") {
  const Pair x = leaf_pair({16, 129}, 81);
  Rng a(82), b(82);
  const Tensor yc = dropout(x.cpu, 0.25, true, a), yg = dropout(x.gpu, 0.25, true, b);
  require_equal(yg, yc);
  backward_weighted(yc, yg, 83);
  CHECK(relative_error(x.gpu.grad(), x.cpu.grad()) == 0.0);
}

TEST_CASE("cuda Adam, AdamW and SGD updates follow the cpu optimizers", "[train_cuda]") {
  for (const char* name : {"adam", "adamw", "sgd"}) {
    INFO(name);
    Pair p = leaf_pair({50, 30}, 91), q = leaf_pair({30}, 92);
    auto opt_cpu = make_optimizer(name, {{"p", p.cpu}, {"q", q.cpu}}, 1e-2, 0.01, 0.9);
    auto opt_gpu = make_optimizer(name, {{"p", p.gpu}, {"q", q.gpu}}, 1e-2, 0.01, 0.9);
    for (int step = 0; step < 3; ++step) {
      const Tensor gp = random_cpu({50, 30}, 93 + step), gq = random_cpu({30}, 96 + step);
      p.cpu.set_grad(gp), q.cpu.set_grad(gq);
      // The GPU gets its gradients in bfloat16 on the last step (as AMP hands them over), with the same
      // values: the CPU side gets the same rounding.
      if (step == 2) {
        p.cpu.set_grad(cast(cast(gp, DType::bfloat16), DType::float32));
        p.gpu.set_grad(cast(to_device(gp, Device::cuda), DType::bfloat16));
      } else {
        p.gpu.set_grad(to_device(gp, Device::cuda));
      }
      q.gpu.set_grad(to_device(gq, Device::cuda));
      opt_cpu->step();
      opt_gpu->step();
    }
    CHECK(relative_error(p.gpu, p.cpu) <= 1e-6);
    CHECK(relative_error(q.gpu, q.cpu) <= 1e-6);
  }
}

TEST_CASE("cuda gradient norms and clipping match the cpu; the inf/NaN check sees every dtype",
          "[train_cuda]") {
  Pair p = leaf_pair({40, 25}, 101), q = leaf_pair({25}, 102);
  const Tensor gp = random_cpu({40, 25}, 103), gq = random_cpu({25}, 104);
  p.cpu.set_grad(clone(gp)), q.cpu.set_grad(clone(gq));
  p.gpu.set_grad(to_device(gp, Device::cuda)), q.gpu.set_grad(to_device(gq, Device::cuda));
  const double nc = clip_grad_norm({p.cpu, q.cpu}, 1.0), ng = clip_grad_norm({p.gpu, q.gpu}, 1.0);
  CHECK(ng == Approx(nc).epsilon(1e-9));
  CHECK(relative_error(p.gpu.grad(), p.cpu.grad()) <= kF32);
  for (DType t : {DType::float32, DType::bfloat16, DType::float16}) {
    INFO(dtype_name(t));
    for (double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
      std::vector<double> v(300, 0.5);
      const Tensor ok = to_device(cast(from_values(v, {300}), t), Device::cuda);
      v[217] = bad;
      const Tensor broken = to_device(cast(from_values(v, {300}), t), Device::cuda);
      CHECK(all_finite_cuda(std::vector<Tensor>{ok, ok}));
      CHECK_FALSE(all_finite_cuda(std::vector<Tensor>{ok, broken}));
    }
  }
}

TEST_CASE("ops on tensors of two devices name the op and both devices", "[train_cuda]") {
  const Tensor a = random_cpu({3, 4}, 111);
  const Tensor b = to_device(a, Device::cuda);
  CHECK_THROWS_WITH(add(a, b), Catch::Contains("add") && Catch::Contains("cpu") && Catch::Contains("cuda"));
  CHECK_THROWS_WITH(matmul(a, transpose(b, 0, 1)), Catch::Contains("matmul"));
}
