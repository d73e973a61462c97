#include "lowbit/formats/decimal.hpp"

#include <fmt/format.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <cctype>
#include <optional>

#include "lowbit/formats/error.hpp"

namespace lowbit {
namespace {

using BigInt = boost::multiprecision::cpp_int;
using Rational = boost::multiprecision::cpp_rational;

// Exponents beyond these put any value far outside every format (fp64 spans 2^-1074..2^1024), so parsing
// stops computing there: the value becomes a huge or tiny stand-in that rounds the same way.
constexpr long kMaxDecimalExponent = 400;
constexpr int kHugeBinaryExponent = 1 << 20;

// The exact value num / den * 2^scale (num, den > 0) as an Unpacked with 64 significant bits + sticky.
Unpacked from_ratio(bool negative, const BigInt& num, const BigInt& den, long scale) {
  const long num_bits = static_cast<long>(boost::multiprecision::msb(num));
  const long den_bits = static_cast<long>(boost::multiprecision::msb(den));
  // Shift so the quotient has 64 or 65 significant bits.
  const long shift = 64 - (num_bits - den_bits);
  BigInt q, r;
  if (shift >= 0) {
    boost::multiprecision::divide_qr(BigInt(num << shift), den, q, r);
  } else {
    boost::multiprecision::divide_qr(num, BigInt(den << -shift), q, r);
  }
  bool sticky = r != 0;
  // The leading bit of q has weight 2^(q_bits - 1 - shift) in the value, before any narrowing of q.
  const long q_bits = static_cast<long>(boost::multiprecision::msb(q)) + 1;
  const long exp = q_bits - 1 - shift + scale;
  if (q_bits > 64) {
    sticky = sticky || bit_test(q, 0);
    q >>= 1;
  }
  Unpacked v = Unpacked::from_integer(negative, static_cast<std::uint64_t>(q), 0);
  v.sticky = sticky;
  v.exp = static_cast<std::int32_t>(std::clamp<long>(exp, -kHugeBinaryExponent, kHugeBinaryExponent));
  return v;
}

BigInt pow10(long n) {
  return boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(n));
}

}  // namespace

// A parsed number, exact: value = num / den * 2^exp2 (num, den > 0 for finite nonzero values).
// Values beyond 10^+-kMaxDecimalExponent are not computed: `out_of_range` is +1 (huge) or -1 (tiny).
struct ExactNumber {
  Unpacked::Kind kind = Unpacked::Kind::zero;
  bool negative = false;
  BigInt num = 0, den = 1;
  long exp2 = 0;
  int out_of_range = 0;
};

