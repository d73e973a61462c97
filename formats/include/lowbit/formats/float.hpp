// Float<S>: a bit-exact software float for any FloatSpec. All formats are aliases of this one template;
// the arithmetic of conversion lives in float_engine.hpp and is shared with the runtime registry.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float_queries.hpp"

namespace lowbit {

namespace detail {
template <int Bits>
using StorageFor =
    std::conditional_t<(Bits <= 8), std::uint8_t,
                       std::conditional_t<(Bits <= 16), std::uint16_t,
                                          std::conditional_t<(Bits <= 32), std::uint32_t, std::uint64_t>>>;
}  // namespace detail

[[noreturn]] void throw_too_wide(std::uint64_t bits, int width);

template <FloatSpec S>
class Float {
 public:
  static constexpr FloatSpec spec = S;
  using Storage = detail::StorageFor<S.bits()>;

  constexpr Float() = default;

  // Throws RangeError when `bits` has bits set above the format's width.
  static constexpr Float from_bits(std::uint64_t bits) {
    if ((bits & ~S.code_mask()) != 0) throw_too_wide(bits, S.bits());
    Float f;
    f.bits_ = static_cast<Storage>(bits);
    return f;
  }
  static constexpr Float from(const Unpacked& v, const RoundOptions& options = {}, Flags* flags = nullptr) {
    Flags local;
    Float f;
    f.bits_ = static_cast<Storage>(pack_float(S, v, options, flags ? *flags : local));
    return f;
  }
  static constexpr Float from(float x, const RoundOptions& options = {}, Flags* flags = nullptr) {
    return from(unpack_float32(x), options, flags);
  }
  static constexpr Float from(double x, const RoundOptions& options = {}, Flags* flags = nullptr) {
    return from(unpack_float64(x), options, flags);
  }
  template <FloatSpec T>
  static constexpr Float from(Float<T> x, const RoundOptions& options = {}, Flags* flags = nullptr) {
    return from(x.unpacked(), options, flags);
  }

  constexpr Storage bits() const { return bits_; }
  constexpr Unpacked unpacked() const { return unpack_float(S, bits_); }
  // Exact wherever the value is representable in fp32 / fp64 (always for fp64 and formats of <= 32 bits
  // except fp64 itself into float), else rounded to nearest-even.
  constexpr float to_float() const {
    Flags ignored;
    return std::bit_cast<float>(
        static_cast<std::uint32_t>(pack_float(spec::float32, unpacked(), {}, ignored)));
  }
  constexpr double to_double() const {
    Flags ignored;
    return std::bit_cast<double>(pack_float(spec::float64, unpacked(), {}, ignored));
  }
  constexpr explicit operator float() const { return to_float(); }
  constexpr explicit operator double() const { return to_double(); }

  constexpr FloatClass classify() const { return lowbit::classify(S, bits_); }
  constexpr bool is_nan() const { return classify() == FloatClass::nan; }
  constexpr bool is_inf() const { return classify() == FloatClass::inf; }
  constexpr bool is_zero() const { return classify() == FloatClass::zero; }
  constexpr bool is_subnormal() const { return classify() == FloatClass::subnormal; }
  constexpr bool is_normal() const { return classify() == FloatClass::normal; }
  constexpr bool is_finite() const { return !is_nan() && !is_inf(); }
  constexpr bool signbit() const { return (bits_ & S.sign_mask()) != 0; }

  // nextUp / nextDown; a NaN or the code itself where no such value exists is not returned: nullopt.
  constexpr std::optional<Float> next_up() const { return wrap(lowbit::next_up(S, bits_)); }
  constexpr std::optional<Float> next_down() const { return wrap(lowbit::next_down(S, bits_)); }
  constexpr double ulp() const {
    const auto u = lowbit::ulp(S, bits_);
    if (!u) return std::numeric_limits<double>::quiet_NaN();
    Flags ignored;
    return std::bit_cast<double>(pack_float(spec::float64, *u, {}, ignored));
  }

  static constexpr Float max() { return from_bits(max_finite_code(S)); }
  static constexpr Float lowest() { return from_bits(lowest_code(S)); }
  static constexpr Float min_normal() { return from_bits(min_normal_code(S)); }
  static constexpr Float min_subnormal() { return from_bits(min_subnormal_code(S)); }
  static constexpr Float epsilon() { return from_bits(epsilon_code(S)); }
  static constexpr Float infinity() requires(S.has_inf()) { return from_bits(S.inf_code(false)); }
  static constexpr Float quiet_nan() requires(S.has_nan()) { return from_bits(S.nan_code(false)); }

  // Bitwise identity (NaN == NaN, +0 != -0): the equality tests need.
  friend constexpr bool operator==(Float a, Float b) { return a.bits_ == b.bits_; }

 private:
  static constexpr std::optional<Float> wrap(std::optional<std::uint64_t> code) {
    if (!code) return std::nullopt;
    return from_bits(*code);
  }
  Storage bits_ = 0;
};

using float64 = Float<spec::float64>;
using float32 = Float<spec::float32>;
using float16 = Float<spec::float16>;
using bfloat16 = Float<spec::bfloat16>;
using float8_e4m3fn = Float<spec::float8_e4m3fn>;
using float8_e4m3 = Float<spec::float8_e4m3>;
using float8_e4m3fnuz = Float<spec::float8_e4m3fnuz>;
using float8_e4m3b11fnuz = Float<spec::float8_e4m3b11fnuz>;
using float8_e5m2 = Float<spec::float8_e5m2>;
using float8_e5m2fnuz = Float<spec::float8_e5m2fnuz>;
using float8_e3m4 = Float<spec::float8_e3m4>;
using float6_e2m3fn = Float<spec::float6_e2m3fn>;
using float6_e3m2fn = Float<spec::float6_e3m2fn>;
using float4_e2m1fn = Float<spec::float4_e2m1fn>;
using float8_e8m0fnu = Float<spec::float8_e8m0fnu>;

}  // namespace lowbit
