#include "lowbit/formats/describe.hpp"

#include <fmt/format.h>

#include <bit>
#include <cctype>

#include "lowbit/formats/error.hpp"

namespace lowbit {

std::vector<std::string> flag_names(Flags flags) {
  std::vector<std::string> names;
  if (flags.inexact()) names.emplace_back("inexact");
  if (flags.underflow()) names.emplace_back("underflow");
  if (flags.overflow()) names.emplace_back("overflow");
  if (flags.invalid()) names.emplace_back("invalid");
  return names;
}

std::string hex_code(const Format& format, std::uint64_t code) {
  return fmt::format("0x{:0{}x}", code, (format.bits() + 3) / 4);
}

std::string kind_name(const Format& format, std::uint64_t code) {
  if (format.is_float()) {
    switch (classify(format.float_spec(), code)) {
      case FloatClass::zero:
        return "zero";
      case FloatClass::subnormal:
        return "subnormal";
      case FloatClass::normal:
        return "normal";
      case FloatClass::inf:
        return "inf";
      case FloatClass::nan:
        return "nan";
    }
  }
  if (format.unpack(code).kind == Unpacked::Kind::zero) return "zero";
  return format.integer_spec().frac_bits > 0 ? "fixed" : "integer";
}

namespace {

std::string binary_fields(const Format& format, std::uint64_t code) {
  std::vector<int> widths;  // most significant field first
  if (format.is_float()) {
    const FloatSpec& s = format.float_spec();
    if (s.is_signed) widths.push_back(1);
    widths.push_back(s.exp_bits);
    if (s.man_bits > 0) widths.push_back(s.man_bits);
  } else {
    const IntegerSpec& s = format.integer_spec();
    if (s.encoding == IntEncoding::sign_magnitude)
      widths = {1, s.bits - 1};
    else
      widths = {s.bits};
  }
  std::string out;
  int position = format.bits();
  for (int width : widths) {
    if (!out.empty()) out += '_';
    for (int i = 0; i < width; ++i) out += ((code >> (--position)) & 1) ? '1' : '0';
  }
  return out;
}

CodeValue code_value(const Format& format, std::uint64_t code) {
  return {code, exact_decimal(format.unpack(code))};
}

std::optional<std::string> fp64_hexfloat(const Unpacked& v) {
  if (v.kind == Unpacked::Kind::nan) return std::nullopt;
  Flags flags;
  const auto bits = pack_float(spec::float64, v, {}, flags);
  if (flags.inexact()) return std::nullopt;
  return fmt::format("{:a}", std::bit_cast<double>(bits));
}

}  // namespace

CodeDescription describe_code(const Format& format, std::uint64_t code) {
  const Unpacked v = format.unpack(code);  // validates the width
  CodeDescription d;
  d.format = format.name();
  d.bits = format.bits();
  d.code = code;
  d.hex = hex_code(format, code);
  d.binary = binary_fields(format, code);
  d.kind = kind_name(format, code);
  d.negative = v.negative;
  d.exact = exact_decimal(v);
  d.shortest = shortest_decimal(format, code);
  d.hexfloat = fp64_hexfloat(v);
  if (format.is_float()) {
    const FloatSpec& s = format.float_spec();
    const std::uint64_t magnitude = code & s.magnitude_mask();
    d.exponent_field = magnitude >> s.man_bits;
    d.mantissa_field = magnitude & s.man_mask();
    const bool subnormal_or_zero = s.has_subnormals && *d.exponent_field == 0;
    if (d.kind != "inf" && d.kind != "nan") {
      d.exponent = subnormal_or_zero ? s.emin() : static_cast<int>(*d.exponent_field) - s.bias;
      const Unpacked significand = Unpacked::from_integer(
          false, (subnormal_or_zero ? 0 : 1ull << s.man_bits) | *d.mantissa_field, -s.man_bits);
      d.significand = *d.mantissa_field == 0 && subnormal_or_zero ? "0" : exact_decimal(significand);
    }
    if (const auto u = ulp(s, code)) d.ulp = exact_decimal(*u);
    if (const auto p = next_down(s, code)) d.previous = code_value(format, *p);
    if (const auto n = next_up(s, code)) d.next = code_value(format, *n);
  } else {
    const IntegerSpec& s = format.integer_spec();
    d.ulp = exact_decimal(Unpacked::from_integer(false, 1, -s.frac_bits));
    const RoundOptions saturating{Rounding::nearest_even, Policy::saturate};
    // Integer neighbours by value: one unit of the last place down and up, computed exactly through a
    // wider fixed-point format with the same fraction bits (48 bits hold every 32-bit format's range +-1).
    const IntegerSpec wide{48, true, s.frac_bits};
    Flags flags;
    const std::uint64_t scaled = pack_integer(wide, v, {}, flags);
    for (const std::uint64_t step : {~0ull, 1ull}) {  // -1, +1 modulo 2^64
      const Unpacked target = unpack_integer(wide, (scaled + step) & wide.code_mask());
      const bool down = step != 1;
      Flags step_flags;
      const std::uint64_t neighbour = pack_integer(s, target, saturating, step_flags);
      if (step_flags.any() || neighbour == code) continue;
      (down ? d.previous : d.next) = code_value(format, neighbour);
    }
  }
  return d;
}

std::uint64_t parse_code(const Format& format, std::string_view text) {
  auto fail = [&](const std::string& what, std::size_t at) -> std::uint64_t {
    throw ParseError(fmt::format("malformed bit pattern '{}': {} at character {}", text, what, at + 1), at);
  };
  std::size_t pos = 0;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    base = 16, pos = 2;
  else if (text.size() > 2 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B'))
    base = 2, pos = 2;
  if (pos >= text.size()) return fail("expected digits", pos);
  std::uint64_t value = 0;
  int digits = 0;
  for (; pos < text.size(); ++pos) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[pos])));
    if ((c == '_' || c == '\'') && digits > 0 && pos + 1 < text.size()) continue;
    int d = -1;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    if (d < 0 || d >= base) return fail(fmt::format("'{}' is not a base-{} digit", text[pos], base), pos);
    if (value > (~0ull - static_cast<std::uint64_t>(d)) / static_cast<std::uint64_t>(base)) {
      throw RangeError(
          fmt::format("bit pattern '{}' is wider than {} ({} bits)", text, format.name(), format.bits()));
    }
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    ++digits;
  }
  if ((value & ~format.code_mask()) != 0) {
    throw RangeError(
        fmt::format("bit pattern '{}' is wider than {} ({} bits)", text, format.name(), format.bits()));
  }
  return value;
}

EncodeResult encode_value(const Format& format, std::string_view text, const RoundOptions& options) {
  const Unpacked value = parse_number(text);
  EncodeResult r;
  r.format = format.name();
  r.input = std::string(text);
  r.code = format.pack(value, options, r.flags);
  r.hex = hex_code(format, r.code);
  r.kind = kind_name(format, r.code);
  r.exact = exact_decimal(format.unpack(r.code));
  r.error = rounding_error(format, r.code, text);
  Flags ignored;
  r.below = code_value(format, format.pack(value, {Rounding::down, options.policy}, ignored));
  r.above = code_value(format, format.pack(value, {Rounding::up, options.policy}, ignored));
  return r;
}

}  // namespace lowbit