namespace {

ExactNumber finite(bool negative, BigInt num, BigInt den, long exp2) {
  return {Unpacked::Kind::finite, negative, std::move(num), std::move(den), exp2, 0};
}
ExactNumber special(Unpacked::Kind kind, bool negative) {
  return {kind, negative, 0, 1, 0, 0};
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ExactNumber parse() {
    if (text_.empty()) fail("empty number", 0);
    bool negative = false;
    if (peek() == '+' || peek() == '-') negative = text_[pos_++] == '-';
    const std::string rest = lower(text_.substr(pos_));
    if (rest == "inf" || rest == "infinity") return special(Unpacked::Kind::inf, negative);
    if (rest == "nan") return special(Unpacked::Kind::nan, negative);
    if (rest.starts_with("0x")) return parse_hex(negative);
    BigInt num;
    long exponent10 = 0;
    const std::size_t numerator_start = pos_;
    parse_decimal(num, exponent10, /*allow_fraction=*/true, /*allow_exponent=*/true);
    if (pos_ < text_.size() && peek() == '/') {
      // A fraction is of decimal integers: point at a '.' or exponent in its numerator.
      const std::size_t bad = text_.substr(numerator_start, pos_ - numerator_start).find_first_of(".eE");
      if (bad != std::string_view::npos) {
        fail(fmt::format("a fraction takes integers ('{}')", text_[numerator_start + bad]),
             numerator_start + bad);
      }
      ++pos_;
      BigInt den;
      long den_exponent10 = 0;
      const std::size_t den_start = pos_;
      parse_decimal(den, den_exponent10, false, false);
      finish();
      if (den == 0) fail("division by zero in fraction", den_start);
      if (num == 0) return special(Unpacked::Kind::zero, negative);
      return finite(negative, num, den, 0);
    }
    finish();
    if (num == 0) return special(Unpacked::Kind::zero, negative);
    // Far outside every format: skip the huge powers of ten.
    const long digits = static_cast<long>(num.str().size());
    if (exponent10 + digits > kMaxDecimalExponent || exponent10 + digits < -kMaxDecimalExponent) {
      ExactNumber out = finite(negative, 1, 1, 0);
      out.out_of_range = exponent10 > 0 ? 1 : -1;
      return out;
    }
    if (exponent10 >= 0) return finite(negative, num * pow10(exponent10), 1, 0);
    return finite(negative, num, pow10(-exponent10), 0);
  }

 private:
  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  char peek() const { return text_[pos_]; }
  [[noreturn]] void fail(const std::string& what, std::size_t at) const {
    throw ParseError(fmt::format("malformed number '{}': {} at character {}", text_, what, at + 1), at);
  }
  [[noreturn]] void fail_here(const std::string& what) const {
    if (pos_ >= text_.size()) fail(what + " (text ended)", text_.size());
    fail(fmt::format("{} ('{}')", what, text_[pos_]), pos_);
  }
  void finish() const {
    if (pos_ != text_.size()) fail_here("unexpected character");
  }
  static bool is_separator(char c) { return c == '_' || c == '\''; }

  // Digits in `base` (separators allowed between digits) appended to `value`; returns the count.
  int digits(BigInt& value, int base) {
    int count = 0;
    while (pos_ < text_.size()) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(peek())));
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (d < 0 && is_separator(c) && count > 0 && pos_ + 1 < text_.size() &&
          std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1])) &&
          (base == 16 || std::isdigit(text_[pos_ + 1]))) {
        ++pos_;
        continue;
      }
      if (d < 0) break;
      value = value * base + d;
      ++count;
      ++pos_;
    }
    return count;
  }

  long exponent_part() {
    ++pos_;  // 'e' or 'p'
    bool negative = false;
    if (pos_ < text_.size() && (peek() == '+' || peek() == '-')) negative = text_[pos_++] == '-';
    long value = 0;
    int count = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(peek()))) {
      value =
          std::min<long>(value * 10 + (peek() - '0'), 1'000'000'000L);  // saturates: far beyond any format
      ++count;
      ++pos_;
    }
    if (count == 0) fail_here("expected exponent digits");
    return negative ? -value : value;
  }

  void parse_decimal(BigInt& num, long& exponent10, bool allow_fraction, bool allow_exponent) {
    int count = digits(num, 10);
    if (allow_fraction && pos_ < text_.size() && peek() == '.') {
      ++pos_;
      const int fraction = digits(num, 10);
      exponent10 -= fraction;
      count += fraction;
    }
    if (count == 0) fail_here("expected a digit");
    if (allow_exponent && pos_ < text_.size() && (peek() == 'e' || peek() == 'E'))
      exponent10 += exponent_part();
  }

  ExactNumber parse_hex(bool negative) {
    pos_ += 2;
    BigInt num;
    long exponent2 = 0;
    int count = digits(num, 16);
    if (pos_ < text_.size() && peek() == '.') {
      ++pos_;
      const int fraction = digits(num, 16);
      exponent2 -= 4L * fraction;
      count += fraction;
    }
    if (count == 0) fail_here("expected a hexadecimal digit");
    if (pos_ < text_.size() && (peek() == 'p' || peek() == 'P')) exponent2 += exponent_part();
    finish();
    if (num == 0) return special(Unpacked::Kind::zero, negative);
    if (std::abs(exponent2) > 4 * kMaxDecimalExponent) {
      ExactNumber out = finite(negative, 1, 1, 0);
      out.out_of_range = exponent2 > 0 ? 1 : -1;
      return out;
    }
    return finite(negative, num, 1, exponent2);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// Digits of value = m * 10^e (m >= 0) placed in positional or scientific notation.
std::string place_point(bool negative, const std::string& digits, long exponent10) {
  // Scientific exponent of the leading digit.
  const long sci = static_cast<long>(digits.size()) - 1 + exponent10;
  std::string out = negative ? "-" : "";
  if (sci >= -7 && sci < 21) {
    if (exponent10 >= 0) return out + digits + std::string(static_cast<std::size_t>(exponent10), '0');
    const long int_digits = static_cast<long>(digits.size()) + exponent10;
    if (int_digits > 0) {
      return out + digits.substr(0, static_cast<std::size_t>(int_digits)) + "." +
             digits.substr(static_cast<std::size_t>(int_digits));
    }
    return out + "0." + std::string(static_cast<std::size_t>(-int_digits), '0') + digits;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  return out + fmt::format("e{}{}", sci < 0 ? "-" : "+", std::abs(sci));
}

// Exact value of a finite nonzero Unpacked as digits * 10^exponent10, trailing zeros removed.
std::pair<std::string, long> exact_digits(const Unpacked& v) {
  std::uint64_t sig = v.sig;
  long exp2 = static_cast<long>(v.exp) - 63;
  const int trailing = std::countr_zero(sig);
  sig >>= trailing;
  exp2 += trailing;
  BigInt m = sig;
  long exponent10 = 0;
  if (exp2 >= 0) {
    m <<= exp2;
  } else {  // m / 2^k = m * 5^k / 10^k
    m *= boost::multiprecision::pow(BigInt(5), static_cast<unsigned>(-exp2));
    exponent10 = exp2;
  }
  std::string digits = m.str();
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exponent10;
  }
  return {digits, exponent10};
}

}  // namespace

