// Shared by the micro-benchmarks: the thread pool and the repetition statistics.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/thread_pool.h"

namespace trellis::bench {

// TRELLIS_BENCH_THREADS overrides the thread count (default: all usable cores).
inline ThreadPool& pool() {
  static ThreadPool p([] {
    const char* env = std::getenv("TRELLIS_BENCH_THREADS");
    return env ? std::atoi(env) : available_cores();
  }());
  return p;
}

// With --benchmark_repetitions: the fastest run (min time, max rate): on a shared machine the
// mean mostly measures the neighbours.
inline double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
inline double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace trellis::bench
