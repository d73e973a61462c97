// `lowbit amp policy` and `lowbit train --amp ...`, run as a user runs them: the effective lists as text and
// JSON, edits from the command line and a file, a short mixed-precision run's metrics (loss-scale history,
// skipped steps, bytes per parameter), and bad input (exit code 2 with a message naming it).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_runner.hpp"

using lowbit::test::file_exists;
using lowbit::test::kFashionMnistDir;
using lowbit::test::read_file;
using lowbit::test::require_bad_input;
using lowbit::test::run_cli;
using lowbit::test::TempDir;
using lowbit::test::write_file;
using nlohmann::json;

TEST_CASE("amp policy prints the allow, deny and promote lists as JSON and text", "[cli]") {
  const auto r = run_cli({"amp", "policy", "--json"});
  REQUIRE(r.exit_code == 0);
  const json doc = json::parse(r.out);
  CHECK(doc["dtype"] == "bfloat16");
  CHECK(doc["allow"] == json({"bmm", "conv2d", "linear", "matmul"}));
  CHECK(doc["deny"].size() == 8);
  CHECK(doc["promote"] == json({"add", "concat", "div", "mul", "sub"}));
  const auto text = run_cli({"amp", "policy"});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("allow") && Catch::Contains("conv2d") && Catch::Contains("promote"));
}

TEST_CASE("amp policy applies --amp-allow, --amp-deny and an --amp-policy file", "[cli]") {
  TempDir dir;
  write_file(dir.file("p.json"), R"({"promote": ["concat"]})");
  const auto r = run_cli({"amp", "policy", "--json", "--amp", "fp16", "--amp-policy", dir.file("p.json"),
                          "--amp-allow", "softmax,relu", "--amp-deny", "matmul"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json doc = json::parse(r.out);
  CHECK(doc["dtype"] == "float16");
  CHECK(doc["allow"] == json({"bmm", "conv2d", "linear", "relu", "softmax"}));
  CHECK(doc["promote"] == json({"concat"}));
  CHECK(std::find(doc["deny"].begin(), doc["deny"].end(), "matmul") != doc["deny"].end());
  require_bad_input(run_cli({"amp", "policy", "--amp-allow", "flash_attention"}), "'flash_attention'");
  require_bad_input(run_cli({"amp", "policy", "--amp-policy", dir.file("missing.json")}), "missing.json");
  write_file(dir.file("bad.json"), R"({"allow": ["linear"], "deny": ["linear"]})");
  require_bad_input(run_cli({"amp", "policy", "--amp-policy", dir.file("bad.json")}), "'linear'");
}

TEST_CASE("train with --amp fp16 reports the loss-scale history, skipped steps and the AMP memory layout",
          "[cli]") {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    WARN("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist); skipped");
    return;
  }
  TempDir dir;
  const auto r = run_cli({"train", "--model", "mlp", "--epochs", "2", "--train-limit", "640", "--amp", "fp16",
                          "--loss-scale", "dynamic", "--metrics", dir.file("m.json"), "--save",
                          dir.file("m.safetensors")});
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("fp16") && Catch::Contains("master_weights"));
  const json m = json::parse(read_file(dir.file("m.json")));
  CHECK(m["amp"] == "fp16");
  CHECK(m["loss_scale"] == "dynamic");
  CHECK(m["scale_history"].size() == 2);
  CHECK(m["scale_history"][0].get<double>() <= 65536.0);
  CHECK(m["skipped_steps"].get<std::int64_t>() >= 0);
  CHECK(m["epochs"][0].contains("skipped_steps"));
  CHECK(m["bytes_per_parameter"]["master_weights"] == 4.0);
  CHECK(m["bytes_per_parameter"]["weights"] == 2.0);
  CHECK(m["bytes_per_parameter"]["gradients"] == 2.0);
  CHECK(m["bytes_per_parameter"]["optimizer"] == 8.0);
  // The checkpoint holds float32 masters, so plain `eval` reads it; evaluated in float32 rather than
  // float16 the accuracy moves by a few images at most.
  const auto e = run_cli({"eval", "--model", "mlp", "--load", dir.file("m.safetensors"), "--json"});
  REQUIRE(e.exit_code == 0);
  CHECK(json::parse(e.out)["test_accuracy"].get<double>() ==
        Approx(m["test_accuracy"].get<double>()).margin(0.005));
}

TEST_CASE("train rejects bad AMP options with exit code 2 before writing anything", "[cli]") {
  TempDir dir;
  const std::string metrics = dir.file("m.json");
  require_bad_input(run_cli({"train", "--amp", "fp4", "--metrics", metrics}), "fp4");
  require_bad_input(run_cli({"train", "--amp", "fp16", "--loss-scale", "static:0", "--metrics", metrics}),
                    "static:0");
  require_bad_input(run_cli({"train", "--loss-scale", "dynamic", "--metrics", metrics}), "--amp");
  require_bad_input(run_cli({"train", "--amp", "fp8", "--fp8-scaling", "blockwise", "--metrics", metrics}),
                    "blockwise");
  require_bad_input(run_cli({"train", "--amp", "bf16", "--amp-deny", "nonsense", "--metrics", metrics}),
                    "'nonsense'");
  CHECK_FALSE(file_exists(metrics));
}
