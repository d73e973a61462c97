// Exact decimal output and correctly rounded parsing, through Boost.Multiprecision's exact integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lowbit/formats/format.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit {

// The exact decimal expansion of a value (every binary fraction has a finite one): positional notation
// for decimal exponents in [-7, 21), else d.ddd...e±N with all digits. "inf", "-inf", "nan", "-0".
std::string exact_decimal(const Unpacked& value);

// The value rounded to `digits` significant digits (half away from zero), in printf %g style: for
// tables and error reports, where the exact expansion is too long.
std::string rounded_decimal(const Unpacked& value, int digits = 6);

// The shortest decimal string that reads back (nearest-even) to exactly this code of the format; among
// equally short strings, the nearest to the value.
std::string shortest_decimal(const Format& format, std::uint64_t code);

// Parses a number to its exact value (sticky bit for digits past 64 significant bits), so packing it
// afterwards is a single correct rounding. Grammar: optional sign, then decimal (`12`, `0.1`, `-1e-9`,
// `.5E+3`), hexadecimal float (`0x1.8p3`, `0x10`), a fraction of decimal integers (`1/3`), `inf`,
// `infinity` or `nan`. Digit separators `_` and `'` are allowed between digits. Throws ParseError
// pointing at the first bad character.
Unpacked parse_number(std::string_view text);

// value(code) - number(text) (absolute) and its size relative to |number(text)|, each rounded to
// `digits` significant digits, computed exactly; nullopt for non-finite values and for texts beyond
// 10^+-400 (outside every format).
struct RoundingError {
  std::string absolute;
  std::string relative;
};
std::optional<RoundingError> rounding_error(const Format& format, std::uint64_t code, std::string_view text,
                                            int digits = 6);

// parse_number + pack, one rounding: the code of `text` in `format`.
std::uint64_t encode_number(const Format& format, std::string_view text, const RoundOptions& options = {},
                            Flags* flags = nullptr);

}  // namespace lowbit
