#include "lowbit/formats/decimal.hpp"

#include <fmt/format.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <cctype>

#include "lowbit/formats/error.hpp"

namespace lowbit {
namespace {

using BigInt = boost::multiprecision::cpp_int;

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

BigInt pow10(long n) { return boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(n)); }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Unpacked parse() {
    if (text_.empty()) fail("empty number", 0);
    bool negative = false;
    if (peek() == '+' || peek() == '-') negative = text_[pos_++] == '-';
    const std::string rest = lower(text_.substr(pos_));
    if (rest == "inf" || rest == "infinity") return Unpacked::inf(negative);
    if (rest == "nan") return Unpacked::nan(negative);
    if (rest.starts_with("0x")) return parse_hex(negative);
    BigInt num;
    long exponent10 = 0;
    parse_decimal(num, exponent10, /*allow_fraction=*/true, /*allow_exponent=*/true);
    if (pos_ < text_.size() && peek() == '/') {
      ++pos_;
      BigInt den;
      long den_exponent10 = 0;
      const std::size_t den_start = pos_;
      parse_decimal(den, den_exponent10, false, false);
      if (den == 0) fail("division by zero in fraction", den_start);
      finish();
      if (num == 0) return Unpacked::zero(negative);
      return from_ratio(negative, num, den, 0);
    }
    finish();
    if (num == 0) return Unpacked::zero(negative);
    // Far outside every format: skip the huge powers of ten.
    const long digits = static_cast<long>(num.str().size());
    if (exponent10 + digits > kMaxDecimalExponent) {
      return from_ratio(negative, 1, 1, kHugeBinaryExponent);
    }
    if (exponent10 + digits < -kMaxDecimalExponent) {
      Unpacked tiny = from_ratio(negative, 1, 1, -kHugeBinaryExponent);
      tiny.sticky = true;
      return tiny;
    }
    if (exponent10 >= 0) return from_ratio(negative, num * pow10(exponent10), 1, 0);
    return from_ratio(negative, num, pow10(-exponent10), 0);
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
          std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1])) && (base == 16 || std::isdigit(text_[pos_ + 1]))) {
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
      value = std::min<long>(value * 10 + (peek() - '0'), 1'000'000'000L);  // saturates: far beyond any format
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
    if (allow_exponent && pos_ < text_.size() && (peek() == 'e' || peek() == 'E')) exponent10 += exponent_part();
  }

  Unpacked parse_hex(bool negative) {
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
    if (num == 0) return Unpacked::zero(negative);
    return from_ratio(negative, num, 1, std::clamp<long>(exponent2, -kHugeBinaryExponent, kHugeBinaryExponent));
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
    case Unpacked::Kind::nan: return v.negative ? "-nan" : "nan";
    case Unpacked::Kind::inf: return v.negative ? "-inf" : "inf";
    case Unpacked::Kind::zero: return v.negative ? "-0" : "0";
    case Unpacked::Kind::finite: break;
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

Unpacked parse_number(std::string_view text) { return Parser(text).parse(); }

std::uint64_t encode_number(const Format& format, std::string_view text, const RoundOptions& options,
                            Flags* flags) {
  Flags local;
  return format.pack(parse_number(text), options, flags ? *flags : local);
}

}  // namespace lowbit
