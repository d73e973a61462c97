#include "lowbit/formats/format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit {

[[noreturn]] void throw_too_wide(std::uint64_t bits, int width) {
  throw RangeError(fmt::format("bit pattern {:#x} is wider than the format's {} bits", bits, width));
}

Format::Format(std::string name, std::vector<std::string> aliases, std::variant<FloatSpec, IntegerSpec> spec,
               std::string description)
    : name_(std::move(name)),
      aliases_(std::move(aliases)),
      spec_(spec),
      description_(std::move(description)) {}

int Format::bits() const {
  return is_float() ? float_spec().bits() : integer_spec().bits;
}

std::uint64_t Format::code_mask() const {
  return is_float() ? float_spec().code_mask() : integer_spec().code_mask();
}

Unpacked Format::unpack(std::uint64_t code) const {
  if ((code & ~code_mask()) != 0) {
    throw RangeError(fmt::format("bit pattern {:#x} is wider than {} ({} bits)", code, name_, bits()));
  }
  return is_float() ? unpack_float(float_spec(), code) : unpack_integer(integer_spec(), code);
}

std::uint64_t Format::pack(const Unpacked& value, const RoundOptions& options, Flags& flags) const {
  return is_float() ? pack_float(float_spec(), value, options, flags)
                    : pack_integer(integer_spec(), value, options, flags);
}

std::uint64_t convert(const Format& from, const Format& to, std::uint64_t code, const RoundOptions& options,
                      Flags* flags) {
  Flags local;
  return to.pack(from.unpack(code), options, flags ? *flags : local);
}

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::vector<Format> make_listed_formats() {
  using S = std::vector<std::string>;
  std::vector<Format> formats = {
      {"float64", S{"fp64", "f64", "double"}, spec::float64, "IEEE 754 binary64"},
      {"float32", S{"fp32", "f32", "float"}, spec::float32, "IEEE 754 binary32"},
      {"float16", S{"fp16", "f16", "half"}, spec::float16, "IEEE 754 binary16"},
      {"bfloat16", S{"bf16"}, spec::bfloat16, "brain float: fp32's exponent, 7 fraction bits"},
      {"float8_e4m3fn", S{"e4m3fn", "fp8_e4m3fn", "e4m3"}, spec::float8_e4m3fn,
       "OCP FP8 E4M3: no inf, NaN at S.1111.111"},
      {"float8_e4m3", S{"e4m3_ieee"}, spec::float8_e4m3, "IEEE-style E4M3 with inf and NaNs"},
      {"float8_e4m3fnuz", S{"e4m3fnuz"}, spec::float8_e4m3fnuz, "E4M3, bias 8, no inf, no -0, NaN at 0x80"},
      {"float8_e4m3b11fnuz", S{"e4m3b11fnuz"}, spec::float8_e4m3b11fnuz,
       "E4M3, bias 11, no inf, no -0, NaN at 0x80"},
      {"float8_e5m2", S{"e5m2", "fp8_e5m2"}, spec::float8_e5m2, "OCP FP8 E5M2: IEEE-style with inf and NaNs"},
      {"float8_e5m2fnuz", S{"e5m2fnuz"}, spec::float8_e5m2fnuz, "E5M2, bias 16, no inf, no -0, NaN at 0x80"},
      {"float8_e3m4", S{"e3m4"}, spec::float8_e3m4, "IEEE-style E3M4 with inf and NaNs"},
      {"float6_e2m3fn", S{"e2m3", "fp6_e2m3"}, spec::float6_e2m3fn, "OCP MX FP6 E2M3: finite only"},
      {"float6_e3m2fn", S{"e3m2", "fp6_e3m2"}, spec::float6_e3m2fn, "OCP MX FP6 E3M2: finite only"},
      {"float4_e2m1fn", S{"e2m1", "fp4", "fp4_e2m1"}, spec::float4_e2m1fn, "OCP MX FP4 E2M1: finite only"},
      {"float8_e8m0fnu", S{"e8m0", "e8m0fnu"}, spec::float8_e8m0fnu,
       "OCP MX scale: unsigned powers of two 2^-127..2^127, NaN at 0xFF, no zero"},
  };
  for (int bits : {1, 2, 4, 8, 16, 32}) {
    formats.emplace_back(fmt::format("int{}", bits), S{fmt::format("i{}", bits), fmt::format("s{}", bits)},
                         IntegerSpec{bits, true}, fmt::format("{}-bit two's-complement integer", bits));
  }
  for (int bits : {1, 2, 4, 8, 16, 32}) {
    formats.emplace_back(fmt::format("uint{}", bits), S{fmt::format("u{}", bits)}, IntegerSpec{bits, false},
                         fmt::format("{}-bit unsigned integer", bits));
  }
  return formats;
}

