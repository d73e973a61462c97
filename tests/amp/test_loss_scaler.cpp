// The loss scaler against torch.amp.GradScaler's documented semantics (init_scale 2^16, growth_factor 2,
// backoff_factor 0.5, growth_interval 2000; a step with inf/NaN gradients is skipped and backs off), plus
// lowbit's floor, cap, skipped-step count, scale history and the one check per effective batch.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "amp_test_support.hpp"
#include "lowbit/amp/loss_scaler.hpp"
#include "lowbit/amp/mixed_precision.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/trainer.hpp"

using namespace lowbit;
using namespace lowbit::amp;
using train::Tensor;

TEST_CASE("dynamic scaling starts at 2^16 and doubles after exactly 2000 clean steps", "[amp]") {
  LossScaler s;
  CHECK(s.scale() == 65536.0);
  for (int i = 0; i < 1999; ++i) s.update(false);
  CHECK(s.scale() == 65536.0);
  s.update(false);
  CHECK(s.scale() == 131072.0);
  CHECK(s.clean_streak() == 0);
  CHECK(s.skipped_steps() == 0);
}

TEST_CASE("an inf or NaN step is skipped, halves the scale and restarts the growth count", "[amp]") {
  LossScalerOptions o;
  o.growth_interval = 3;
  LossScaler s(o);
  s.update(false);
  s.update(false);
  s.update(true);
  CHECK(s.scale() == 32768.0);
  CHECK(s.skipped_steps() == 1);
  s.update(false);
  s.update(false);
  CHECK(s.scale() == 32768.0);  // the streak restarted: two clean steps are not three
  s.update(false);
  CHECK(s.scale() == 65536.0);
  // History: (step, scale) at every change.
  const std::vector<std::pair<std::int64_t, double>> expected{{0, 65536.0}, {3, 32768.0}, {6, 65536.0}};
  CHECK(s.history() == expected);
}

TEST_CASE("the floor stops backoff and the cap stops growth", "[amp]") {
  LossScalerOptions o;
  o.init_scale = 4;
  o.min_scale = 2;
  o.max_scale = 8;
  o.growth_interval = 1;
  LossScaler s(o);
  s.update(true);
  s.update(true);
  s.update(true);
  CHECK(s.scale() == 2.0);
  CHECK(s.skipped_steps() == 3);
  for (int i = 0; i < 5; ++i) s.update(false);
  CHECK(s.scale() == 8.0);
}

TEST_CASE("a static scale never changes but still skips inf steps; none checks nothing", "[amp]") {
  LossScaler fixed(parse_loss_scaling("static:1024"));
  fixed.update(true);
  for (int i = 0; i < 3000; ++i) fixed.update(false);
  CHECK(fixed.scale() == 1024.0);
  CHECK(fixed.skipped_steps() == 1);
  LossScaler none(parse_loss_scaling("none"));
  CHECK(none.scale() == 1.0);
  CHECK_FALSE(none.checks());
  CHECK_THROWS_WITH(parse_loss_scaling("static:-2"), Catch::Contains("static:-2"));
  CHECK_THROWS_WITH(parse_loss_scaling("auto"), Catch::Contains("auto"));
  LossScalerOptions bad;
  bad.backoff_factor = 1.5;
  CHECK_THROWS_WITH(LossScaler(bad), Catch::Contains("backoff_factor"));
}

TEST_CASE("inf and NaN are found in every float dtype, finite extremes are not", "[amp]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (DType t : {DType::float32, DType::bfloat16, DType::float16, DType::float8_e5m2, DType::float8_e4m3fn,
                  DType::float64}) {
    INFO(dtype_name(t));
    const double big = t == DType::float16         ? 65504.0
                       : t == DType::float8_e5m2   ? 57344.0
                       : t == DType::float8_e4m3fn ? 448.0
                                                   : 1e30;
    const Tensor finite = train::from_values(std::vector<double>{big, -big, 0, 1e-30}, {4}, t);
    CHECK(LossScaler::all_finite(std::vector<Tensor>{finite}));
    CHECK_FALSE(LossScaler::all_finite(
        std::vector<Tensor>{finite, train::from_values(std::vector<double>{1, nan}, {2}, t)}));
    if (t != DType::float8_e4m3fn) {  // e4m3fn has no inf (overflow becomes NaN, also caught)
      CHECK_FALSE(
          LossScaler::all_finite(std::vector<Tensor>{train::from_values(std::vector<double>{-inf}, {1}, t)}));
    }
  }
}

using lowbit::amp::testing::synthetic_batch;

TEST_CASE("under gradient accumulation an overflowing step is checked once and skipped once", "[amp]") {
  // A scale so large that the float16 gradients overflow in every micro-batch: one skip and one backoff per
  // effective batch of four micro-batches, not four.
  AmpOptions options;
  options.mode = AmpMode::fp16;
  LossScalerOptions scaling;
  scaling.init_scale = std::ldexp(1.0, 40);
  scaling.max_scale = std::ldexp(1.0, 50);
  options.loss_scaling = scaling;
  auto precision = std::make_unique<MixedPrecision>(options);
  const MixedPrecision& mp = *precision;
  train::TrainOptions t;
  t.batch = 32;
  t.grad_accum = 4;
  train::Trainer trainer(t, std::move(precision));
  const std::vector<double> before = trainer.model().parameters()[0].to_vector();
  const auto [x, y] = synthetic_batch(32, 1);
  trainer.step(x, y);
  CHECK(mp.skipped_steps() == 1);
  CHECK(mp.loss_scale() == std::ldexp(1.0, 39));
  CHECK(trainer.optimizer().steps() == 0);
  CHECK(trainer.model().parameters()[0].to_vector() == before);  // skipped: the weights did not move
}
