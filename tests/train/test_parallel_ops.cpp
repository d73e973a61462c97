// The ops that split their work across the kernels' threads (elementwise maps, sums, copies, 2x2 max pooling,
// conv2d's im2col/col2im/reorders, Adam) give the same bits on two threads as on one, on tensors large enough
// to be split. One thread runs the serial loops the other tests check against their definitions.
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>

#include "lowbit/kernels/gemm.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/optim.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;

namespace {

// Uniform float32 values in [-1, 1) from a fixed seed, with some exact zeros (relu's and max's edges).
Tensor random_float32(const Shape& shape, std::uint64_t seed, bool requires_grad = false) {
  Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = i % 17 == 0 ? 0.0f : static_cast<float>(rng.next_double() * 2 - 1);
  Tensor t = from_values(v, shape, DType::float32);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = contiguous(a), y = contiguous(b);
  return std::memcmp(x.raw_data(), y.raw_data(),
                     dtype_storage_bytes(x.dtype(), static_cast<std::size_t>(x.numel()))) == 0;
}

// Runs f with the kernels set to `threads` threads, restoring the previous count.
std::vector<Tensor> with_threads(int threads, const std::function<std::vector<Tensor>()>& f) {
  const int before = kernels::num_threads();
  kernels::set_num_threads(threads);
  std::vector<Tensor> out = f();
  kernels::set_num_threads(before);
  return out;
}

void require_same_on_one_and_two_threads(const std::function<std::vector<Tensor>()>& f) {
  const std::vector<Tensor> one = with_threads(1, f), two = with_threads(2, f);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("output " << i);
    REQUIRE(same_bits(one[i], two[i]));
  }
}

}  // namespace

TEST_CASE("Elementwise maps and their backward give the same bits on one and two threads", "[train]") {
  require_same_on_one_and_two_threads([] {
    const Tensor a = random_float32({3, 70001}, 1, true), b = random_float32({3, 70001}, 2, true);
    const Tensor bias = random_float32({70001}, 3, true);
    const Tensor y = relu(add(mul(a, b), bias));
    sum(y).backward();
    return std::vector<Tensor>{y, a.grad(), b.grad(), bias.grad()};
  });
}

TEST_CASE("Sums over leading, inner and all axes give the same bits on one and two threads", "[train]") {
  require_same_on_one_and_two_threads([] {
    const Tensor x = random_float32({64, 33, 197}, 4);
    return std::vector<Tensor>{sum(x, {0, 2}), sum(x, {0}), sum(x, {2}), sum(x, {1}), sum(x)};
  });
}

TEST_CASE("Copies of permuted and transposed views give the same bits on one and two threads", "[train]") {
  require_same_on_one_and_two_threads([] {
    const Tensor x = random_float32({40, 31, 203}, 5);
    return std::vector<Tensor>{contiguous(permute(x, {0, 2, 1})), contiguous(permute(x, {1, 0, 2})),
                               contiguous(transpose(reshape(x, {40 * 31, 203}), 0, 1)), zeros({3, 100003})};
  });
}

TEST_CASE("2x2 max pooling and conv2d, forward and backward, give the same bits on one and two threads",
          "[train]") {
  require_same_on_one_and_two_threads([] {
    const Tensor x = random_float32({37, 3, 28, 28}, 6, true);
    const Tensor w = random_float32({8, 3, 3, 3}, 7, true), b = random_float32({8}, 8, true);
    const Tensor y = max_pool2d(relu(conv2d(x, w, b, 1, 1)), 2);
    sum(mul(y, random_float32(y.shape(), 9))).backward();
    return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
  });
}

TEST_CASE("Adam and AdamW steps give the same bits on one and two threads", "[train]") {
  for (const bool decoupled : {false, true}) {
    require_same_on_one_and_two_threads([decoupled] {
      Tensor p = random_float32({300, 401}, 10, true);
      AdamOptions options;
      options.weight_decay = 0.1;
      options.decoupled_weight_decay = decoupled;
      Adam adam({{"p", p}}, options);
      for (int step = 0; step < 3; ++step) {
        adam.zero_grad();
        sum(mul(p, random_float32(p.shape(), 11 + static_cast<std::uint64_t>(step)))).backward();
        adam.step();
      }
      return std::vector<Tensor>{p};
    });
  }
}
