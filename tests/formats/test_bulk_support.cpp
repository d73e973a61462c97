#include "test_bulk_support.hpp"

#include <fmt/format.h>
#include <hwy/targets.h>

#include <cstring>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/rounding.hpp"

namespace lowbit::test {

std::vector<std::int64_t> simd_targets() {
  return hwy::SupportedAndGeneratedTargets();
}

std::string target_name(std::int64_t target) {
  return hwy::TargetName(target);
}

ForcedTarget::ForcedTarget(std::int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
}

ForcedTarget::~ForcedTarget() {
  hwy::SetSupportedTargetsForTest(0);
}

std::vector<BulkOptions> every_mode_and_policy() {
  std::vector<BulkOptions> all;
  for (Policy policy : {Policy::ieee, Policy::saturate}) {
    for (Rounding rounding : {Rounding::nearest_even, Rounding::toward_zero, Rounding::up, Rounding::down,
                              Rounding::nearest_away, Rounding::odd}) {
      all.push_back({rounding, policy, 0, 0});
    }
    for (std::uint64_t seed : {0ull, 1ull, 0x9e3779b97f4a7c15ull}) {
      all.push_back({Rounding::stochastic, policy, seed, seed * 977 + 5});
    }
  }
  return all;
}

std::string describe(const BulkOptions& options) {
  std::string text = fmt::format("{} {}", to_string(options.rounding), to_string(options.policy));
  if (options.rounding == Rounding::stochastic) {
    text += fmt::format(" seed {:#x} first index {}", options.seed, options.first_index);
  }
  return text;
}

namespace {

// A fixed-size copy per element (a memcpy of a run-time size is a library call, slow per element).
template <typename Word>
std::uint64_t load_word(const std::uint8_t* p) {
  Word w;
  std::memcpy(&w, p, sizeof(Word));
  return w;
}

template <typename Word>
void store_word(std::uint8_t* p, std::uint64_t code) {
  const auto w = static_cast<Word>(code);
  std::memcpy(p, &w, sizeof(Word));
}

}  // namespace

std::vector<std::uint8_t> to_bytes(const std::vector<std::uint64_t>& codes, std::size_t width) {
  std::vector<std::uint8_t> bytes(codes.size() * width);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    std::uint8_t* p = &bytes[i * width];
    switch (width) {
      case 1:
        store_word<std::uint8_t>(p, codes[i]);
        break;
      case 2:
        store_word<std::uint16_t>(p, codes[i]);
        break;
      case 4:
        store_word<std::uint32_t>(p, codes[i]);
        break;
      default:
        store_word<std::uint64_t>(p, codes[i]);
        break;
    }
  }
  return bytes;
}

std::uint64_t code_at(const std::uint8_t* bytes, std::size_t index, std::size_t width) {
  const std::uint8_t* p = bytes + index * width;
  switch (width) {
    case 1:
      return load_word<std::uint8_t>(p);
    case 2:
      return load_word<std::uint16_t>(p);
    case 4:
      return load_word<std::uint32_t>(p);
    default:
      return load_word<std::uint64_t>(p);
  }
}

namespace {

// The scalar engine with both specs compile-time constants and everything inlined: the same functions as
// Format::unpack + Format::pack, several times faster to call hundreds of millions of times.
template <FloatSpec S, FloatSpec T>
[[gnu::flatten]] void engine_run(const std::uint64_t* codes, std::uint64_t* out, std::size_t begin,
                                 std::size_t end, const BulkOptions& options) {
  RoundOptions round{options.rounding, options.policy, 0};
  Flags ignored;
  for (std::size_t i = begin; i < end; ++i) {
    if (options.rounding == Rounding::stochastic)
      round.random = stochastic_bits(options.seed, options.first_index + i);
    out[i] = pack_float(T, unpack_float(S, codes[i]), round, ignored);
  }
}

using EngineRun = void (*)(const std::uint64_t*, std::uint64_t*, std::size_t, std::size_t,
                           const BulkOptions&);

template <FloatSpec S>
EngineRun engine_to(const Format& to) {
  if (!to.is_float()) return nullptr;
  const FloatSpec& t = to.float_spec();
  if (t == spec::float32) return &engine_run<S, spec::float32>;
  if (t == spec::bfloat16) return &engine_run<S, spec::bfloat16>;
  if (t == spec::float16) return &engine_run<S, spec::float16>;
  if (t == spec::float8_e4m3fn) return &engine_run<S, spec::float8_e4m3fn>;
  if (t == spec::float8_e5m2) return &engine_run<S, spec::float8_e5m2>;
  return nullptr;
}

EngineRun engine_for(const Format& from, const Format& to) {
  if (!from.is_float()) return nullptr;
  const FloatSpec& s = from.float_spec();
  if (s == spec::float32) return engine_to<spec::float32>(to);
  if (s == spec::bfloat16) return engine_to<spec::bfloat16>(to);
  if (s == spec::float16) return engine_to<spec::float16>(to);
  if (s == spec::float8_e4m3fn) return engine_to<spec::float8_e4m3fn>(to);
  if (s == spec::float8_e5m2) return engine_to<spec::float8_e5m2>(to);
  return nullptr;
}

}  // namespace

