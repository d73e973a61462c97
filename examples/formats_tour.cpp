// A short tour of lowbit's formats library: exact decoding, single-rounding encoding in every mode,
// flags, and the registry. Run by `bash scripts/run.sh demo`.
#include <fmt/format.h>

#include <string>

#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/format.hpp"

using namespace lowbit;

namespace {

std::string flag_names(Flags f) {
  std::string out;
  if (f.inexact()) out += " inexact";
  if (f.underflow()) out += " underflow";
  if (f.overflow()) out += " overflow";
  if (f.invalid()) out += " invalid";
  return out.empty() ? " -" : out;
}

void encode_row(const Format& format, const std::string& text, Rounding rounding = Rounding::nearest_even,
                Policy policy = Policy::ieee) {
  Flags flags;
  const std::uint64_t code = encode_number(format, text, {rounding, policy}, &flags);
  fmt::print("  {:<20} {:<14} {:<12} -> {:#06x} = {:<28} (shortest {}) flags:{}\n", format.name(), text,
             to_string(rounding), code, exact_decimal(format.unpack(code)), shortest_decimal(format, code),
             flag_names(flags));
}

}  // namespace

int main() {
  fmt::print("lowbit formats tour\n\n");
  fmt::print("Every listed format, with its largest finite value (exact):\n");
  for (const Format& f : listed_formats()) {
    if (!f.is_float()) continue;
    const auto& s = f.float_spec();
    fmt::print("  {:<20} {:>2} bits  e{}m{} bias {:<4} max {}\n", f.name(), f.bits(), s.exp_bits, s.man_bits,
               s.bias, exact_decimal(f.unpack(max_finite_code(s))));
  }

  fmt::print("\n0.1 in several formats, rounded once from the decimal text:\n");
  for (const char* name : {"fp32", "fp16", "bf16", "e4m3fn", "e5m2", "e2m1", "q3.4"})
    encode_row(find_format(name), "0.1");

  fmt::print("\nThe rounding modes on 1.3 into float8_e4m3fn:\n");
  for (Rounding r : {Rounding::nearest_even, Rounding::toward_zero, Rounding::up, Rounding::down,
                     Rounding::nearest_away, Rounding::odd}) {
    encode_row(find_format("e4m3fn"), "1.3", r);
  }

  fmt::print("\nOverflow under the two policies (500 into float8_e4m3fn; 1e6 into float8_e5m2):\n");
  encode_row(find_format("e4m3fn"), "500", Rounding::nearest_even, Policy::ieee);
  encode_row(find_format("e4m3fn"), "500", Rounding::nearest_even, Policy::saturate);
  encode_row(find_format("e5m2"), "1e6", Rounding::nearest_even, Policy::ieee);
  encode_row(find_format("e5m2"), "1e6", Rounding::nearest_even, Policy::saturate);

  fmt::print("\nNo double rounding: 1 + 2^-4 + 2^-30 as fp64 into float8_e4m3fn\n");
  const double x = 1.0 + 0x1p-4 + 0x1p-30;
  fmt::print("  direct (one rounding):          {}\n", float8_e4m3fn::from(x).to_double());
  fmt::print("  through fp32 (two roundings):   {}\n",
             float8_e4m3fn::from(static_cast<float>(x)).to_double());
  return 0;
}
