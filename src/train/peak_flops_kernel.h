// The FMA loop of peak_flops, compiled per instruction set (peak_flops*.cpp). Included only there.
#pragma once
#include <cstdint>

namespace trellis::peak_detail {
// Internal linkage: each including file (one per instruction set) keeps its own copy.
namespace {

template <int kBytes> struct VecOf;
template <> struct VecOf<16> { typedef float type __attribute__((vector_size(16))); };
template <> struct VecOf<32> { typedef float type __attribute__((vector_size(32))); };
template <> struct VecOf<64> { typedef float type __attribute__((vector_size(64))); };

// 10 independent vector accumulators (enough to cover FMA latency x throughput), `iters` rounds.
template <int kBytes>
float fma_loop(int64_t iters, float seed) {
  using V = typename VecOf<kBytes>::type;
  V acc[10], m, a;
#pragma GCC unroll 10
  for (int i = 0; i < 10; ++i) acc[i] = V{} + seed * static_cast<float>(i + 1);
  m = V{} + 0.999999f;
  a = V{} + 1e-7f;
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 10  // keeps the accumulators in registers
    for (int i = 0; i < 10; ++i) acc[i] = acc[i] * m + a;
  }
  V s = acc[0];
  for (int i = 1; i < 10; ++i) s += acc[i];
  return s[0];
}

}  // namespace
}  // namespace trellis::peak_detail
