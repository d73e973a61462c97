#include "conversion_checks.hpp"

#include <fmt/format.h>

#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/integer.hpp"

namespace lowbit::test {

std::vector<ModeCase> mode_cases(std::uint32_t word1, std::uint32_t word2) {
  return {
      {Rounding::nearest_even, 0},   {Rounding::toward_zero, 0},          {Rounding::up, 0},
      {Rounding::down, 0},           {Rounding::nearest_away, 0},         {Rounding::odd, 0},
      {Rounding::stochastic, 0},     {Rounding::stochastic, 0x80000000u}, {Rounding::stochastic, 0xffffffffu},
      {Rounding::stochastic, word1}, {Rounding::stochastic, word2}};
}

std::string flags_text(Flags f) {
  std::string out;
  if (f.inexact()) out += "inexact ";
  if (f.underflow()) out += "underflow ";
  if (f.overflow()) out += "overflow ";
  if (f.invalid()) out += "invalid ";
  return out.empty() ? "none" : out.substr(0, out.size() - 1);
}

std::string options_text(Rounding mode, Policy policy, std::uint32_t random) {
  std::string out = fmt::format("{} {}", to_string(mode), to_string(policy));
  if (mode == Rounding::stochastic) out += fmt::format(" random={:#x}", random);
  return out;
}

void CheckLog::add(const std::string& what) {
  ++count_;
  if (first_.size() < 8) first_.push_back(what);
}

std::string CheckLog::summary() const {
  std::string out = fmt::format("{} mismatches in {} checks", count_, checked_);
  for (const auto& line : first_) out += "\n  " + line;
  return out;
}

void check_every_mode(const Format& format, const Unpacked& input, const std::vector<ModeCase>& cases,
                      const Expected& want, const std::function<std::string()>& describe, CheckLog& log) {
  for (const Policy policy : kPolicies) {
    for (const ModeCase& c : cases) {
      const RoundOptions options{c.mode, policy, c.random};
      Flags got_flags, spec_flags;
      const std::uint64_t got = format.pack(input, options, got_flags);
      const std::uint64_t spec_code = format.is_float()
                                          ? pack_float(format.float_spec(), input, options, spec_flags)
                                          : pack_integer(format.integer_spec(), input, options, spec_flags);
      const RefRounded expected = want(c.mode, policy, c.random);
      log.count_check();
      if (got != expected.code || got_flags != expected.flags || spec_code != got ||
          spec_flags != got_flags) {
        log.add(fmt::format("{} {} [{}]: got {:#x} ({}), expected {:#x} ({})", format.name(), describe(),
                            options_text(c.mode, policy, c.random), got, flags_text(got_flags), expected.code,
                            flags_text(expected.flags)));
      }
    }
  }
}

void check_every_mode(const Format& format, const Unpacked& input, const std::vector<ModeCase>& cases,
                      const RefRounder& ref, const Rational& exact, bool negative_zero,
                      const std::function<std::string()>& describe, CheckLog& log) {
  const RefRounder::Location at = ref.locate(exact, negative_zero);
  check_every_mode(
      format, input, cases,
      [&](Rounding mode, Policy policy, std::uint32_t random) {
        return ref.round_at(at, mode, policy, random);
      },
      describe, log);
}

}  // namespace lowbit::test
