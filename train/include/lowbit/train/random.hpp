// Random numbers for initialisation and dropout: a counter-based generator (splitmix64 of seed and counter),
// the same on every platform and standard library, whose whole state is two integers. Activation
// checkpointing saves the state before a segment's forward and restores it for the recompute, so dropout
// masks repeat exactly.
#pragma once

#include <cstdint>

namespace lowbit::train {

struct RngState {
  std::uint64_t seed = 0;
  std::uint64_t counter = 0;
  friend bool operator==(const RngState&, const RngState&) = default;
};

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : state_{seed, 0} {}
  std::uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double next_double();
  // Standard normal (Box-Muller on two uniforms).
  double next_normal();
  // Uniform integer in [0, bound) without modulo bias.
  std::uint64_t next_below(std::uint64_t bound);
  RngState state() const { return state_; }
  void set_state(const RngState& s) { state_ = s; }

 private:
  RngState state_;
};

// The generator ops use when none is passed (dropout); seeded by manual_seed.
Rng& default_rng();
void manual_seed(std::uint64_t seed);

}  // namespace lowbit::train