std::vector<std::uint64_t> scalar_reference(const Format& from, const Format& to,
                                            const std::vector<std::uint64_t>& codes,
                                            const BulkOptions& options) {
  std::vector<std::uint64_t> want(codes.size());
  const EngineRun fast = engine_for(from, to);
  parallel_for(codes.size(), [&](std::size_t begin, std::size_t end) {
    if (fast) {
      fast(codes.data(), want.data(), begin, end, options);
      return;
    }
    RoundOptions round{options.rounding, options.policy, 0};
    Flags ignored;
    for (std::size_t i = begin; i < end; ++i) {
      if (options.rounding == Rounding::stochastic)
        round.random = stochastic_bits(options.seed, options.first_index + i);
      want[i] = to.pack(from.unpack(codes[i]), round, ignored);
    }
  });
  return want;
}

namespace {

template <typename Word>
void compare_run(const std::vector<std::uint64_t>& inputs, const std::uint8_t* result,
                 const std::vector<std::uint64_t>& want, std::size_t begin, std::size_t end, Comparison& c) {
  for (std::size_t i = begin; i < end; ++i) {
    const std::uint64_t got = load_word<Word>(result + i * sizeof(Word));
    if (got == want[i]) continue;
    if (++c.mismatches <= 8) {
      c.first += fmt::format("  element {}: input {:#x} gave {:#x}, scalar engine {:#x}\n", i, inputs[i], got,
                             want[i]);
    }
  }
}

}  // namespace

Comparison compare(const std::vector<std::uint64_t>& inputs, const std::uint8_t* result,
                   const std::vector<std::uint64_t>& want, std::size_t width) {
  Comparison halves[2];
  parallel_for(want.size(), [&](std::size_t begin, std::size_t end) {
    Comparison& c = halves[begin == 0 ? 0 : 1];
    switch (width) {
      case 1:
        compare_run<std::uint8_t>(inputs, result, want, begin, end, c);
        break;
      case 2:
        compare_run<std::uint16_t>(inputs, result, want, begin, end, c);
        break;
      case 4:
        compare_run<std::uint32_t>(inputs, result, want, begin, end, c);
        break;
      default:
        compare_run<std::uint64_t>(inputs, result, want, begin, end, c);
        break;
    }
  });
  halves[0].mismatches += halves[1].mismatches;
  halves[0].first += halves[1].first;
  return halves[0];
}

namespace {

// Sets MXCSR's FTZ and DAZ bits for this thread while alive (x86; elsewhere nothing to set).
class FlushDenormals {
 public:
  explicit FlushDenormals(bool on) {
#if defined(__x86_64__) || defined(__i386__)
    if (on) {
      saved_ = _mm_getcsr();
      _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
      set_ = true;
    }
#else
    (void)on;
#endif
  }
  ~FlushDenormals() {
#if defined(__x86_64__) || defined(__i386__)
    if (set_) _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
  bool set_ = false;
};

}  // namespace

TargetsComparison convert_on_every_target(const Format& from, const Format& to,
                                          const std::vector<std::uint64_t>& codes, const BulkOptions& options,
                                          const std::vector<std::uint64_t>& want, FpEnvironment environment) {
  const std::vector<std::uint8_t> src = to_bytes(codes, element_bytes(from));
  std::vector<std::uint8_t> dst(codes.size() * element_bytes(to));
  TargetsComparison total;
  for (std::int64_t target : simd_targets()) {
    ForcedTarget forced(target);
    // Two threads, each converting half the array as its own call (the stream index continues).
    parallel_for(codes.size(), [&](std::size_t begin, std::size_t end) {
      const FlushDenormals flush(environment == FpEnvironment::flush_denormals);
      BulkOptions part = options;
      part.first_index = options.first_index + begin;
      convert_bulk(from, src.data() + begin * element_bytes(from), to, dst.data() + begin * element_bytes(to),
                   end - begin, part);
    });
    const Comparison c = compare(codes, dst.data(), want, element_bytes(to));
    if (c.mismatches == 0) continue;
    total.mismatches += c.mismatches;
    total.report += fmt::format("{} -> {}, {}{}, target {}: {} of {} differ\n{}", from.name(), to.name(),
                                describe(options),
                                environment == FpEnvironment::flush_denormals ? ", FTZ and DAZ set" : "",
                                target_name(target), c.mismatches, codes.size(), c.first);
  }
  return total;
}

void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n < 4096) {
    fn(0, n);
    return;
  }
  std::thread other([&] { fn(n / 2, n); });
  fn(0, n / 2);
  other.join();
}

}  // namespace lowbit::test