std::optional<int> parse_small_int(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// intN, uintN, smintN, qM.N, uqM.N
std::optional<Format> parse_family(const std::string& name) {
  auto with_prefix = [&](std::string_view prefix) -> std::optional<int> {
    if (!name.starts_with(prefix)) return std::nullopt;
    return parse_small_int(std::string_view(name).substr(prefix.size()));
  };
  if (auto n = with_prefix("smint"); n && *n >= 2 && *n <= 32) {
    return Format(name, {}, IntegerSpec{*n, true, 0, IntEncoding::sign_magnitude},
                  fmt::format("{}-bit sign-magnitude integer", *n));
  }
  if (auto n = with_prefix("uint"); n && *n >= 1 && *n <= 32) {
    return Format(name, {}, IntegerSpec{*n, false}, fmt::format("{}-bit unsigned integer", *n));
  }
  if (auto n = with_prefix("int"); n && *n >= 1 && *n <= 32) {
    return Format(name, {}, IntegerSpec{*n, true}, fmt::format("{}-bit two's-complement integer", *n));
  }
  const bool is_unsigned = name.starts_with("uq");
  if (is_unsigned || name.starts_with("q")) {
    const std::string_view body = std::string_view(name).substr(is_unsigned ? 2 : 1);
    const auto dot = body.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto m = parse_small_int(body.substr(0, dot));
    const auto n = parse_small_int(body.substr(dot + 1));
    if (!m || !n) return std::nullopt;
    const int bits = (is_unsigned ? 0 : 1) + *m + *n;
    if (*m < 0 || *n < 0 || bits < 1 || bits > 32) return std::nullopt;
    return Format(name, {}, IntegerSpec{bits, !is_unsigned, *n},
                  fmt::format("{}fixed point, {} integer and {} fraction bits ({} bits)",
                              is_unsigned ? "unsigned " : "signed ", *m, *n, bits));
  }
  return std::nullopt;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const std::vector<Format>& listed_formats() {
  static const std::vector<Format> formats = make_listed_formats();
  return formats;
}

Format find_format(std::string_view text) {
  const std::string name = lower(text);
  for (const Format& f : listed_formats()) {
    if (f.name() == name || std::find(f.aliases().begin(), f.aliases().end(), name) != f.aliases().end())
      return f;
  }
  if (auto f = parse_family(name)) return *f;
  // Suggest the three nearest formats, each scored by the nearest of its names.
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const Format& f : listed_formats()) {
    std::size_t best = edit_distance(name, f.name());
    for (const auto& alias : f.aliases()) best = std::min(best, edit_distance(name, alias));
    scored.emplace_back(best, f.name());
  }
  std::stable_sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::string suggestions;
  for (std::size_t i = 0; i < std::min<std::size_t>(3, scored.size()); ++i)
    suggestions += (i ? ", " : "") + scored[i].second;
  throw UnknownFormatError(
      fmt::format("unknown format '{}' (did you mean {}? `lowbit formats` lists them all)", std::string(text),
                  suggestions));
}

}  // namespace lowbit
