// Shared pieces of the bulk conversion tests: running a check on every Highway target, the scalar engine
// as the reference (Format::unpack + Format::pack per element, random bits from stochastic_bits), and
// mismatch reports that name the input, the result and the expected code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/format.hpp"

namespace lowbit::test {

// The Highway targets compiled into the library and supported by this CPU, best first.
std::vector<std::int64_t> simd_targets();
std::string target_name(std::int64_t target);

// Forces runtime dispatch to one target for its lifetime (hwy::SetSupportedTargetsForTest), and puts
// the CPU's own choice back afterwards, also when a REQUIRE throws.
class ForcedTarget {
 public:
  explicit ForcedTarget(std::int64_t target);
  ~ForcedTarget();
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

// Every rounding mode under both policies; stochastic with three seeds and a nonzero first index.
std::vector<BulkOptions> every_mode_and_policy();
std::string describe(const BulkOptions& options);

// Codes to and from a bulk array of element_bytes(format) bytes per element (little-endian).
std::vector<std::uint8_t> to_bytes(const std::vector<std::uint64_t>& codes, std::size_t width);
std::uint64_t code_at(const std::uint8_t* bytes, std::size_t index, std::size_t width);

// The reference: the scalar engine's code for each element, element i using the random bits of stream
// index options.first_index + i.
std::vector<std::uint64_t> scalar_reference(const Format& from, const Format& to,
                                            const std::vector<std::uint64_t>& codes,
                                            const BulkOptions& options);

// Differences between a bulk result and the reference: their number and the first few, described.
struct Comparison {
  std::size_t mismatches = 0;
  std::string first;  // up to 8 lines "index i: input 0x.. gave 0x.., scalar engine 0x.."
};
Comparison compare(const std::vector<std::uint64_t>& inputs, const std::uint8_t* result,
                   const std::vector<std::uint64_t>& want, std::size_t width);

// Converts `codes` with convert_bulk on every target and compares each result with `want`. Returns the
// total number of mismatches; the first ones are reported through Catch's INFO by the caller's CHECK.
struct TargetsComparison {
  std::size_t mismatches = 0;
  std::string report;  // target, pair, options and the first differing elements
};
// The floating-point environment the conversions run in: the default, or (x86) MXCSR's flush-to-zero and
// denormals-are-zero set in each converting thread, as programs built with -ffast-math run. The kernels use
// the CPU's fp16 conversions and a few multiplies, whose results must not change with them.
enum class FpEnvironment { standard, flush_denormals };

TargetsComparison convert_on_every_target(const Format& from, const Format& to,
                                          const std::vector<std::uint64_t>& codes, const BulkOptions& options,
                                          const std::vector<std::uint64_t>& want,
                                          FpEnvironment environment = FpEnvironment::standard);

// Runs fn(begin, end) on two threads over [0, n) (the test machine has two cores).
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace lowbit::test
