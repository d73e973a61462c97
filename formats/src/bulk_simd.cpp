// The SIMD bulk conversion loops and their runtime dispatch: this file is compiled once per Highway target
// (foreach_target.h re-includes it), and HWY_DYNAMIC_DISPATCH picks the best target the CPU supports.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bulk_simd.hpp"

#undef HWY_TARGET_INCLUDE
// foreach_target.h re-includes this file by name, found through the library's include directory
// (formats/include), the one include path this target has.
#define HWY_TARGET_INCLUDE "../src/bulk_simd.cpp"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "bulk-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::bulk_detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Outputs at least this large are written with non-temporal (streaming) stores: past the caches they save
// the read-for-ownership of every destination line, which otherwise costs as much memory traffic as the
// stores themselves. Smaller outputs stay in the cache for whoever reads them next. (glibc's memcpy makes
// the same switch at about 3/4 of a thread's share of the L3: 41 MiB on the 2-core Sapphire Rapids.)
inline constexpr std::size_t kStreamingMinBytes = std::size_t{32} << 20;

// Narrowings past the caches read this many 4 KiB source pages side by side (see convert_loop).
inline constexpr std::size_t kPageBytes = 4096;
inline constexpr std::size_t kInterleavedPages = 8;

// T's deterministic rounding as data (bulk-inl.h), on the grid kPath rounds on; nothing to round into fp32.
template <FloatSpec T, RoundPath kPath>
Rounder rounder_for(const SimdParams& p) {
  if constexpr (T == spec::float32) {
    return {};
  } else if constexpr (kPath == RoundPath::via_f16) {
    return make_rounder<10 - T.man_bits>(p.rounding);
  } else {
    Rounder r = make_rounder<23 - T.man_bits>(p.rounding);
    // The CPU's own conversion rounds to nearest-even and overflows to inf: the ieee policy.
    r.hardware_f16 = T == spec::float16 && p.rounding == Rounding::nearest_even && p.policy == Policy::ieee;
    return r;
  }
}

// Converts elements [begin, end): full vectors straight from and to the arrays; the last partial vector
// goes through zero-padded buffers, so the tail is converted by the same SIMD code.
template <FloatSpec S, FloatSpec T, RoundPath kPath>
void convert_range(const std::uint8_t* src, std::uint8_t* dst, std::size_t begin, std::size_t end,
                   const Rounder& rounder, const SimdParams& p) {
  constexpr std::size_t kSrcBytes = S.bits() / 8, kDstBytes = T.bits() / 8;
  const hn::ScalableTag<std::uint32_t> d;
  const std::size_t lanes = hn::Lanes(d);
  const Rounder r = rounder;  // a local copy stays in registers across the stores
  std::size_t i = begin;
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kPath == RoundPath::via_f16) {  // two vectors of elements per 16-bit vector of codes
    const hn::Repartition<std::uint8_t, decltype(d)> d8;
    const hn::Half<decltype(d8)> half;
    for (; i + 2 * lanes <= end; i += 2 * lanes) {
      hn::StoreU(hn::TruncateTo(half, codes_pair_via_f16<S, T>(d, src + i * kSrcBytes, r, p)), half,
                 dst + i * kDstBytes);
    }
  }
#endif
  for (; i + lanes <= end; i += lanes) {  // (a lambda here was not inlined: 0.40 -> 0.31 ns per element)
    store_codes<T>(d, convert_codes<S, T, kPath>(d, src + i * kSrcBytes, p.first_index + i, r, p),
                   dst + i * kDstBytes);
  }
  if (i < end) {
    HWY_ALIGN std::uint8_t in[HWY_MAX_BYTES] = {};  // lanes * 4 bytes at most
    HWY_ALIGN std::uint8_t out[HWY_MAX_BYTES];
    std::memcpy(in, src + i * kSrcBytes, (end - i) * kSrcBytes);
    store_codes<T>(d, convert_codes<S, T, kPath>(d, in, p.first_index + i, r, p), out);
    std::memcpy(dst + i * kDstBytes, out, (end - i) * kDstBytes);
  }
}

