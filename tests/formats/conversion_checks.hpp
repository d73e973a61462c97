// Shared machinery of the conversion tests: the rounding modes and policies every input goes through,
// and a log that counts mismatches and keeps the first few for the failure message (millions of inputs
// are checked, so one Catch2 assertion per input would dominate the run time).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/formats/format.hpp"
#include "lowbit/formats/rounding.hpp"
#include "lowbit/formats/unpacked.hpp"
#include "reference.hpp"

namespace lowbit::test {

struct ModeCase {
  Rounding mode;
  std::uint32_t random;  // the stochastic word (0 for the other modes)
};

// The six deterministic modes, and stochastic rounding with the edge words 0, 2^31 and 2^32 - 1 plus
// the two given words.
std::vector<ModeCase> mode_cases(std::uint32_t word1, std::uint32_t word2);
inline constexpr Policy kPolicies[] = {Policy::ieee, Policy::saturate};

std::string flags_text(Flags f);
std::string options_text(Rounding mode, Policy policy, std::uint32_t random);

class CheckLog {
 public:
  void add(const std::string& what);
  std::size_t count() const { return count_; }
  std::size_t checked() const { return checked_; }
  void count_check() { ++checked_; }
  std::string summary() const;

 private:
  std::size_t count_ = 0, checked_ = 0;
  std::vector<std::string> first_;
};

// Converts `input` with every mode case and policy through the registry Format::pack and the spec-level
// engine (pack_float / pack_integer) and compares code and flags with `want`.
using Expected = std::function<RefRounded(Rounding, Policy, std::uint32_t)>;
void check_every_mode(const Format& format, const Unpacked& input, const std::vector<ModeCase>& cases,
                      const Expected& want, const std::function<std::string()>& describe, CheckLog& log);

// The same against a table reference, locating the value once.
void check_every_mode(const Format& format, const Unpacked& input, const std::vector<ModeCase>& cases,
                      const RefRounder& ref, const Rational& exact, bool negative_zero,
                      const std::function<std::string()>& describe, CheckLog& log);

}  // namespace lowbit::test
