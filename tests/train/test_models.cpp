// Models: shapes, the transformer block's gradients (whole block in float64 against finite differences),
// causality of masked attention, and checkpoints that round-trip through safetensors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "gradcheck.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/models.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/trainer.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::train::testing::gradcheck;
using lowbit::train::testing::random_tensor;

namespace {

// A batch of `n` images with uniform pixels from a fixed seed, every label `label`.
std::pair<Tensor, Tensor> pixel_batch(std::int64_t n, std::uint64_t seed, double label) {
  Rng rng(seed);
  std::vector<float> pixels(static_cast<std::size_t>(n) * 784);
  for (float& p : pixels) p = static_cast<float>(rng.next_double());
  return {from_values(pixels, {n, 1, 28, 28}),
          from_values(std::vector<double>(static_cast<std::size_t>(n), label), {n}, DType::int32)};
}

}  // namespace

TEST_CASE("the MLP and the CNN map n x 1 x 28 x 28 images to n x 10 logits", "[train]") {
  Rng rng(1);
  const Tensor x = cast(random_tensor({3, 1, 28, 28}, 2), DType::float32);
  auto mlp = make_mlp(rng);
  auto cnn = make_cnn(rng);
  CHECK(mlp->forward(x).shape() == Shape{3, 10});
  CHECK(cnn->forward(x).shape() == Shape{3, 10});
  CHECK(mlp->parameter_count() == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
  CHECK(cnn->parameter_count() == 32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 128 * 10 + 10);
  CHECK_THROWS_AS(make_model("resnet", rng), RangeError);
}

TEST_CASE("a transformer block's gradients match finite differences for input and every parameter",
          "[train]") {
  Rng rng(3);
  TransformerBlock block(8, 2, rng);
  block.cast_parameters(DType::float64);
  std::vector<Tensor> inputs{random_tensor({2, 5, 8}, 4)};
  inputs[0].set_requires_grad(true);
  for (const Tensor& p : block.parameters()) inputs.push_back(p);
  const auto r = gradcheck([&block](const std::vector<Tensor>& x) { return block.forward(x[0]); }, inputs);
  INFO(r.worst);
  CHECK(r.max_abs_error < 1e-7);
}

TEST_CASE("causal attention: an output does not depend on later positions", "[train]") {
  Rng rng(5);
  MultiHeadAttention attention(8, 2, rng);
  attention.cast_parameters(DType::float64);
  Tensor x = random_tensor({1, 6, 8}, 6);
  const auto before = attention.forward(x).to_vector();
  x.data<double>()[5 * 8 + 3] += 1.0;  // change the last position only
  const auto after = attention.forward(x).to_vector();
  for (std::size_t i = 0; i < 5 * 8; ++i) CHECK(after[i] == before[i]);
  bool last_changed = false;
  for (std::size_t i = 5 * 8; i < 6 * 8; ++i) last_changed = last_changed || after[i] != before[i];
  CHECK(last_changed);
}

TEST_CASE("a trainer checkpoint round-trips parameters and optimizer state through safetensors", "[train]") {
  const auto dir = std::filesystem::temp_directory_path() / "lowbit_test_models_checkpoint";
  std::filesystem::create_directories(dir);
  const auto path = dir / "mlp.safetensors";
  TrainOptions options;
  Trainer a(options);
  const auto [x, y] = pixel_batch(16, 1, 3.0);
  a.step(x, y);
  a.save(path);
  Trainer b(options);
  b.load(path, true);
  const auto pa = a.model().named_parameters(), pb = b.model().named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].second.to_vector() == pb[i].second.to_vector());
  const auto sa = a.optimizer().state(), sb = b.optimizer().state();
  for (std::size_t i = 0; i < sa.size(); ++i) CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  CHECK(b.optimizer().steps() == 1);
  // The next step is the same in both.
  CHECK(a.step(x, y) == b.step(x, y));

  SECTION("a checkpoint of another model is refused, naming the file") {
    TrainOptions cnn = options;
    cnn.model = "cnn";
    Trainer c(cnn);
    CHECK_THROWS_AS(c.load(path, false), ShapeError);
  }
  SECTION("a truncated checkpoint is refused and the model is untouched") {
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size - 10);
    Trainer d(options);
    const auto before = d.model().parameters().front().to_vector();
    CHECK_THROWS_AS(d.load(path, false), FileError);
    CHECK(d.model().parameters().front().to_vector() == before);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("nonsense training options are rejected with the option named", "[train]") {
  auto rejects = [](auto change, const char* needle) {
    TrainOptions o;
    change(o);
    try {
      o.validate();
      FAIL("accepted");
    } catch (const RangeError& e) {
      CHECK_THAT(e.what(), Catch::Contains(needle));
    }
  };
  rejects([](TrainOptions& o) { o.epochs = 0; }, "--epochs");
  rejects([](TrainOptions& o) { o.batch = -3; }, "--batch");
  rejects([](TrainOptions& o) { o.grad_accum = 3; }, "--grad-accum");
  rejects([](TrainOptions& o) { o.lr = -1; }, "--lr");
  rejects([](TrainOptions& o) { o.lr = NAN; }, "--lr");
  rejects([](TrainOptions& o) { o.model = "vgg"; }, "--model");
  rejects([](TrainOptions& o) { o.optimizer = "lbfgs"; }, "--optimizer");
  rejects([](TrainOptions& o) { o.checkpoint_segments = 0; }, "--checkpoint-segments");
}

TEST_CASE("A trainer stepped by hand, before fit sets the run's length, keeps the base learning rate",
          "[train]") {
  TrainOptions options;  // the default schedule is cosine
  Trainer trainer(options);
  const auto [x, y] = pixel_batch(8, 2, 1.0);
  for (int i = 0; i < 3; ++i) {
    trainer.step(x, y);
    CHECK(trainer.optimizer().lr() == 1e-3);
  }
}
