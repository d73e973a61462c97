// The SIMD conversion kernels, one generic routine over compile-time FloatSpecs, compiled once per
// Highway target (bulk_simd.cpp includes this through foreach_target.h). Every lane holds one code in a
// uint32: a source code is widened exactly to its fp32 bit pattern, which is then rounded once into the
// target by integer arithmetic (rebias, jam the bits below the subnormal grid into a sticky bit, add the
// mode's rounding bias, shift), mirroring pack_float in float_engine.hpp. On AVX-512, fp8 targets in the
// nearest and toward-zero modes let the CPU's fp32 -> fp16 conversion do the first half of that work
// (f16_odd, codes_via_f16).
//
// The kernels are branch-free except for the rare lanes past the largest finite value. A per-vector fast
// path for all-normal vectors was measured and dropped: on activation-like data (normal, sigma 1) 18% of
// vectors hold an e4m3fn subnormal, and the mispredicted branches cost more than the subnormal arithmetic
// they skip (fp32 -> e4m3fn on 256 MiB: 0.77 ns/element with it, 0.45 without).

// Per-target include guard (the Highway idiom: toggled once per target).
#if defined(LOWBIT_FORMATS_BULK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOWBIT_FORMATS_BULK_INL_H_
#undef LOWBIT_FORMATS_BULK_INL_H_
#else
#define LOWBIT_FORMATS_BULK_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

#include "bulk_simd.hpp"
#include "lowbit/formats/float_spec.hpp"
#include "lowbit/formats/rounding.hpp"

HWY_BEFORE_NAMESPACE();
namespace lowbit::bulk_detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D>
using V = hn::Vec<D>;

inline constexpr std::uint32_t kF32Sign = 0x80000000u;
inline constexpr std::uint32_t kF32Abs = 0x7fffffffu;
inline constexpr std::uint32_t kF32Inf = 0x7f800000u;
inline constexpr std::uint32_t kF32QuietNan = 0x7fc00000u;

// The formats the kernels accept: signed, with subnormals, no wider than fp32, every value exact in fp32.
template <FloatSpec S>
constexpr bool kernel_format() {
  return S.is_signed && S.has_subnormals && S.exp_bits <= 8 && S.man_bits <= 23 && S.emin() >= -126 &&
         (S.specials == Specials::ieee || S.specials == Specials::fn) && S.bits() % 8 == 0;
}

// The fp32 bit pattern of 2^e (a normal fp32 number).
constexpr std::uint32_t f32_pow2_bits(int e) {
  return static_cast<std::uint32_t>(e + 127) << 23;
}

// 8-bit formats whose whole range, scaled by 2^(-14 - emin), lies inside fp16's with fp16's smallest normal
// on theirs (e4m3fn: scaled by 2^-8, e5m2: by 1): then a code's magnitude shifted left by 10 - man_bits is
// the fp16 code of its scaled value, subnormals included (the fields line up), and the CPU's fp16
// conversions can do their work (load_via_f16, f16_odd), with two bits to spare for rounding.
template <FloatSpec F>
constexpr bool fits_f16_scaled() {
  return F.bits() == 8 && F.man_bits + 2 <= 10 && F.emax() - 14 - F.emin() <= 15;
}