// One loop per (source, target, rounding path).
template <FloatSpec S, FloatSpec T, RoundPath kPath>
void convert_loop(const std::uint8_t* src, std::uint8_t* dst, std::size_t count, const SimdParams& p) {
  const Rounder rounder = rounder_for<T, kPath>(p);
  std::size_t done = 0;
#if HWY_TARGET != HWY_SCALAR
  constexpr std::size_t kSrcBytes = S.bits() / 8, kDstBytes = T.bits() / 8;
  const hn::ScalableTag<std::uint32_t> d;
  const std::size_t vector_bytes = hn::Lanes(d) * 4;
  const auto address = reinterpret_cast<std::uintptr_t>(dst);
  if (count * kDstBytes >= kStreamingMinBytes && address % kDstBytes == 0) {
    // Up to the first vector-aligned destination with ordinary stores, then whole aligned output vectors
    // (4 / kDstBytes input vectors each) with streaming stores.
    const std::size_t head = ((vector_bytes - address % vector_bytes) % vector_bytes) / kDstBytes;
    convert_range<S, T, kPath>(src, dst, 0, head, rounder, p);
    const std::size_t step = vector_bytes / kDstBytes;  // elements per output vector
    const Rounder r = rounder;
    auto stream_at = [&](std::size_t i) HWY_ATTR {
      stream_codes<S, T, kPath>(d, src + i * kSrcBytes, dst + i * kDstBytes, p.first_index + i, r, p);
    };
    done = head;
    if constexpr (kSrcBytes > kDstBytes) {
      // A narrowing reads more than it writes, and one core's sequential read stream is capped by how many
      // lines the hardware prefetcher keeps in flight: reading kInterleavedPages source pages side by side
      // (as glibc's memcpy does past the L3) raised the same loads and stores from 0.72 to 1.05 of memcpy's
      // rate on the Sapphire Rapids guest. Widenings write more than they read and lose by it (0.92).
      const std::size_t page = kPageBytes / kSrcBytes;  // elements per source page; a multiple of step
      const std::size_t block = page * kInterleavedPages;
      for (; page % step == 0 && done + block <= count; done += block) {
        for (std::size_t offset = 0; offset < page; offset += step) {
          for (std::size_t k = 0; k < kInterleavedPages; ++k) stream_at(done + k * page + offset);
        }
      }
    }
    for (; done + step <= count; done += step) stream_at(done);
    hwy::FlushStream();  // order the weakly-ordered streaming stores before anything that follows
  }
#endif
  convert_range<S, T, kPath>(src, dst, done, count, rounder, p);
}

using LoopFn = void (*)(const std::uint8_t*, std::uint8_t*, std::size_t, const SimdParams&);

// True when T holds every value of S exactly: then no rounding ever happens and one loop serves all modes.
template <FloatSpec S, FloatSpec T>
constexpr bool holds_exactly() {
  const int s_min_exp = S.emin() - S.man_bits, t_min_exp = T.emin() - T.man_bits;  // smallest subnormals
  const bool t_top_binade_full = T.specials == Specials::ieee || T == S;
  return T.man_bits >= S.man_bits && t_min_exp <= s_min_exp &&
         (T.emax() > S.emax() || (T.emax() == S.emax() && t_top_binade_full));
}

template <FloatSpec S, FloatSpec T>
LoopFn select_mode(Rounding rounding) {
  if constexpr (holds_exactly<S, T>()) {
    return &convert_loop<S, T, RoundPath::integer>;
  } else {
    if (rounding == Rounding::stochastic) return &convert_loop<S, T, RoundPath::stochastic>;
    if constexpr (fits_f16_scaled<T>() && kHasF16Conversion) {
      if (rounds_via_f16<T>(rounding)) return &convert_loop<S, T, RoundPath::via_f16>;
    }
    return &convert_loop<S, T, RoundPath::integer>;
  }
}

template <FloatSpec S>
LoopFn select_target(SimdFormat to, Rounding rounding) {
  switch (to) {
    case SimdFormat::float32:
      return select_mode<S, spec::float32>(rounding);
    case SimdFormat::bfloat16:
      return select_mode<S, spec::bfloat16>(rounding);
    case SimdFormat::float16:
      return select_mode<S, spec::float16>(rounding);
    case SimdFormat::float8_e4m3fn:
      return select_mode<S, spec::float8_e4m3fn>(rounding);
    case SimdFormat::float8_e5m2:
      return select_mode<S, spec::float8_e5m2>(rounding);
  }
  return nullptr;
}

void ConvertSimd(SimdFormat from, const void* src, SimdFormat to, void* dst, std::size_t count,
                 const SimdParams& params) {
  LoopFn loop = nullptr;
  switch (from) {
    case SimdFormat::float32:
      loop = select_target<spec::float32>(to, params.rounding);
      break;
    case SimdFormat::bfloat16:
      loop = select_target<spec::bfloat16>(to, params.rounding);
      break;
    case SimdFormat::float16:
      loop = select_target<spec::float16>(to, params.rounding);
      break;
    case SimdFormat::float8_e4m3fn:
      loop = select_target<spec::float8_e4m3fn>(to, params.rounding);
      break;
    case SimdFormat::float8_e5m2:
      loop = select_target<spec::float8_e5m2>(to, params.rounding);
      break;
  }
  loop(static_cast<const std::uint8_t*>(src), static_cast<std::uint8_t*>(dst), count, params);
}

const char* SimdTargetName() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace lowbit::bulk_detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::bulk_detail {

HWY_EXPORT(ConvertSimd);
HWY_EXPORT(SimdTargetName);

void convert_simd(SimdFormat from, const void* src, SimdFormat to, void* dst, std::size_t count,
                  const SimdParams& params) {
  HWY_DYNAMIC_DISPATCH(ConvertSimd)(from, src, to, dst, count, params);
}

const char* simd_target_name() {
  return HWY_DYNAMIC_DISPATCH(SimdTargetName)();
}

}  // namespace lowbit::bulk_detail
#endif  // HWY_ONCE
