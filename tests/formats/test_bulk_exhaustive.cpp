// All 2^32 fp32 inputs into bfloat16, float16, float8_e4m3fn and float8_e5m2 with nearest-even under both
// policies: the SIMD path against the scalar engine, bit for bit. On the best Highway target every input is
// checked; on every other target (checking every input on each would take ~3x longer, over this test's
// budget) every 7th input, a different residue class per target, out of the same sweep. Inputs run in
// order, so whole vectors take the kernels' fast paths wherever the values allow.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <array>
#include <cstring>

#include "lowbit/formats/float_engine.hpp"
#include "test_bulk_support.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

constexpr std::size_t kChunk = std::size_t{1} << 22;  // inputs per round: 16 MiB of fp32
constexpr std::uint32_t kStride = 7;                  // the other targets check every 7th input

// The scalar engine on a run of consecutive fp32 codes, with the target's spec a compile-time constant
// and everything inlined into the loop (the same functions, just faster to call 2^35 times).
template <FloatSpec T>
[[gnu::flatten]] void reference_run(std::uint32_t first, std::size_t n, Policy policy, std::uint8_t* out) {
  const RoundOptions options{Rounding::nearest_even, policy, 0};
  constexpr std::size_t kBytes = T.bits() / 8;
  for (std::size_t i = 0; i < n; ++i) {
    Flags ignored;
    const std::uint64_t code =
        pack_float(T, unpack_float(spec::float32, first + static_cast<std::uint32_t>(i)), options, ignored);
    std::memcpy(out + i * kBytes, &code, kBytes);
  }
}

struct Target {
  const char* name;
  void (*reference)(std::uint32_t, std::size_t, Policy, std::uint8_t*);
};
const std::array<Target, 4> kTargets = {{
    {"bfloat16", &reference_run<spec::bfloat16>},
    {"float16", &reference_run<spec::float16>},
    {"float8_e4m3fn", &reference_run<spec::float8_e4m3fn>},
    {"float8_e5m2", &reference_run<spec::float8_e5m2>},
}};

// Every step-th code of `from`, starting at offset, into `to` (codes of one Word each).
template <typename Word>
void gather(const std::uint8_t* from, std::size_t offset, std::size_t step, std::size_t n, std::uint8_t* to) {
  for (std::size_t k = 0; k < n; ++k) {
    Word w;
    std::memcpy(&w, from + (offset + k * step) * sizeof(Word), sizeof(Word));
    std::memcpy(to + k * sizeof(Word), &w, sizeof(Word));
  }
}

struct Tally {
  std::size_t checked = 0, mismatches = 0;
  std::string first;
};

}  // namespace

TEST_CASE(
    "every one of the 2^32 fp32 inputs converts in bulk to bf16, fp16, e4m3fn, e5m2 like the scalar engine",
    "[formats][slow]") {
  const Format from = find_format("float32");
  const std::vector<std::int64_t> targets = simd_targets();
  // tallies[format][policy][target]
  std::vector<Tally> tallies(kTargets.size() * 2 * targets.size());
  std::vector<std::uint32_t> input(kChunk), strided(kChunk / kStride + 1);
  std::vector<std::uint8_t> want(kChunk * 2), got(kChunk * 2), want_strided(kChunk * 2);

  for (std::uint64_t first = 0; first < (std::uint64_t{1} << 32); first += kChunk) {
    for (std::size_t i = 0; i < kChunk; ++i) input[i] = static_cast<std::uint32_t>(first + i);
    for (std::size_t f = 0; f < kTargets.size(); ++f) {
      const Format to = find_format(kTargets[f].name);
      const std::size_t width = element_bytes(to);
      for (int p = 0; p < 2; ++p) {
        const BulkOptions options{Rounding::nearest_even, p == 0 ? Policy::ieee : Policy::saturate, 0, 0};
        parallel_for(kChunk, [&](std::size_t begin, std::size_t end) {
          kTargets[f].reference(static_cast<std::uint32_t>(first + begin), end - begin, options.policy,
                                want.data() + begin * width);
        });
        for (std::size_t t = 0; t < targets.size(); ++t) {
          // The best target converts the whole chunk; target t > 0 the inputs congruent to t mod 7.
          const std::size_t offset = t == 0 ? 0 : (t + kStride - first % kStride) % kStride;
          const std::size_t step = t == 0 ? 1 : kStride;
          const std::size_t n = (kChunk - offset + step - 1) / step;
          const std::uint32_t* src = input.data();
          const std::uint8_t* expected = want.data();
          if (t > 0) {
            for (std::size_t k = 0; k < n; ++k) strided[k] = input[offset + k * step];
            if (width == 1) {
              gather<std::uint8_t>(want.data(), offset, step, n, want_strided.data());
            } else {
              gather<std::uint16_t>(want.data(), offset, step, n, want_strided.data());
            }
            src = strided.data();
            expected = want_strided.data();
          }
          ForcedTarget forced(targets[t]);
          Tally& tally = tallies[(f * 2 + p) * targets.size() + t];
          std::array<Tally, 2> halves;
          parallel_for(n, [&](std::size_t begin, std::size_t end) {
            convert_bulk(from, src + begin, to, got.data() + begin * width, end - begin, options);
            Tally& h = halves[begin == 0 ? 0 : 1];
            h.checked += end - begin;
            if (std::memcmp(&got[begin * width], &expected[begin * width], (end - begin) * width) == 0)
              return;
            for (std::size_t k = begin; k < end; ++k) {
              if (code_at(got.data(), k, width) == code_at(expected, k, width)) continue;
              if (++h.mismatches <= 4) {
                h.first += fmt::format("  input {:#010x} gave {:#x}, scalar engine {:#x}\n", src[k],
                                       code_at(got.data(), k, width), code_at(expected, k, width));
              }
            }
          });
          for (const Tally& h : halves) {
            tally.checked += h.checked;
            tally.mismatches += h.mismatches;
            if (tally.first.size() < 1000) tally.first += h.first;
          }
        }
      }
    }
  }

  for (std::size_t f = 0; f < kTargets.size(); ++f) {
    for (int p = 0; p < 2; ++p) {
      for (std::size_t t = 0; t < targets.size(); ++t) {
        const Tally& tally = tallies[(f * 2 + p) * targets.size() + t];
        INFO(fmt::format("float32 -> {}, nearest-even {}, target {}: {} of {} inputs differ\n{}",
                         kTargets[f].name, p == 0 ? "ieee" : "saturate", target_name(targets[t]),
                         tally.mismatches, tally.checked, tally.first));
        CHECK(tally.checked ==
              (t == 0 ? std::uint64_t{1} << 32 : ((std::uint64_t{1} << 32) + kStride - 1 - t) / kStride));
        CHECK(tally.mismatches == 0);
      }
    }
  }
}