// ------------------------------------------------------------------------------------------------
// Widening: a code of S per lane -> the fp32 bit pattern of the same value. Exact; NaNs come out as the
// quiet NaN with their sign, infinities as infinities.
template <FloatSpec S, class D>
HWY_INLINE V<D> widen_to_f32(D d, V<D> code) {
  if constexpr (S == spec::float32) {
    return code;
  } else {
    static_assert(kernel_format<S>());
    const auto sign = hn::ShiftLeft<32 - S.bits()>(hn::And(code, hn::Set(d, std::uint32_t{S.sign_mask()})));
    const auto mag = hn::And(code, hn::Set(d, std::uint32_t{S.magnitude_mask()}));
    // Normal codes: move the fields into place and rebias the exponent.
    auto out = hn::Add(hn::ShiftLeft<23 - S.man_bits>(mag), hn::Set(d, f32_pow2_bits(-S.bias)));
    if constexpr (S.emin() > -126) {
      // S's subnormals are fp32 normals: fraction * 2^(emin - man_bits), through an exact int -> float
      // conversion and an exact power-of-two scaling (both results normal, so FTZ/DAZ cannot interfere).
      const hn::RebindToFloat<D> df;
      const hn::RebindToSigned<D> di;
      const auto scale = hn::BitCast(df, hn::Set(d, f32_pow2_bits(S.emin() - S.man_bits)));
      const auto scaled = hn::BitCast(d, hn::Mul(hn::ConvertTo(df, hn::BitCast(di, mag)), scale));
      out = hn::IfThenElse(hn::Lt(mag, hn::Set(d, std::uint32_t{1} << S.man_bits)), scaled, out);
    }  // else S has fp32's exponent range (bfloat16): its subnormals are fp32's, and the shift was exact.
    if constexpr (S.specials == Specials::ieee) {
      const auto inf = hn::Set(d, std::uint32_t(S.exp_field_max() << S.man_bits));
      out = hn::IfThenElse(hn::Eq(mag, inf), hn::Set(d, kF32Inf), out);
      out = hn::IfThenElse(hn::Gt(mag, inf), hn::Set(d, kF32QuietNan), out);
    } else {  // fn: the all-ones magnitude is the NaN
      out = hn::IfThenElse(hn::Eq(mag, hn::Set(d, std::uint32_t{S.magnitude_mask()})),
                           hn::Set(d, kF32QuietNan), out);
    }
    return hn::Or(out, sign);
  }
}

// ------------------------------------------------------------------------------------------------
// Narrowing: an fp32 bit pattern per lane -> the code of T, rounded once. `random` holds the 32 random
// bits of each lane (stochastic rounding only).

// fp32 -> fp32 is exact; only the policy's treatment of infinities and the NaN canonicalization apply.
template <class D>
HWY_INLINE V<D> finish_f32(D d, V<D> x, const SimdParams& p) {
  const auto a = hn::And(x, hn::Set(d, kF32Abs));
  const auto special = hn::Gt(a, hn::Set(d, kF32Inf - 1));  // a >= inf (no unsigned Ge in Highway 1.0)
  if (HWY_LIKELY(hn::AllFalse(d, special))) return x;
  const auto sign = hn::And(x, hn::Set(d, kF32Sign));
  const auto mag = hn::IfThenElse(hn::Eq(a, hn::Set(d, kF32Inf)), hn::Set(d, p.inf), hn::Set(d, p.nan));
  return hn::IfThenElse(special, hn::Or(sign, mag), x);
}

// Carry out of the 32-bit sum a + b, as 0 or 1 per lane (the standard bitwise carry formula).
template <class D>
HWY_INLINE V<D> carry_out(V<D> a, V<D> b) {
  const auto sum = hn::Add(a, b);
  const auto carry = hn::Or(hn::And(a, b), hn::AndNot(sum, hn::Or(a, b)));
  return hn::ShiftRight<31>(carry);
}

// The deterministic rounding modes as data, so one kernel serves them all: v (a magnitude on a grid
// kShift bits finer than the target's, with any bits dropped earlier jammed into its lowest bit) rounds
// to (v + bias[sign] + tie_to_even * kept lowest bit) >> kShift, and round-to-odd then sets the lowest bit
// of inexact results. Stochastic rounding has its own kernel.
struct Rounder {
  std::uint32_t bias_positive = 0, bias_negative = 0;
  std::uint32_t tie_to_even = 0;  // 1 for nearest-even: a tie goes up only from an odd kept part
  bool directed = false;          // the bias depends on the sign (up, down)
  bool to_odd = false;
  bool hardware_f16 = false;  // fp32 -> fp16 nearest-even, ieee: the CPU's conversion, where it has one
};

// How a kernel rounds, fixed per call when the loop is chosen: the deterministic modes as the Rounder's
// data on the integer path, stochastic rounding, or (8-bit targets on AVX-512, some modes) through the CPU's
// fp16 conversion (f16_odd, codes_via_f16), with the Rounder's biases then on fp16's grid.
enum class RoundPath { integer, stochastic, via_f16 };

