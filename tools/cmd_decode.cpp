// `lowbit decode BITS --format F`: every field of one code, its exact value and its neighbours.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "cli_common.hpp"
#include "lowbit/formats/block.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::cli {
namespace {

nlohmann::json to_json(const CodeDescription& d) {
  nlohmann::json j;
  j["format"] = d.format;
  j["width"] = d.bits;
  j["bits"] = d.hex;
  j["binary"] = d.binary;
  j["class"] = d.kind;
  j["sign"] = d.negative ? 1 : 0;
  if (d.exponent_field) j["exponent_field"] = *d.exponent_field;
  if (d.exponent) j["exponent"] = *d.exponent;
  if (d.mantissa_field) j["mantissa_field"] = *d.mantissa_field;
  if (d.significand) j["significand"] = *d.significand;
  j["exact"] = d.exact;
  j["shortest"] = d.shortest;
  j["hexfloat"] = d.hexfloat ? nlohmann::json(*d.hexfloat) : nlohmann::json();
  j["ulp"] = d.ulp ? nlohmann::json(*d.ulp) : nlohmann::json();
  auto neighbour = [](const std::optional<CodeValue>& n, int width) -> nlohmann::json {
    if (!n) return nullptr;
    return {{"bits", fmt::format("0x{:0{}x}", n->code, (width + 3) / 4)}, {"exact", n->exact}};
  };
  j["previous"] = neighbour(d.previous, d.bits);
  j["next"] = neighbour(d.next, d.bits);
  return j;
}

std::string neighbour_text(const std::optional<CodeValue>& n, int width, const char* none) {
  if (!n) return none;
  return fmt::format("0x{:0{}x}  {}", n->code, (width + 3) / 4, n->exact);
}

void print_text(const Format& format, const CodeDescription& d) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("format", fmt::format("{} ({} bits)", d.format, d.bits));
  rows.emplace_back("bits", fmt::format("{}  {}", d.hex, d.binary));
  rows.emplace_back("sign", d.negative ? "1 (-)" : "0 (+)");
  if (format.is_float()) {
    const FloatSpec& s = format.float_spec();
    const std::string field_bits = d.binary.substr(s.is_signed ? 2 : 0, static_cast<std::size_t>(s.exp_bits));
    std::string exponent = fmt::format("{} = {}", field_bits, *d.exponent_field);
    if (d.exponent) exponent += fmt::format(", unbiased {} (bias {})", *d.exponent, s.bias);
    rows.emplace_back("exponent", exponent);
    if (s.man_bits > 0) {
      std::string mantissa =
          fmt::format("{} = {}", d.binary.substr(d.binary.size() - static_cast<std::size_t>(s.man_bits)),
                      *d.mantissa_field);
      if (d.significand) mantissa += fmt::format(", significand {}", *d.significand);
      rows.emplace_back("mantissa", mantissa);
    }
  }
  rows.emplace_back("class", d.kind);
  rows.emplace_back("exact", d.exact);
  rows.emplace_back("shortest", d.shortest);
  rows.emplace_back("hexfloat", d.hexfloat.value_or("-"));
  rows.emplace_back("ulp", d.ulp.value_or("-"));
  rows.emplace_back("previous", neighbour_text(d.previous, d.bits, "- (no smaller value)"));
  rows.emplace_back("next", neighbour_text(d.next, d.bits, "- (no larger value)"));
  print_rows(rows);
}

// A whole block as hex bytes ("0x7f3a...", spaces and '_' allowed): scale byte first, then packed elements.
std::vector<std::uint8_t> parse_hex_bytes(const std::string& text) {
  std::string digits;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
      ++i;
      continue;
    }
    if (c == ' ' || c == '_' || c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      throw ParseError(
          fmt::format("malformed block bytes '{}': '{}' is not a hex digit at character {}", text, c, i + 1),
          i);
    }
    digits += c;
  }
  if (digits.empty() || digits.size() % 2 != 0) {
    throw ParseError(
        fmt::format("malformed block bytes '{}': expected whole bytes of hex digits, got {} digits", text,
                    digits.size()),
        text.size());
  }
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < digits.size(); i += 2)
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return bytes;
}

void decode_block_command(const BlockFormat& format, const std::string& text, float tensor_scale, bool json) {
  const DecodedBlock block = decode_block(format, parse_hex_bytes(text), tensor_scale);
  const Format& element = format.element_format();
  if (json) {
    nlohmann::json elements = nlohmann::json::array();
    for (std::size_t i = 0; i < block.codes.size(); ++i) {
      elements.push_back({{"bits", hex_code(element, block.codes[i])},
                          {"element", exact_decimal(element.unpack(block.codes[i]))},
                          {"exact", exact_decimal(block.exact[i])}});
    }
    print_json({{"decode",
                 {{"format", format.name()},
                  {"element_format", element.name()},
                  {"scale_format", format.scale_format().name()},
                  {"scale_bits", hex_code(format.scale_format(), block.scale_code)},
                  {"scale", exact_decimal(block.scale)},
                  {"tensor_scale", tensor_scale},
                  {"elements", elements}}}});
    return;
  }
  print_rows({{"format", fmt::format("{} ({} x {} + {} scale)", format.name(), format.block_size(),
                                     element.name(), format.scale_format().name())},
              {"scale", fmt::format("{}  {}", hex_code(format.scale_format(), block.scale_code),
                                    exact_decimal(block.scale))},
              {"elements", std::to_string(block.codes.size())}});
  for (std::size_t i = 0; i < block.codes.size(); ++i) {
    fmt::print("  [{:>2}] {}  {:<10} -> {}\n", i, hex_code(element, block.codes[i]),
               exact_decimal(element.unpack(block.codes[i])), exact_decimal(block.exact[i]));
  }
}

}  // namespace

void add_decode_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("decode", "Show the fields, class, exact value and neighbours of a bit pattern");
  struct Args {
    std::string bits, format;
    float tensor_scale = 1.0f;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("BITS", args->bits, "hex (0x7e), binary (0b0_1111_110) or decimal integer")->required();
  cmd->add_option("-f,--format", args->format, "any format name (`lowbit formats` lists them)")->required();
  cmd->add_flag("--json", args->json, "one JSON document on stdout");
  cmd->add_option("--tensor-scale", args->tensor_scale, "NVFP4: the fp32 per-tensor scale (default 1)");
  cmd->footer(
      "Examples:\n  lowbit decode 0x7e --format e4m3fn\n  lowbit decode 0b0_11110_00 --format e5m2\n"
      "  lowbit decode 0x3dcccccd --format fp32 --json\n"
      "  lowbit decode 0x7f_21436587 --format mxfp4   (block formats: scale byte, then packed elements)");
  cmd->callback([args] {
    // Block formats (mxfp4, nvfp4, ...) have their own registry; a name unknown to both gets the
    // element registry's error, with its suggestions.
    std::optional<Format> format;
    try {
      format = find_format(args->format);
    } catch (const UnknownFormatError&) {
      try {
        const BlockFormat& block = find_block_format(args->format);
        decode_block_command(block, args->bits, args->tensor_scale, args->json);
        return;
      } catch (const UnknownFormatError&) {
      }
      throw;
    }
    const CodeDescription d = describe_code(*format, parse_code(*format, args->bits));
    if (args->json) {
      print_json({{"decode", to_json(d)}});
    } else {
      print_text(*format, d);
    }
  });
}

}  // namespace lowbit::cli
