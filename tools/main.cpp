// lowbit: the command line. Thin: parses, calls the libraries, prints. Bad input: `error: ...` on stderr
// and exit code 2; internal failures: exit code 1.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "cli_common.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/atomic_file.hpp"

// The checkpoint commands (cmd_quantize.cpp, cmd_inspect.cpp, cmd_dequantize.cpp).
namespace lowbit::cli {
void add_quantize_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_dequantize_command(CLI::App& app);
}  // namespace lowbit::cli

int main(int argc, char** argv) {
  lowbit::train::remove_temporaries_on_signals();  // Ctrl-C leaves no temporary output behind
  CLI::App app{"lowbit: bit-exact number formats, quantization and low-precision training"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  lowbit formats\n"
      "  lowbit decode 0x7e --format e4m3fn\n"
      "  lowbit encode 0.1 --format bf16 --round toward-zero\n"
      "  lowbit encode 65519.99 --all\n"
      "  lowbit table e2m1 --csv\n"
      "  lowbit convert --from fp32 --to e4m3fn -i weights.f32 -o weights.e4m3\n"
      "  lowbit train --model cnn --epochs 15 --seed 1 --metrics cnn.json\n"
      "  lowbit quantize model.safetensors -o model-q8_0.gguf --scheme q8_0\n"
      "  lowbit inspect model-q8_0.gguf\n"
      "  lowbit train --model mlp --amp fp16 --loss-scale dynamic\n"
      "  lowbit amp policy --json\n"
      "Run `lowbit <command> --help` for each command's options.");
  lowbit::cli::add_formats_command(app);
  lowbit::cli::add_decode_command(app);
  lowbit::cli::add_encode_command(app);
  lowbit::cli::add_table_command(app);
  lowbit::cli::add_convert_command(app);
  lowbit::cli::add_train_command(app);
  lowbit::cli::add_eval_command(app);
  lowbit::cli::add_quantize_command(app);
  lowbit::cli::add_inspect_command(app);
  lowbit::cli::add_dequantize_command(app);
  lowbit::cli::add_amp_command(app);
  // CLI11 reports an unknown command as a missing one; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      fmt::print(stderr, "error: unknown command '{}' (commands: {})\n", argv[1], names);
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Point at the help of the (sub)command that was being parsed: `lowbit decode --help`, not the list.
    std::string command = app.get_name().empty() ? "lowbit" : app.get_name();
    for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
      at = at->get_subcommands().front();
      command += " " + at->get_name();
    }
    fmt::print(stderr, "error: {}\n(run `{} --help` for usage)\n", e.what(), command);
    return 2;
  } catch (const lowbit::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: internal failure: {}\n", e.what());
    return 1;
  }
  return 0;
}
