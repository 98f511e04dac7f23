// Seeded random numbers with results fixed by replearn itself, not by the standard
// library: the same seed gives the same stream on every platform and compiler
// (std::normal_distribution is implementation-defined, so it is not used).
//
// Generator: xoshiro256** seeded through splitmix64. Normal samples: Box-Muller, both
// values of each pair used.
#ifndef REPLEARN_CORE_RNG_H_
#define REPLEARN_CORE_RNG_H_

#include <cstdint>

namespace replearn {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();
  // Standard normal N(0, 1).
  double Normal();
  // Uniform integer in [0, n), n >= 1 (rejection sampling, no modulo bias).
  uint64_t UniformInt(uint64_t n);

  // A seed for an independent child stream, e.g. per layer or per trial: a pure function
  // of (seed, stream), so a child never depends on how many numbers the parent drew.
  static uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace replearn

#endif  // REPLEARN_CORE_RNG_H_
