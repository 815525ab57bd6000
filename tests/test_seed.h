// The seed of the randomised kernel tests: fresh each run (TRELLIS_TEST_SEED replays one),
// printed once so a failure can be reproduced.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>

namespace trellis::test {

inline uint64_t test_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("TRELLIS_TEST_SEED");
    const uint64_t s = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "[kernel tests] random seed " << s << " (replay with TRELLIS_TEST_SEED=" << s << ")\n";
    return s;
  }();
  return seed;
}

}  // namespace trellis::test
