// `lowbit convert --from F --to G`: raw little-endian arrays, streamed in constant memory through the
// bulk (SIMD) path. The output file appears only when the whole input converted.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cli_common.hpp"
#include "lowbit/formats/bulk.hpp"
#include "output_file.hpp"

namespace lowbit::cli {
namespace {

constexpr std::size_t kChunkElements = std::size_t{1} << 22;  // 4 Mi elements: 16 MiB of fp32 per read

struct Args {
  std::string from, to, input = "-", output = "-";
  bool packed = false, json = false;
  RoundingArgs rounding;
};

// Elements narrower than 8 bits take a byte each, or with --packed two 4-bit elements per byte (first in
// the low nibble).
struct Layout {
  std::size_t element_bytes;
  bool packed;
};

Layout layout_of(const Format& f, bool packed) {
  return {element_bytes(f), packed && f.bits() == 4};
}

void unpack_nibbles(const std::uint8_t* in, std::size_t bytes, std::uint8_t* out) {
  for (std::size_t i = 0; i < bytes; ++i) {
    out[2 * i] = in[i] & 0xF;
    out[2 * i + 1] = in[i] >> 4;
  }
}

std::size_t pack_nibbles(const std::uint8_t* in, std::size_t count, std::uint8_t* out) {
  for (std::size_t i = 0; i < count; i += 2) {
    const std::uint8_t high = i + 1 < count ? in[i + 1] : 0;
    out[i / 2] = static_cast<std::uint8_t>(in[i] | (high << 4));
  }
  return (count + 1) / 2;
}

void run(const Args& args) {
  const Format from = find_format(args.from);
  const Format to = find_format(args.to);
  BulkOptions options;
  const RoundOptions round = args.rounding.options();
  options.rounding = round.rounding;
  options.policy = round.policy;
  options.seed = args.rounding.seed;
  if (args.json && args.output == "-") {
    throw RangeError(
        "--json prints a summary on stdout, which carries the converted array without -o; give -o FILE");
  }
  if (args.packed && from.bits() != 4 && to.bits() != 4) {
    throw RangeError(fmt::format("--packed applies to 4-bit formats; neither {} nor {} has 4 bits",
                                 from.name(), to.name()));
  }
  const Layout in_layout = layout_of(from, args.packed), out_layout = layout_of(to, args.packed);

  const bool from_stdin = args.input == "-";
  const int fd = from_stdin ? STDIN_FILENO : ::open(args.input.c_str(), O_RDONLY);
  if (fd < 0) throw Error(fmt::format("cannot open input '{}': {}", args.input, std::strerror(errno)));
  struct Closer {
    int fd;
    bool owned;
    ~Closer() {
      if (owned) ::close(fd);
    }
  } closer{fd, !from_stdin};
  // A regular file's size is checked before anything is written.
  const std::size_t unit = in_layout.packed ? 1 : in_layout.element_bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) % unit != 0) {
    throw RangeError(fmt::format("input '{}' has {} bytes, not a whole number of {}-byte {} elements",
                                 args.input, st.st_size, unit, from.name()));
  }

  // Progress on stderr for long runs, only when a person is watching and the size is known.
  const bool show_progress = ::isatty(STDERR_FILENO) && S_ISREG(st.st_mode) && st.st_size > (64 << 20);
  const double total_bytes = static_cast<double>(st.st_size);

  AtomicOutput out(args.output);
  const std::size_t in_chunk_bytes =
      in_layout.packed ? kChunkElements / 2 : kChunkElements * in_layout.element_bytes;
  std::vector<std::uint8_t> in_buffer(in_chunk_bytes), unpacked(in_layout.packed ? kChunkElements : 0);
  std::vector<std::uint8_t> out_buffer(kChunkElements * out_layout.element_bytes);
  std::vector<std::uint8_t> packed_out(out_layout.packed ? kChunkElements / 2 + 1 : 0);
  std::uint64_t done = 0;
  for (;;) {
    const std::size_t got = read_fully(fd, in_buffer.data(), in_buffer.size(), args.input);
    if (got == 0) break;
    if (got % unit != 0) {
      throw RangeError(fmt::format(
          "input '{}' ended inside an element: {} bytes, not a whole number of {}-byte {} elements",
          args.input, done * unit + got, unit, from.name()));
    }
    const std::uint8_t* src = in_buffer.data();
    std::size_t count = got / unit;
    if (in_layout.packed) {
      unpack_nibbles(in_buffer.data(), got, unpacked.data());
      src = unpacked.data();
      count = got * 2;
    }
    options.first_index = done;
    try {
      convert_bulk(from, src, to, out_buffer.data(), count, options);
    } catch (const RangeError& e) {
      throw RangeError(fmt::format("input '{}', element {}: {}", args.input, done, e.what()));
    }
    if (out_layout.packed) {
      out.write(packed_out.data(), pack_nibbles(out_buffer.data(), count, packed_out.data()));
    } else {
      out.write(out_buffer.data(), count * out_layout.element_bytes);
    }
    done += count;
    if (show_progress) {
      fmt::print(stderr, "\rconvert {} -> {}: {:5.1f}%", from.name(), to.name(),
                 100.0 * static_cast<double>(done * unit / (in_layout.packed ? 2 : 1)) / total_bytes);
    }
    if (got < in_buffer.size()) break;
  }
  if (show_progress) fmt::print(stderr, "\n");
  out.commit();
  if (args.json) {
    const std::uint64_t out_bytes =
        out_layout.packed ? (done + 1) / 2 : done * static_cast<std::uint64_t>(out_layout.element_bytes);
    print_json({{"from", from.name()},
                {"to", to.name()},
                {"input", args.input},
                {"output", args.output},
                {"elements", done},
                {"input_bytes", in_layout.packed ? (done + 1) / 2 : done * unit},
                {"output_bytes", out_bytes},
                {"packed", args.packed},
                {"round", std::string(to_string(round.rounding))},
                {"policy", std::string(to_string(round.policy))}});
  }
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a raw little-endian array between formats (streaming)");
  auto args = std::make_shared<Args>();
  cmd->add_option("--from", args->from, "source format")->required();
  cmd->add_option("--to", args->to, "target format")->required();
  cmd->add_option("-i,--input", args->input, "input file (default: stdin)");
  cmd->add_option("-o,--output", args->output, "output file (default: stdout); written whole or not at all");
  cmd->add_flag("--packed", args->packed,
                "4-bit formats two per byte, first in the low nibble (else one per byte)");
  args->rounding.add_to(*cmd);
  cmd->add_flag("--json", args->json,
                "after writing -o FILE, print a summary (elements, bytes, rounding) as JSON");
  cmd->footer(
      "Examples:\n  lowbit convert --from fp32 --to e4m3fn -i w.f32 -o w.e4m3fn\n"
      "  lowbit convert --from fp32 --to e2m1 --packed --round stochastic --seed 7 < w.f32 > w.fp4\n"
      "  lowbit convert --from bf16 --to fp32 -i w.bf16 | od -f | head\n"
      "  lowbit convert --from fp32 --to bf16 -i w.f32 -o w.bf16 --json");
  cmd->callback([args] { run(*args); });
}

}  // namespace lowbit::cli
