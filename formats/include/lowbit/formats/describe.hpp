// Everything a person asks of one code ("what is this float?") and of one value ("what does it become?"),
// computed by the library so the CLI only prints it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_queries.hpp"
#include "lowbit/formats/format.hpp"

namespace lowbit {

struct CodeValue {
  std::uint64_t code = 0;
  std::string exact;  // exact decimal
};

struct CodeDescription {
  std::string format;
  int bits = 0;
  std::uint64_t code = 0;
  std::string hex;     // 0x-prefixed, zero-padded to the format's width
  std::string binary;  // fields separated by '_': sign_exponent_mantissa (floats), sign_magnitude (sm ints)
  std::string kind;    // zero, subnormal, normal, inf, nan (floats); zero, integer, fixed (integers)
  bool negative = false;
  // Float fields (empty for integers).
  std::optional<std::uint64_t> exponent_field, mantissa_field;
  std::optional<int> exponent;             // unbiased, as used by the value (emin for subnormals)
  std::optional<std::string> significand;  // exact: 1.fraction or 0.fraction
  std::string exact, shortest;
  std::optional<std::string> hexfloat;      // the value as an fp64 hex-float, when fp64 holds it exactly
  std::optional<std::string> ulp;           // exact decimal
  std::optional<CodeValue> previous, next;  // nextDown / nextUp
};

CodeDescription describe_code(const Format& format, std::uint64_t code);

// Reads BITS as hex (0x7e), binary (0b0_1111_110; '_' and '\'' allowed) or a decimal integer; throws
// ParseError naming the text, RangeError when it is wider than the format.
std::uint64_t parse_code(const Format& format, std::string_view text);

struct EncodeResult {
  std::string format;
  std::string input;
  std::uint64_t code = 0;
  std::string hex;
  std::string kind;
  std::string exact;
  Flags flags;
  std::optional<RoundingError> error;
  CodeValue below, above;  // the codes just below and above the value (round down / round up)
};

EncodeResult encode_value(const Format& format, std::string_view text, const RoundOptions& options);

std::vector<std::string> flag_names(Flags flags);
std::string kind_name(const Format& format, std::uint64_t code);
std::string hex_code(const Format& format, std::uint64_t code);

}  // namespace lowbit