std::string exact_decimal(const Unpacked& v) {
  switch (v.kind) {
    case Unpacked::Kind::nan:
      return v.negative ? "-nan" : "nan";
    case Unpacked::Kind::inf:
      return v.negative ? "-inf" : "inf";
    case Unpacked::Kind::zero:
      return v.negative ? "-0" : "0";
    case Unpacked::Kind::finite:
      break;
  }
  const auto [digits, exponent10] = exact_digits(v);
  return place_point(v.negative, digits, exponent10);
}

std::string shortest_decimal(const Format& format, std::uint64_t code) {
  const Unpacked v = format.unpack(code);
  if (v.kind != Unpacked::Kind::finite) return exact_decimal(v);
  const auto [digits, exponent10] = exact_digits(v);
  auto reads_back = [&](const std::string& candidate) {
    Flags ignored;
    return format.pack(parse_number(candidate), {}, ignored) == code;
  };
  const BigInt exact(digits);
  for (std::size_t precision = 1; precision < digits.size(); ++precision) {
    // The two precision-digit decimals around the value: truncated and truncated + 1 unit.
    const std::size_t dropped = digits.size() - precision;
    const BigInt low = exact / pow10(static_cast<long>(dropped));
    const BigInt high = low + 1;
    const long e10 = exponent10 + static_cast<long>(dropped);
    const std::string low_text = place_point(v.negative, low.str(), e10);
    const std::string high_text = place_point(v.negative, high.str(), e10);
    const bool low_ok = low != 0 && reads_back(low_text);
    const bool high_ok = reads_back(high_text);
    if (low_ok && high_ok) {  // both read back: the nearer one (ties: the even last digit)
      const BigInt scale = pow10(static_cast<long>(dropped));
      const BigInt below = exact - low * scale, above = high * scale - exact;
      if (below < above || (below == above && bit_test(low, 0) == 0)) return low_text;
      return high_text;
    }
    if (low_ok) return low_text;
    if (high_ok) return high_text;
  }
  return place_point(v.negative, digits, exponent10);
}

ExactNumber parse_exact(std::string_view text) {
  return Parser(text).parse();
}