template <int kShift>
constexpr Rounder make_rounder(Rounding rounding) {
  constexpr std::uint32_t kBelow = (std::uint32_t{1} << kShift) - 1, kHalf = std::uint32_t{1} << (kShift - 1);
  switch (rounding) {
    case Rounding::nearest_even:
      return {kHalf - 1, kHalf - 1, 1, false, false};
    case Rounding::nearest_away:
      return {kHalf, kHalf, 0, false, false};
    case Rounding::up:
      return {kBelow, 0, 0, true, false};
    case Rounding::down:
      return {0, kBelow, 0, true, false};
    case Rounding::odd:
      return {0, 0, 0, false, true};
    case Rounding::toward_zero:
    case Rounding::stochastic:
      break;  // (stochastic never gets here; exact pairs never round)
  }
  return {};
}

// The lanes whose fp32 bit pattern has the sign bit set.
template <class D>
HWY_INLINE auto sign_set(D d, V<D> x) {
  const hn::RebindToSigned<D> di;
  return hn::RebindMask(d, hn::Lt(hn::BitCast(di, x), hn::Zero(di)));
}

// The branches on `r` are uniform over a call, so they predict perfectly and spare the common modes work.
template <int kShift, class D>
HWY_INLINE V<D> round_shift(D d, V<D> v, V<D> x, const Rounder& r) {
  auto bias = hn::Set(d, r.bias_positive);
  if (r.directed) bias = hn::IfThenElse(sign_set(d, x), hn::Set(d, r.bias_negative), bias);
  const auto even = hn::And(hn::ShiftRight<kShift>(v), hn::Set(d, r.tie_to_even));
  auto q = hn::ShiftRight<kShift>(hn::Add(hn::Add(v, bias), even));
  if (r.to_odd) {
    const auto inexact = hn::Ne(hn::And(v, hn::Set(d, (std::uint32_t{1} << kShift) - 1)), hn::Zero(d));
    q = hn::Or(q, hn::IfThenElseZero(inexact, hn::Set(d, 1u)));
  }
  return q;
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// fp32 -> fp16 with nearest-even and the ieee policy by VCVTPS2PH (AVX-512F; this target is chosen at run
// time only on CPUs that have it). It rounds once to nearest-even with subnormal results (MXCSR.FTZ is
// ignored by the instruction) and overflows to inf, exactly as the engine; exceptions are suppressed
// (SAE), and MXCSR.DAZ changes nothing because fp32 subnormals round to +-0 either way. Only NaNs differ:
// the instruction keeps payload bits, so NaN lanes are replaced by the quiet NaN with their sign first.
template <class D>
HWY_INLINE V<D> f16_by_hardware(D d, V<D> x) {
  const auto a = hn::And(x, hn::Set(d, kF32Abs));
  const auto quiet_nan = hn::Or(hn::And(x, hn::Set(d, kF32Sign)), hn::Set(d, kF32QuietNan));
  const auto canonical = hn::IfThenElse(hn::Gt(a, hn::Set(d, kF32Inf)), quiet_nan, x);
  const __m256i half = _mm512_cvt_roundps_ph(_mm512_castsi512_ps(canonical.raw),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return V<D>{_mm512_cvtepu16_epi32(half)};
}
#endif

// T's code from x (a = |x|) and its rounded magnitude: the sign moves from bit 31 to T's sign bit, and the
// lanes past the largest finite magnitude (finite overflow, inf or NaN: all land there, far beyond the
// range) take the policy's codes.
template <FloatSpec T, class D>
HWY_INLINE V<D> finish_code(D d, V<D> mag, V<D> x, V<D> a, const SimdParams& p) {
  const hn::RebindToSigned<D> di;
  const auto shifted_sign = hn::ShiftRight<32 - T.bits()>(x);
  const auto sign_bit = hn::Set(d, std::uint32_t{T.sign_mask()});
  auto code = hn::OrAnd(mag, shifted_sign, sign_bit);
  const auto beyond = hn::RebindMask(
      d, hn::Gt(hn::BitCast(di, mag), hn::Set(di, static_cast<std::int32_t>(T.max_finite_magnitude()))));
  if (HWY_UNLIKELY(!hn::AllFalse(d, beyond))) {
    auto special =
        hn::IfThenElse(sign_set(d, x), hn::Set(d, p.overflow_negative), hn::Set(d, p.overflow_positive));
    special = hn::IfThenElse(hn::Eq(a, hn::Set(d, kF32Inf)), hn::Set(d, p.inf), special);
    special = hn::IfThenElse(hn::Gt(a, hn::Set(d, kF32Inf)), hn::Set(d, p.nan), special);
    code = hn::IfThenElse(beyond, hn::OrAnd(special, shifted_sign, sign_bit), code);
  }
  return code;
}

// 8-bit targets (fits_f16_scaled): T's code is the fp16 code of the value scaled by 2^(-14 - emin) with its
// low 10 - man_bits bits rounded off, subnormals included, and the CPU converts fp32 to fp16 for us. Rounding
// twice is safe when the first rounding is to odd with at least two bits to spare (Boldo and Melquiond,
// "Emulation of FMA and correctly rounded sums: proved algorithms using rounding to odd"): fp16 keeps 7
// (e4m3fn) or 8 (e5m2) more bits than T. Only the modes that send everything below T's grid to zero take this
// path (nearest-even, nearest-away, toward zero), so the scaling, exact except for values far below T's
// smallest subnormal, and FTZ/DAZ, which only ever touch such values, change nothing. In the L1 cache on
// activation-like data (Sapphire Rapids guest, one core) fp32 -> e4m3fn went from about 0.43 to 0.23 ns per
// element and e5m2 to 0.21, with the rounding in 16-bit lanes (codes_pair_via_f16).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
inline constexpr bool kHasF16Conversion = true;  // AVX-512F: VCVTPS2PH with a rounding mode of our own
#else
inline constexpr bool kHasF16Conversion = false;
#endif

// Whether this target rounds fp32 into T through fp16 in this mode.
template <FloatSpec T>
constexpr bool rounds_via_f16(Rounding rounding) {
  return kHasF16Conversion && fits_f16_scaled<T>() &&
         (rounding == Rounding::nearest_even || rounding == Rounding::nearest_away ||
          rounding == Rounding::toward_zero);
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// x * 2^(-14 - emin) as fp16 codes rounded to odd: toward zero by VCVTPS2PH, then the lowest bit set where
// that was inexact. Finite values past fp16's range become its largest finite code, inf stays inf and NaN
// stays NaN (VCVTPS2PH quiets it), so T's specials can be told apart from the fp16 code alone.
template <FloatSpec T, class D>
HWY_INLINE hn::Vec<hn::Rebind<std::uint16_t, D>> f16_odd(D /* d */, V<D> x) {
  static_assert(fits_f16_scaled<T>());
  __m512 scaled = _mm512_castsi512_ps(x.raw);
  if constexpr (T.emin() != -14) {
    scaled = _mm512_mul_ps(scaled, _mm512_castsi512_ps(_mm512_set1_epi32(f32_pow2_bits(-14 - T.emin()))));
  }
  const __m256i toward_zero = _mm512_cvt_roundps_ph(scaled, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 inexact = _mm512_cmp_ps_mask(_mm512_cvtph_ps(toward_zero), scaled, _CMP_NEQ_UQ);
  return {_mm256_mask_blend_epi16(inexact, toward_zero, _mm256_or_si256(toward_zero, _mm256_set1_epi16(1)))};
}
#endif

// T's codes from fp16 codes rounded to odd (f16_odd), in 16-bit lanes (any number of them): r's rounding
// of the 10 - man_bits low bits, the sign moved from bit 15 to T's, and the lanes past the largest finite
// magnitude given the policy's codes for finite overflow, inf and NaN, as finish_code does from fp32.
template <FloatSpec T, class D16>
HWY_INLINE V<D16> codes_via_f16(D16 d16, V<D16> h, const Rounder& r, const SimdParams& p) {
  const hn::RebindToSigned<D16> di16;
  const auto a = hn::And(h, hn::Set(d16, std::uint16_t{0x7fff}));
  const auto mag = round_shift<10 - T.man_bits>(d16, a, h, r);
  const auto shifted_sign = hn::ShiftRight<16 - T.bits()>(h);
  const auto sign_bit = hn::Set(d16, static_cast<std::uint16_t>(T.sign_mask()));
  auto code = hn::OrAnd(mag, shifted_sign, sign_bit);
  const auto beyond = hn::RebindMask(
      d16,
      hn::Gt(hn::BitCast(di16, mag), hn::Set(di16, static_cast<std::int16_t>(T.max_finite_magnitude()))));
  if (HWY_UNLIKELY(!hn::AllFalse(d16, beyond))) {
    const auto u16 = [&](std::uint32_t v) HWY_ATTR { return hn::Set(d16, static_cast<std::uint16_t>(v)); };
    const auto negative = hn::RebindMask(d16, hn::Lt(hn::BitCast(di16, h), hn::Zero(di16)));
    auto special = hn::IfThenElse(negative, u16(p.overflow_negative), u16(p.overflow_positive));
    special = hn::IfThenElse(hn::Eq(a, u16(0x7c00)), u16(p.inf), special);
    special =
        hn::IfThenElse(hn::RebindMask(d16, hn::Gt(hn::BitCast(di16, a), hn::Set(di16, std::int16_t{0x7c00}))),
                       u16(p.nan), special);
    code = hn::IfThenElse(beyond, hn::OrAnd(special, shifted_sign, sign_bit), code);
  }
  return code;
}

// Rounds fp32 bit patterns into T along kPath: with `r`, or with the random bits (stochastic).
template <FloatSpec T, RoundPath kPath, class D>
HWY_INLINE V<D> narrow_from_f32(D d, V<D> x, V<D> random, const Rounder& r, const SimdParams& p) {
  if constexpr (T == spec::float32) {
    return finish_f32(d, x, p);
  } else {
    static_assert(kernel_format<T>());
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    if constexpr (T == spec::float16 && kPath == RoundPath::integer) {
      if (r.hardware_f16) return f16_by_hardware(d, x);
    }
#endif
    const auto a = hn::And(x, hn::Set(d, kF32Abs));
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    if constexpr (kPath == RoundPath::via_f16) {
      const hn::Rebind<std::uint16_t, D> d16;
      return hn::PromoteTo(d, codes_via_f16<T>(d16, f16_odd<T>(d, x), r, p));
    }
#endif
    // A T-normal value keeps man_bits of fp32's 23 fraction bits: kShift bits are dropped.
    constexpr int kShift = 23 - T.man_bits;
    static_assert(kShift >= 2, "the sticky bit must sit below the rounding (half) bit");
    // fp32 biased exponent of T's smallest normal binade; below it T's grid is fixed (subnormals).
    constexpr std::uint32_t kMinNormalE = static_cast<std::uint32_t>(T.emin() + 127);
    const hn::RebindToSigned<D> di;

    // v: the value as an integer in units of 2^-kShift ulps of T's grid at its binade. For T-normal values
    // it is the fp32 magnitude with the exponent rebiased to T's (so a carry out of the fraction moves into
    // the exponent field, and past the largest binade into overflow); below T's smallest normal binade it
    // is the fp32 significand, which must be shifted right by `extra` more bits onto the subnormal grid.
    // With c = clamp(fp32 exponent, 1, kMinNormalE), both cases are v = a - ((c - 1) << 23).
    V<D> v = a;
    V<D> extra = hn::Zero(d);
    if constexpr (kMinNormalE > 1) {
      const auto e = hn::ShiftRight<23>(a);
      const auto c = hn::Min(hn::Max(e, hn::Set(d, 1u)), hn::Set(d, kMinNormalE));
      v = hn::Sub(a, hn::ShiftLeft<23>(hn::Sub(c, hn::Set(d, 1u))));
      extra = hn::Sub(hn::Set(d, kMinNormalE), c);
    }  // else T has fp32's exponent range (bfloat16): c == 1 always and nothing is extra.

    V<D> mag;
    if constexpr (kPath == RoundPath::stochastic) {
      // Up iff (the dropped fraction's top 32 bits) + random >= 2^32, exactly as round_significand. The
      // dropped fraction has kShift + extra bits (more than 32 deep below the subnormal grid), so it
      // is not jammed here: its top 32 bits are v << (32 - total), or v >> (total - 32) when deeper.
      const auto total = hn::Add(extra, hn::Set(d, std::uint32_t{kShift}));
      const auto q = hn::Shr(v, hn::Min(total, hn::Set(d, 31u)));  // v < 2^24 whenever total > 23
      const auto left =
          hn::BitCast(d, hn::Max(hn::Sub(hn::Set(di, 32), hn::BitCast(di, total)), hn::Zero(di)));
      const auto right = hn::Min(hn::Sub(hn::Max(total, hn::Set(d, 32u)), hn::Set(d, 32u)), hn::Set(d, 31u));
      const auto top32 = hn::Shr(hn::Shl(v, left), right);
      mag = hn::Add(q, carry_out<D>(top32, random));
    } else {
      if constexpr (kMinNormalE > 1) {
        // Onto the subnormal grid: shift right by `extra` and jam what falls off into the lowest bit, which
        // lies below the half bit (kShift >= 2), so every mode but stochastic decides as before.
        const auto shift = hn::Min(extra, hn::Set(d, 31u));  // v < 2^24 here, so 31 drops everything
        const auto shifted = hn::Shr(v, shift);
        const auto sticky = hn::Ne(hn::Shl(shifted, shift), v);
        v = hn::Or(shifted, hn::IfThenElseZero(sticky, hn::Set(d, 1u)));
      }
      mag = round_shift<kShift>(d, v, x, r);
    }
    return finish_code<T>(d, mag, x, a, p);
  }
}

// ------------------------------------------------------------------------------------------------
// The random bits of lanes index + 0, 1, ...: stochastic_hash (bulk_simd.hpp) computed per lane.
template <class D>
HWY_INLINE V<D> mix32(D d, V<D> x) {
  x = hn::Xor(x, hn::ShiftRight<16>(x));
  x = hn::Mul(x, hn::Set(d, kMix1));
  x = hn::Xor(x, hn::ShiftRight<15>(x));
  x = hn::Mul(x, hn::Set(d, kMix2));
  return hn::Xor(x, hn::ShiftRight<16>(x));
}

template <class D>
HWY_INLINE V<D> random_bits(D d, const SimdParams& p, std::uint64_t index) {
  const auto lane = hn::Iota(d, 0);
  const auto lo = hn::Add(hn::Set(d, static_cast<std::uint32_t>(index)), lane);
  const auto wrapped = hn::Lt(lo, lane);  // the low half wrapped: this lane's high half is one more
  const auto hi = hn::Sub(hn::Set(d, static_cast<std::uint32_t>(index >> 32)), hn::VecFromMask(d, wrapped));
  const auto h = mix32(d, hn::Xor(lo, hn::Set(d, p.key_lo)));
  return mix32(d, hn::Xor(hn::Xor(h, hi), hn::Set(d, p.key_hi)));
}

// ------------------------------------------------------------------------------------------------
// Loading and storing codes of 8, 16 or 32 bits, one per uint32 lane (pointers need no alignment).
template <FloatSpec S, class D>
HWY_INLINE V<D> load_codes(D d, const std::uint8_t* p) {
  if constexpr (S.bits() == 32) {
    return hn::LoadU(d, reinterpret_cast<const std::uint32_t*>(p));
  } else if constexpr (S.bits() == 16) {
    return hn::PromoteTo(
        d, hn::LoadU(hn::Rebind<std::uint16_t, D>(), reinterpret_cast<const std::uint16_t*>(p)));
  } else {
    static_assert(S.bits() == 8);
    return hn::PromoteTo(d, hn::LoadU(hn::Rebind<std::uint8_t, D>(), p));
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
inline constexpr bool kHasF16Promote = true;  // F16C (VCVTPH2PS), which Highway's AVX2 and AVX3 targets imply
#else
inline constexpr bool kHasF16Promote = false;
#endif

// Sources the CPU's fp16 -> fp32 conversion widens: fp16, and 8-bit formats that fit fp16 once scaled
// whose NaN and inf codes land on fp16's (e5m2: the same fields) or on values past their largest finite
// one (fn: the all-ones code becomes 480 for e4m3fn, max 448).
template <FloatSpec S>
constexpr bool widens_via_f16() {
  if constexpr (!kHasF16Promote) {
    return false;
  } else if constexpr (S == spec::float16) {
    return true;
  } else {
    return fits_f16_scaled<S>() &&
           (S.specials == Specials::fn || (S.specials == Specials::ieee && S.exp_bits == 5 && S.bias == 15));
  }
}

// The fp32 bit pattern of S's largest finite value.
template <FloatSpec S>
constexpr std::uint32_t f32_bits_of_max_finite() {
  const std::uint64_t code = S.max_finite_magnitude();
  const std::uint32_t mantissa = static_cast<std::uint32_t>(code & ((std::uint64_t{1} << S.man_bits) - 1));
  return f32_pow2_bits(static_cast<int>(code >> S.man_bits) - S.bias) | (mantissa << (23 - S.man_bits));
}

// S codes as fp32 bit patterns through VCVTPH2PS, which is exact and leaves MXCSR's FTZ and DAZ aside
// (tested): half the work of the integer widening (fp16 -> fp32: one instruction instead of a dozen). An fn
// format's NaN code comes out as a finite value past its largest one, and is made a NaN here.
template <FloatSpec S, class D>
HWY_INLINE V<D> load_via_f16(D d, const std::uint8_t* p) {
  const hn::Rebind<std::uint16_t, D> d16;
  const hn::Rebind<hwy::float16_t, D> dh;
  const hn::RebindToFloat<D> df;
  hn::Vec<decltype(d16)> h;
  if constexpr (S.bits() == 16) {
    h = hn::LoadU(d16, reinterpret_cast<const std::uint16_t*>(p));
  } else {
    const auto code = hn::PromoteTo(d16, hn::LoadU(hn::Rebind<std::uint8_t, D>(), p));
    const auto sign = hn::ShiftLeft<8>(hn::And(code, hn::Set(d16, std::uint16_t{S.sign_mask()})));
    h = hn::Or(sign, hn::ShiftLeft<10 - S.man_bits>(hn::And(code, hn::Set(d16, std::uint16_t{0x7f}))));
  }
  auto f = hn::PromoteTo(df, hn::BitCast(dh, h));
  if constexpr (S.bits() == 8 && S.emin() != -14) {
    f = hn::Mul(f, hn::BitCast(df, hn::Set(d, f32_pow2_bits(14 + S.emin()))));  // exact: normal results
  }
  const auto bits = hn::BitCast(d, f);
  if constexpr (S.specials == Specials::fn) {
    const auto nan = hn::Gt(hn::And(bits, hn::Set(d, kF32Abs)), hn::Set(d, f32_bits_of_max_finite<S>()));
    if (HWY_UNLIKELY(!hn::AllFalse(d, nan)))
      return hn::Or(bits, hn::IfThenElseZero(nan, hn::Set(d, kF32Inf)));
  }
  return bits;
}

// One vector of S codes as the fp32 bit patterns of their values, NaN codes as fp32 NaNs with any payload
// (narrow_from_f32 gives every NaN lane the policy's code).
template <FloatSpec S, class D>
HWY_INLINE V<D> load_as_f32(D d, const std::uint8_t* p) {
  if constexpr (widens_via_f16<S>()) {
    return load_via_f16<S>(d, p);
  } else if constexpr (S != spec::float32 && S.exp_bits == 8 && S.bias == 127 &&
                       S.specials == Specials::ieee) {
    return hn::ShiftLeft<32 - S.bits()>(load_codes<S>(d, p));  // fp32's leading bits (bfloat16)
  } else {
    return widen_to_f32<S>(d, load_codes<S>(d, p));
  }
}

template <FloatSpec T, class D>
HWY_INLINE void store_codes(D d, V<D> codes, std::uint8_t* p) {
  if constexpr (T.bits() == 32) {
    hn::StoreU(codes, d, reinterpret_cast<std::uint32_t*>(p));
  } else if constexpr (T.bits() == 16) {
    const hn::Rebind<std::uint16_t, D> d16;
    hn::StoreU(hn::TruncateTo(d16, codes), d16, reinterpret_cast<std::uint16_t*>(p));
  } else {
    static_assert(T.bits() == 8);
    const hn::Rebind<std::uint8_t, D> d8;
    hn::StoreU(hn::TruncateTo(d8, codes), d8, p);
  }
}

// One vector of codes: load, widen, round (with the random bits of elements index, index + 1, ...).
template <FloatSpec S, FloatSpec T, RoundPath kPath, class D>
HWY_INLINE V<D> convert_codes(D d, const std::uint8_t* from, std::uint64_t index, const Rounder& r,
                              const SimdParams& p) {
  const auto random = kPath == RoundPath::stochastic ? random_bits(d, p, index) : hn::Zero(d);
  return narrow_from_f32<T, kPath>(d, load_as_f32<S>(d, from), random, r, p);
}

#if HWY_TARGET != HWY_SCALAR
// The codes of 2 x lanes elements of S on the fp16 path, as one vector of 16-bit lanes: half the rounding
// work of two vectors of 32-bit lanes, and one narrowing per vector.
template <FloatSpec S, FloatSpec T, class D>
HWY_INLINE hn::Vec<hn::Repartition<std::uint16_t, D>> codes_pair_via_f16(D d, const std::uint8_t* from,
                                                                         const Rounder& r,
                                                                         const SimdParams& p) {
  const hn::Repartition<std::uint16_t, D> d16;
  const std::uint8_t* upper = from + hn::Lanes(d) * (S.bits() / 8);
  const auto h =
      hn::Combine(d16, f16_odd<T>(d, load_as_f32<S>(d, upper)), f16_odd<T>(d, load_as_f32<S>(d, from)));
  return codes_via_f16<T>(d16, h, r, p);
}

// Converts one whole output vector (4 / T's bytes input vectors) and writes it with a streaming store to
// `to`, which must be aligned to the vector size.
template <FloatSpec S, FloatSpec T, RoundPath kPath, class D>
HWY_INLINE void stream_codes(D d, const std::uint8_t* from, std::uint8_t* to, std::uint64_t index,
                             const Rounder& r, const SimdParams& p) {
  constexpr std::size_t kSrcBytes = S.bits() / 8;
  const std::size_t lanes = hn::Lanes(d);
  auto part = [&](std::size_t k) HWY_ATTR {
    return convert_codes<S, T, kPath>(d, from + k * lanes * kSrcBytes, index + k * lanes, r, p);
  };
  if constexpr (T.bits() == 32) {
    hn::Stream(part(0), d, reinterpret_cast<std::uint32_t*>(to));
  } else if constexpr (T.bits() == 16) {
    const hn::Repartition<std::uint16_t, D> d16;
    const hn::Half<decltype(d16)> half;
    hn::Stream(hn::Combine(d16, hn::TruncateTo(half, part(1)), hn::TruncateTo(half, part(0))), d16,
               reinterpret_cast<std::uint16_t*>(to));
  } else if constexpr (kPath == RoundPath::via_f16) {
    const hn::Repartition<std::uint8_t, D> d8;
    const hn::Half<decltype(d8)> half;
    const auto low = codes_pair_via_f16<S, T>(d, from, r, p);
    const auto high = codes_pair_via_f16<S, T>(d, from + 2 * lanes * kSrcBytes, r, p);
    hn::Stream(hn::Combine(d8, hn::TruncateTo(half, high), hn::TruncateTo(half, low)), d8, to);
  } else {
    const hn::Repartition<std::uint8_t, D> d8;
    const hn::Half<decltype(d8)> half;
    const hn::Half<decltype(half)> quarter;
    const auto low = hn::Combine(half, hn::TruncateTo(quarter, part(1)), hn::TruncateTo(quarter, part(0)));
    const auto high = hn::Combine(half, hn::TruncateTo(quarter, part(3)), hn::TruncateTo(quarter, part(2)));
    hn::Stream(hn::Combine(d8, high, low), d8, to);
  }
}
#endif

}  // namespace lowbit::bulk_detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LOWBIT_FORMATS_BULK_INL_H_
