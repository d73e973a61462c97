// The driver of the fp32 sweeps: every fp32 bit pattern (or a sample of chunks of them) into one format
// through the scalar engine, compared with the exact table oracle under both policies and with
// independent hardware/vendor references, on 2 threads. Threads only fill logs; Catch2's assertions
// (not thread-safe) run on the main thread afterwards.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lowbit/formats/float.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "oracle_table.hpp"

namespace lowbit::test {

// A chunk is a run of positive fp32 codes; each chunk checks those inputs and their negations.
inline constexpr std::uint32_t kSweepChunk = 1u << 12;  // small enough to stay in L1/L2 per thread
inline constexpr std::uint32_t kSweepChunks = 0x80000000u / kSweepChunk;
inline constexpr int kSweepThreads = 2;

class MismatchLog {
 public:
  struct Entry {
    std::string check;
    std::uint32_t input;
    std::uint64_t want, got;
  };
  static constexpr std::size_t kKept = 8;

  void expect(const char* check, std::uint32_t input, std::uint64_t want, std::uint64_t got) {
    if (want == got) return;
    record(check, input, want, got);
  }
  void record(const char* check, std::uint32_t input, std::uint64_t want, std::uint64_t got) {
    ++mismatches_;
    if (entries_.size() < kKept) entries_.push_back({check, input, want, got});
  }
  void add_checked(std::uint64_t n) { checked_ += n; }
  void merge(const MismatchLog& other) {
    mismatches_ += other.mismatches_;
    checked_ += other.checked_;
    for (const auto& e : other.entries_) {
      if (entries_.size() < kKept) entries_.push_back(e);
    }
  }
  std::uint64_t mismatches() const { return mismatches_; }
  std::uint64_t checked() const { return checked_; }
  std::string describe() const {
    std::ostringstream out;
    out << mismatches_ << " mismatches in " << checked_ << " comparisons";
    for (const auto& e : entries_) {
      out << "\n  " << e.check << ": input 0x" << std::hex << std::setw(8) << std::setfill('0') << e.input
          << " (" << std::hexfloat << std::bit_cast<float>(e.input) << std::defaultfloat << ") want 0x"
          << e.want << " got 0x" << e.got << std::dec;
    }
    return out.str();
  }

 private:
  std::uint64_t mismatches_ = 0, checked_ = 0;
  std::vector<Entry> entries_;
};

inline std::vector<std::uint32_t> all_sweep_chunks() {
  std::vector<std::uint32_t> chunks(kSweepChunks);
  for (std::uint32_t i = 0; i < kSweepChunks; ++i) chunks[i] = i;
  return chunks;
}

// A quick sample for the default suite: every 257th chunk, the chunks of fp32 zero/subnormals and
// inf/NaN, and the chunks holding each given edge value (a format's max, its overflow threshold, its
// smallest subnormal and half of it, ...).
inline std::vector<std::uint32_t> sample_sweep_chunks(const std::vector<float>& edges) {
  std::vector<std::uint32_t> chunks = {0, (0x7f800000u / kSweepChunk), kSweepChunks - 1};
  for (std::uint32_t i = 0; i < kSweepChunks; i += 257) chunks.push_back(i);
  for (float e : edges) chunks.push_back((std::bit_cast<std::uint32_t>(e) & 0x7fffffffu) / kSweepChunk);
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  return chunks;
}

// Runs `check_chunk(first_code, count, log)` for each chunk on kSweepThreads threads.
template <typename CheckChunk>
MismatchLog run_sweep(const std::vector<std::uint32_t>& chunks, CheckChunk check_chunk) {
  std::atomic<std::size_t> next{0};
  std::vector<MismatchLog> logs(kSweepThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kSweepThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = next++; i < chunks.size(); i = next++) {
        check_chunk(chunks[i] * kSweepChunk, kSweepChunk, logs[t]);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  MismatchLog all;
  for (const auto& log : logs) all.merge(log);
  return all;
}

// One chunk's inputs (+x, -x interleaved) and the engine's codes for them under both policies.
struct SweepChunk {
  std::vector<float> inputs;
  std::vector<std::uint16_t> ieee, saturate;  // every swept format has at most 16 bits
};

// Fills `chunk` for the positive codes [first, first + count) and their negations, and compares the
// scalar engine (pack_float with the constant spec S) with the table oracle under both policies. References
// then read chunk.inputs and compare with chunk.ieee/saturate. Flattened so that the engine is inlined with
// its spec a constant, as in a caller's code (and 2-3x faster).
template <FloatSpec S>
[[gnu::flatten]] void sweep_against_table(const TableOracle& oracle, std::uint32_t first, std::uint32_t count,
                                          SweepChunk& chunk, MismatchLog& log) {
  static_assert(S.bits() <= 16, "SweepChunk keeps 16-bit codes");
  constexpr RoundOptions kIeee{Rounding::nearest_even, Policy::ieee};
  constexpr RoundOptions kSaturate{Rounding::nearest_even, Policy::saturate};
  chunk.inputs.resize(2 * count);
  chunk.ieee.resize(2 * count);
  chunk.saturate.resize(2 * count);
  std::size_t hint = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    PolicyCodes want[2];
    oracle.round_fp32_both_signs(first + i, hint, want[0], want[1]);
    for (std::uint32_t sign = 0; sign < 2; ++sign) {
      const std::uint32_t bits = (first + i) | (sign << 31);
      const float x = std::bit_cast<float>(bits);
      // The engine as Float<S>::from(float, options) runs it, unpacking once for both policies.
      const Unpacked exact = unpack_float32(x);
      Flags flags;
      const auto ieee = static_cast<std::uint16_t>(pack_float(S, exact, kIeee, flags));
      const auto saturate = static_cast<std::uint16_t>(pack_float(S, exact, kSaturate, flags));
      log.expect("table oracle, ieee", bits, want[sign].ieee, ieee);
      log.expect("table oracle, saturate", bits, want[sign].saturate, saturate);
      chunk.inputs[2 * i + sign] = x;
      chunk.ieee[2 * i + sign] = ieee;
      chunk.saturate[2 * i + sign] = saturate;
    }
  }
  log.add_checked(4ull * count);
}

// Compares a reference's codes with the engine's: bit for bit, except that for NaN inputs only the class
// (and, with `nan_sign`, the sign bit) of the result is compared, the reference's NaN encoding differing.
template <typename Code>
void compare_with_reference(const char* check, const TableOracle& oracle, const std::vector<float>& inputs,
                            const std::vector<std::uint16_t>& engine, const Code* reference, bool nan_sign,
                            MismatchLog& log) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(inputs[i]);
    const std::uint64_t want = reference[i], got = engine[i];
    if (std::isnan(inputs[i])) {
      const bool same = oracle.is_nan_code(want) && oracle.is_nan_code(got) &&
                        (!nan_sign || (want & oracle.sign_bit()) == (got & oracle.sign_bit()));
      if (!same) log.record(check, bits, want, got);
    } else {
      log.expect(check, bits, want, got);
    }
  }
  log.add_checked(inputs.size());
}

// Reports the merged log on the main thread.
inline void require_no_mismatch(const std::string& what, const MismatchLog& log) {
  INFO(what << ": " << log.describe());
  CHECK(log.checked() > 0);
  CHECK(log.mismatches() == 0);
}

}  // namespace lowbit::test