Unpacked parse_number(std::string_view text) {
  const ExactNumber x = parse_exact(text);
  switch (x.kind) {
    case Unpacked::Kind::zero:
      return Unpacked::zero(x.negative);
    case Unpacked::Kind::inf:
      return Unpacked::inf(x.negative);
    case Unpacked::Kind::nan:
      return Unpacked::nan(x.negative);
    case Unpacked::Kind::finite:
      break;
  }
  if (x.out_of_range != 0) {  // a stand-in far outside every format rounds the same way
    Unpacked v = from_ratio(x.negative, 1, 1, x.out_of_range * kHugeBinaryExponent);
    v.sticky = true;
    return v;
  }
  return from_ratio(x.negative, x.num, x.den, x.exp2);
}

namespace {

Rational to_rational(const ExactNumber& x) {
  Rational r(x.num, x.den);
  if (x.exp2 >= 0)
    r *= Rational(BigInt(1) << x.exp2);
  else
    r /= Rational(BigInt(1) << -x.exp2);
  return x.negative ? Rational(-r) : r;
}

Rational to_rational(const Unpacked& v) {
  if (v.kind == Unpacked::Kind::zero) return 0;
  const long e = static_cast<long>(v.exp) - 63;
  Rational r(BigInt(v.sig));
  if (e >= 0)
    r *= Rational(BigInt(1) << e);
  else
    r /= Rational(BigInt(1) << -e);
  return v.negative ? Rational(-r) : r;
}

std::string approximate_decimal(const Rational& value, int digits) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  const BigInt num = abs(numerator(value)), den = denominator(value);
  // e10 = floor(log10(value)), found from the digit counts and corrected by one comparison.
  long e10 = static_cast<long>(num.str().size()) - static_cast<long>(den.str().size());
  auto scaled_below_ten_to = [&](long e) {  // value < 10^e ?
    return e >= 0 ? num < den * pow10(e) : num * pow10(-e) < den;
  };
  if (scaled_below_ten_to(e10)) --e10;
  // n = round(value * 10^(digits - 1 - e10)), half away from zero.
  const long shift = digits - 1 - e10;
  BigInt n, d;
  if (shift >= 0) {
    n = num * pow10(shift);
    d = den;
  } else {
    n = num;
    d = den * pow10(-shift);
  }
  BigInt q = (2 * n + d) / (2 * d);
  long exponent10 = -shift;
  std::string text = q.str();
  if (static_cast<long>(text.size()) > digits) ++e10;  // rounding carried into a new digit (9.99.. -> 10)
  while (text.size() > 1 && text.back() == '0') {
    text.pop_back();
    ++exponent10;
  }
  // Like printf's %g: scientific below 10^-4 and from 10^digits on.
  if (e10 < -4 || e10 >= digits) {
    std::string out = negative ? "-" : "";
    out += text.substr(0, 1);
    if (text.size() > 1) out += "." + text.substr(1);
    return out + fmt::format("e{}{}", e10 < 0 ? "-" : "+", std::abs(e10));
  }
  return place_point(negative, text, exponent10);
}

}  // namespace

std::string rounded_decimal(const Unpacked& value, int digits) {
  if (value.kind != Unpacked::Kind::finite) return exact_decimal(value);
  return approximate_decimal(to_rational(value), digits);
}

std::optional<RoundingError> rounding_error(const Format& format, std::uint64_t code, std::string_view text,
                                            int digits) {
  const ExactNumber x = parse_exact(text);
  const Unpacked v = format.unpack(code);
  const bool finite_code = v.kind == Unpacked::Kind::zero || v.kind == Unpacked::Kind::finite;
  const bool finite_input = x.kind == Unpacked::Kind::zero || x.kind == Unpacked::Kind::finite;
  if (!finite_code || !finite_input || x.out_of_range != 0) return std::nullopt;
  const Rational exact = to_rational(x);
  const Rational difference = to_rational(v) - exact;
  RoundingError out;
  out.absolute = approximate_decimal(difference, digits);
  out.relative = exact == 0 ? (difference == 0 ? "0" : "inf")
                            : approximate_decimal(abs(difference) / abs(exact), digits);
  return out;
}

std::uint64_t encode_number(const Format& format, std::string_view text, const RoundOptions& options,
                            Flags* flags) {
  Flags local;
  return format.pack(parse_number(text), options, flags ? *flags : local);
}

}  // namespace lowbit
