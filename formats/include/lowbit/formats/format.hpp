// The runtime registry: every format by its ml_dtypes name and short aliases, with its properties and
// conversions. One table (format.cpp) feeds the CLI and the file formats.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lowbit/formats/float_spec.hpp"
#include "lowbit/formats/integer.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit {

class Format {
 public:
  Format(std::string name, std::vector<std::string> aliases, std::variant<FloatSpec, IntegerSpec> spec,
         std::string description);

  const std::string& name() const { return name_; }  // the ml_dtypes name where ml_dtypes has the format
  const std::vector<std::string>& aliases() const { return aliases_; }
  const std::string& description() const { return description_; }
  bool is_float() const { return std::holds_alternative<FloatSpec>(spec_); }
  const FloatSpec& float_spec() const { return std::get<FloatSpec>(spec_); }
  const IntegerSpec& integer_spec() const { return std::get<IntegerSpec>(spec_); }
  int bits() const;
  std::uint64_t code_mask() const;

  // The exact value of a code; throws RangeError naming the pattern when it is wider than the format.
  Unpacked unpack(std::uint64_t code) const;
  // Round an exact value into a code of this format (one rounding).
  std::uint64_t pack(const Unpacked& value, const RoundOptions& options, Flags& flags) const;

  friend bool operator==(const Format& a, const Format& b) { return a.spec_ == b.spec_; }

 private:
  std::string name_;
  std::vector<std::string> aliases_;
  std::variant<FloatSpec, IntegerSpec> spec_;
  std::string description_;
};

// Looks up a format by name or alias, case-insensitively. Besides the listed formats it accepts the
// families intN / uintN / smintN (sign-magnitude), N = 1..32, and fixed point qM.N / uqM.N (TI Q notation).
// Throws UnknownFormatError naming the text and suggesting the nearest names.
Format find_format(std::string_view name);

// The formats `lowbit formats` lists: every float format and the common integer widths.
const std::vector<Format>& listed_formats();

// Converts one code between any two formats with a single rounding.
std::uint64_t convert(const Format& from, const Format& to, std::uint64_t code,
                      const RoundOptions& options = {}, Flags* flags = nullptr);

}  // namespace lowbit
