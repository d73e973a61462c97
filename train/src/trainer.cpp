#include "lowbit/train/trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/device.hpp"
#include "lowbit/train/models.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/safetensors.hpp"
#include "lowbit/train/view_ops.hpp"

namespace lowbit::train {

namespace {

// Fashion-MNIST's training-set pixel statistics (after scaling to [0, 1]).
constexpr float kPixelMean = 0.2860f;
constexpr float kPixelStd = 0.3530f;

double default_lr(const std::string& optimizer) {
  return optimizer == "sgd" ? 0.05 : 1e-3;
}

void update_memory(MemoryReport& report) {
  const MemoryStats s = memory_stats();
  for (std::size_t c = 0; c < kMemoryCategoryCount; ++c) {
    report.live[c] = s.live[c];
    report.peak[c] = std::max(report.peak[c], s.peak[c]);
  }
  report.peak_total = std::max(report.peak_total, s.peak_total);
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

void TrainOptions::validate() const {
  auto bad = [](const char* option, auto value, const char* rule) {
    throw RangeError(fmt::format("--{} {}: {}", option, value, rule));
  };
  if (model != "mlp" && model != "cnn") bad("model", model, "use mlp or cnn");
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    bad("optimizer", optimizer, "use sgd, adam or adamw");
  parse_schedule_kind(schedule);
  if (epochs < 1) bad("epochs", epochs, "must be at least 1");
  if (batch < 1) bad("batch", batch, "must be at least 1");
  if (grad_accum < 1) bad("grad-accum", grad_accum, "must be at least 1");
  if (batch % grad_accum != 0) bad("grad-accum", grad_accum, "must divide the batch size");
  if (checkpoint_segments < 1) bad("checkpoint-segments", checkpoint_segments, "must be at least 1");
  if (!(lr >= 0) || lr > 10) bad("lr", lr, "must be in [0, 10] (0: the optimizer's default)");
  if (!(momentum >= 0) || momentum >= 1) bad("momentum", momentum, "must be in [0, 1)");
  if (weight_decay > 1) bad("weight-decay", weight_decay, "must be at most 1");
  if (!(clip_norm >= 0)) bad("clip-norm", clip_norm, "must be >= 0 (0: off)");
  if (warmup_steps < 0) bad("warmup", warmup_steps, "must be >= 0");
  if (train_limit < 0) bad("train-limit", train_limit, "must be >= 0");
  if (eval_batch < 1) bad("eval-batch", eval_batch, "must be at least 1");
  if (std::string why; !device_available(device, &why)) bad("device", device_name(device), why.c_str());
}

Tensor image_batch(const ImageDataset& data, const std::vector<std::int64_t>& indices, std::int64_t begin,
                   std::int64_t end) {
  const std::int64_t pixels = data.rows * data.cols;
  Tensor out = empty({end - begin, 1, data.rows, data.cols});
  float* o = out.data<float>();
  for (std::int64_t i = begin; i < end; ++i) {
    const std::uint8_t* p = data.pixels.data() + indices[static_cast<std::size_t>(i)] * pixels;
    float* row = o + (i - begin) * pixels;
    for (std::int64_t k = 0; k < pixels; ++k)
      row[k] = (static_cast<float>(p[k]) / 255.0f - kPixelMean) / kPixelStd;
  }
  return out;
}

Tensor label_batch(const ImageDataset& data, const std::vector<std::int64_t>& indices, std::int64_t begin,
                   std::int64_t end) {
  Tensor out = empty({end - begin}, DType::int32);
  std::int32_t* o = out.data<std::int32_t>();
  for (std::int64_t i = begin; i < end; ++i)
    o[i - begin] = data.labels[static_cast<std::size_t>(indices[static_cast<std::size_t>(i)])];
  return out;
}

Trainer::Trainer(TrainOptions options, std::unique_ptr<TrainingPrecision> precision)
    : options_(std::move(options)), precision_(std::move(precision)) {
  options_.validate();
  if (options_.lr == 0) options_.lr = default_lr(options_.optimizer);
  Rng init(options_.seed);
  model_ = make_model(options_.model, init);
  // On the device before mixed precision copies the parameters and the optimizer makes its state.
  for (const Tensor& p : model_->parameters()) move_to_device(p, options_.device);
  model_->set_checkpoint_segments(static_cast<std::size_t>(options_.checkpoint_segments));
  parameters_ = precision_ ? precision_->attach(*model_) : model_->named_parameters();
  optimizer_ =
      make_optimizer(options_.optimizer, parameters_, options_.lr, options_.weight_decay, options_.momentum);
  schedule_.kind = parse_schedule_kind(options_.schedule);
  schedule_.base_lr = options_.lr;
  schedule_.warmup_steps = options_.warmup_steps;
  manual_seed(options_.seed ^ 0x5eedd40b0u);  // dropout stream, independent of the initialisation stream
}

double Trainer::step(const Tensor& images_in, const Tensor& labels_in) {
  const Tensor images = to_device(images_in, options_.device), labels = to_device(labels_in, options_.device);
  reset_memory_peaks();
  optimizer_->set_lr(schedule_.lr_at(optimizer_->steps()));
  optimizer_->zero_grad();
  if (precision_) precision_->begin_step();
  const PrecisionPolicy* policy = precision_ ? precision_->policy() : nullptr;
  const double loss_scale = precision_ ? precision_->loss_scale() : 1.0;
  const std::int64_t n = images.shape()[0];
  const std::int64_t k = std::min<std::int64_t>(options_.grad_accum, std::max<std::int64_t>(n, 1));
  double loss_sum = 0;
  for (std::int64_t part = 0; part < k; ++part) {
    const std::int64_t begin = part * n / k, end = (part + 1) * n / k;
    if (begin == end) continue;
    Tensor loss;
    {
      PrecisionScope scope(policy);  // autocast covers the forward and the loss, not the backward
      loss = cross_entropy(model_->forward(slice(images, 0, begin, end)), slice(labels, 0, begin, end));
    }
    // Each micro-batch's mean loss weighs by its share of the batch, so the summed gradients equal the
    // full batch's gradient; the loss scale multiplies it too (fp16 gradients stay above underflow).
    mul_scalar(loss, loss_scale * static_cast<double>(end - begin) / static_cast<double>(n)).backward();
    loss_sum += loss.item() * static_cast<double>(end - begin);
  }
  if (!precision_) {
    if (options_.clip_norm > 0) clip_grad_norm(model_->parameters(), options_.clip_norm);
    optimizer_->step();
  } else if (precision_->gradients_finite()) {
    // Unscale before clipping: the norm is the true gradient's, and both factors reach the float32 update
    // as one multiplier (low-precision gradients are never rewritten, so nothing underflows on the way).
    double multiplier = 1.0 / loss_scale;
    if (options_.clip_norm > 0) {
      std::vector<Tensor> masters;
      for (const auto& [name, p] : parameters_) masters.push_back(p);
      const double norm = grad_norm(masters) * multiplier;
      if (norm > options_.clip_norm) multiplier *= options_.clip_norm / (norm + 1e-6);
    }
    optimizer_->set_gradient_multiplier(multiplier);
    optimizer_->step();
    precision_->end_step(true);
  } else {
    precision_->end_step(false);
  }
  update_memory(memory_);
  return loss_sum / static_cast<double>(std::max<std::int64_t>(n, 1));
}

EvalResult Trainer::evaluate(const ImageDataset& data) {
  NoGradGuard no_grad;
  PrecisionScope scope(precision_ ? precision_->policy() : nullptr);
  model_->set_training(false);
  std::vector<std::int64_t> order(static_cast<std::size_t>(data.count));
  for (std::int64_t i = 0; i < data.count; ++i) order[static_cast<std::size_t>(i)] = i;
  EvalResult result;
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < data.count; begin += options_.eval_batch) {
    const std::int64_t end = std::min(data.count, begin + options_.eval_batch);
    const Tensor logits_here = cast(
        model_->forward(to_device(image_batch(data, order, begin, end), options_.device)), DType::float32);
    const Tensor labels = label_batch(data, order, begin, end);
    loss_sum += cross_entropy(logits_here, to_device(labels, options_.device)).item() *
                static_cast<double>(end - begin);
    const Tensor logits = to_device(logits_here, Device::cpu);
    const float* l = logits.data<float>();
    const std::int32_t* y = labels.data<std::int32_t>();
    const std::int64_t classes = logits.shape()[1];
    for (std::int64_t r = 0; r < end - begin; ++r) {
      const float* row = l + r * classes;
      correct += (std::max_element(row, row + classes) - row) == y[r];
    }
  }
  model_->set_training(true);
  result.count = data.count;
  result.loss = data.count ? loss_sum / static_cast<double>(data.count) : 0;
  result.accuracy = data.count ? static_cast<double>(correct) / static_cast<double>(data.count) : 0;
  return result;
}

TrainResult Trainer::fit(const FashionMnist& data, const ProgressFn& progress) {
  const std::int64_t count =
      options_.train_limit > 0 ? std::min(options_.train_limit, data.train.count) : data.train.count;
  const std::int64_t steps_per_epoch = (count + options_.batch - 1) / options_.batch;
  schedule_.total_steps = steps_per_epoch * options_.epochs;
  schedule_.step_size = steps_per_epoch * std::max<std::int64_t>(options_.epochs / 3, 1);
  TrainResult result;
  result.parameters = model_->parameter_count();
  const auto start = Clock::now();
  for (std::int64_t epoch = 1; epoch <= options_.epochs; ++epoch) {
    // A fresh permutation per epoch, from the seed and the epoch number: reruns give the same batches.
    const std::vector<std::int64_t> order =
        shuffled_indices(count, options_.seed * 1000003u + static_cast<std::uint64_t>(epoch));
    const auto epoch_start = Clock::now();
    double loss_sum = 0;
    std::int64_t step = 0;
    const std::int64_t skipped_before = precision_ ? precision_->skipped_steps() : 0;
    for (std::int64_t begin = 0; begin < count; begin += options_.batch) {
      const std::int64_t end = std::min(count, begin + options_.batch);
      const double loss =
          this->step(image_batch(data.train, order, begin, end), label_batch(data.train, order, begin, end));
      loss_sum += loss * static_cast<double>(end - begin);
      ++step;
      if (progress) progress(epoch, step, steps_per_epoch, loss);
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = seconds_since(epoch_start);
    m.step_milliseconds = 1000.0 * m.seconds / static_cast<double>(std::max<std::int64_t>(step, 1));
    m.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(count, 1));
    const EvalResult test = evaluate(data.test);
    m.test_loss = test.loss;
    m.test_accuracy = test.accuracy;
    m.lr = optimizer_->lr();
    if (precision_) {
      m.loss_scale = precision_->loss_scale();
      m.skipped_steps = precision_->skipped_steps() - skipped_before;
    }
    result.epochs.push_back(m);
  }
  result.seconds = seconds_since(start);
  result.steps = optimizer_->steps();
  result.skipped_steps = precision_ ? precision_->skipped_steps() : 0;
  result.test_accuracy = result.epochs.back().test_accuracy;
  result.test_loss = result.epochs.back().test_loss;
  result.memory = memory_;
  return result;
}

void Trainer::save(const std::filesystem::path& path) const {
  std::vector<SafetensorsEntry> entries;
  std::vector<Tensor> keep;
  auto add = [&](const std::string& name, const Tensor& t) {
    const Tensor c = to_device(contiguous(t.detach()), Device::cpu);
    keep.push_back(c);
    entries.push_back(
        SafetensorsEntry::bytes(name, "F32", c.shape(),
                                std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(c.raw_data()),
                                                              static_cast<std::size_t>(c.numel()) * 4)));
  };
  for (const auto& [name, p] : parameters_) add("model." + name, p);
  for (const auto& [name, s] : optimizer_->state()) add("optimizer." + name, s);
  if (precision_) {
    for (const auto& [name, s] : precision_->state()) add("amp." + name, s);
  }
  const std::map<std::string, std::string> metadata{{"format", "lowbit-train"},
                                                    {"model", options_.model},
                                                    {"optimizer", options_.optimizer},
                                                    {"steps", std::to_string(optimizer_->steps())}};
  write_safetensors(path, entries, metadata);
}

void Trainer::load(const std::filesystem::path& path, bool with_optimizer) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const auto& meta = file.metadata();
  if (auto it = meta.find("model"); it != meta.end() && it->second != options_.model) {
    throw ShapeError(
        fmt::format("{}: checkpoint holds model '{}', not '{}'", path.string(), it->second, options_.model));
  }
  auto read = [&](const std::string& name, const Tensor& into) {
    const SafetensorsTensor& t = file.at(name);
    if (t.dtype != "F32") {
      throw FileError(
          fmt::format("{}: tensor '{}' has dtype {}, expected F32", path.string(), name, t.dtype));
    }
    if (t.shape != into.shape()) {
      throw ShapeError(fmt::format("{}: tensor '{}' has shape {}, the model expects {}", path.string(), name,
                                   shape_string(t.shape), shape_string(into.shape())));
    }
    if (into.device() == Device::cpu) {
      std::memcpy(into.data<float>(), t.data.data(), t.data.size());
    } else {
      backend(into.device())
          .copy_from_host(*into.storage(), static_cast<std::size_t>(into.offset()) * 4, t.data.data(),
                          t.data.size());
    }
  };
  // Check every shape before copying anything, so a mismatch leaves the model untouched.
  for (const auto& [name, p] : parameters_) {
    const SafetensorsTensor& t = file.at("model." + name);
    if (t.shape != p.shape()) {
      throw ShapeError(fmt::format("{}: tensor 'model.{}' has shape {}, the model expects {}", path.string(),
                                   name, shape_string(t.shape), shape_string(p.shape())));
    }
  }
  for (const auto& [name, p] : parameters_) read("model." + name, p);
  if (with_optimizer) {
    for (const auto& [name, s] : optimizer_->state()) read("optimizer." + name, s);
    std::int64_t steps = 0;
    const auto it = meta.find("steps");
    const std::string text = it == meta.end() ? "" : it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), steps);
    if (ec != std::errc() || end != text.data() + text.size() || steps < 0) {
      throw FileError(fmt::format("{}: metadata 'steps' is '{}', not a step count", path.string(), text));
    }
    optimizer_->set_steps(steps);
    if (precision_) {
      for (const auto& [name, s] : precision_->state()) read("amp." + name, s);
    }
  }
  if (precision_) precision_->refresh();
}

}  // namespace lowbit::train
