// `lowbit train` and `lowbit eval`, run as a user runs them: a short run on part of Fashion-MNIST, the
// metrics file's layout, the checkpoint evaluated again, and every kind of bad input (exit code 2, a message
// naming the problem, no checkpoint or metrics file left behind).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_runner.hpp"

using lowbit::test::file_exists;
using lowbit::test::kFashionMnistDir;
using lowbit::test::list_dir;
using lowbit::test::read_file;
using lowbit::test::require_bad_input;
using lowbit::test::run_cli;
using lowbit::test::TempDir;
using lowbit::test::write_file;
using nlohmann::json;

TEST_CASE("train writes metrics and a checkpoint that eval reproduces", "[cli]") {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    WARN("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist); skipped");
    return;
  }
  TempDir dir;
  const auto r = run_cli({"train", "--model", "mlp", "--epochs", "2", "--train-limit", "3000", "--seed", "3",
                          "--save", dir.file("mlp.safetensors"), "--metrics", dir.file("m.json"), "--json"});
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const json out = json::parse(r.out);
  const json metrics = json::parse(read_file(dir.file("m.json")));
  CHECK(metrics == out);
  REQUIRE(metrics["epochs"].size() == 2);
  for (const char* key : {"train_loss", "test_loss", "test_accuracy", "step_time_ms"}) {
    CHECK(metrics["epochs"][1][key].is_number());
  }
  CHECK(metrics["test_accuracy"] == metrics["epochs"][1]["test_accuracy"]);
  // 3000 images, two epochs: well above chance (0.1) for an MLP.
  CHECK(metrics["test_accuracy"].get<double>() > 0.7);
  for (const char* category : {"weights", "gradients", "optimizer", "activations"}) {
    CHECK(metrics["memory"][category]["peak"].get<std::int64_t>() > 0);
    CHECK(metrics["memory"][category]["live"].is_number());
  }
  // Adam: weights, gradients and two moments of fp32 each.
  const std::int64_t params = metrics["parameters"];
  CHECK(metrics["memory"]["weights"]["live"].get<std::int64_t>() >= 4 * params);
  CHECK(metrics["memory"]["optimizer"]["live"].get<std::int64_t>() >= 8 * params);

  const auto e = run_cli({"eval", "--model", "mlp", "--load", dir.file("mlp.safetensors"), "--json"});
  INFO("eval stderr: " << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(json::parse(e.out)["test_accuracy"] == metrics["test_accuracy"]);

  SECTION("the same seed gives the same numbers") {
    const auto again = run_cli(
        {"train", "--model", "mlp", "--epochs", "2", "--train-limit", "3000", "--seed", "3", "--json"});
    REQUIRE(again.exit_code == 0);
    const json a = json::parse(again.out);
    CHECK(a["test_accuracy"] == metrics["test_accuracy"]);
    CHECK(a["epochs"][1]["train_loss"] == metrics["epochs"][1]["train_loss"]);
  }
  SECTION("a checkpoint of another model is refused") {
    require_bad_input(run_cli({"eval", "--model", "cnn", "--load", dir.file("mlp.safetensors")}), "mlp");
  }
  SECTION("a truncated checkpoint is refused, naming the file") {
    const std::string bytes = read_file(dir.file("mlp.safetensors"));
    write_file(dir.file("cut.safetensors"), bytes.substr(0, bytes.size() / 2));
    require_bad_input(run_cli({"eval", "--model", "mlp", "--load", dir.file("cut.safetensors")}),
                      "cut.safetensors");
  }
}

TEST_CASE("train rejects nonsense hyper-parameters before reading data or writing files", "[cli]") {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--epochs", "0"}, "--epochs"},
      {{"--batch", "64", "--grad-accum", "3"}, "--grad-accum"},
      {{"--lr", "-0.1"}, "--lr"},
      {{"--model", "resnet"}, "--model"},
      {{"--optimizer", "lbfgs"}, "--optimizer"},
      {{"--schedule", "linear"}, "linear"},
      {{"--checkpoint-segments", "0"}, "--checkpoint-segments"},
      {{"--device", "tpu"}, "--device tpu"},
      {{"--device", "cuda", "--gemm", "magma"}, "--gemm magma"},
      {{"--gemm", "cublas"}, "--device cuda only"},
  };
  for (const auto& [extra, needle] : cases) {
    std::vector<std::string> args{"train", "--save", dir.file("c.safetensors"), "--metrics",
                                  dir.file("m.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    require_bad_input(run_cli(args), needle);
  }
  CHECK(list_dir(dir.path()).empty());
}

TEST_CASE("train --device cuda without a GPU or a CUDA build says which is missing and exits 2", "[cli]") {
  TempDir dir;
  const auto r = run_cli(
      {"train", "--device", "cuda", "--epochs", "1", "--train-limit", "64", "--metrics", dir.file("m.json")});
  if (r.exit_code == 0) {
    WARN("a usable CUDA GPU is present: --device cuda ran (the gpu-labelled tests cover it)");
    return;
  }
  require_bad_input(r, "--device cuda");
  CHECK(list_dir(dir.path()).empty());
}

TEST_CASE("train with a missing or corrupt dataset fails clearly and writes nothing", "[cli]") {
  TempDir dir;
  require_bad_input(run_cli({"train", "--data", dir.file("nowhere"), "--save", dir.file("c.safetensors")}),
                    "dataset-fashion-mnist");
  // A dataset folder whose training images are truncated.
  const std::string data = dir.file("data");
  std::filesystem::create_directories(data);
  std::string images("\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
  images += std::string(1000, '\x10');
  write_file(data + "/train-images-idx3-ubyte", images);
  for (const char* name : {"train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    write_file(data + "/" + name, "");
  }
  require_bad_input(run_cli({"train", "--data", data, "--save", dir.file("c.safetensors"), "--metrics",
                             dir.file("m.json")}),
                    "train-images-idx3-ubyte");
  CHECK_FALSE(file_exists(dir.file("c.safetensors")));
  CHECK_FALSE(file_exists(dir.file("m.json")));
}
