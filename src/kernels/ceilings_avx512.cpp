// AVX-512 inner loops of the ceiling measurements (compiled with the AVX-512 flags; only
// called when the CPU has them).
#include <immintrin.h>

#include <cstring>

#include "kernels/ceilings_kernels.h"

namespace trellis::ceiling_kernels {
namespace {

uint64_t read_sum(const uint8_t* p, size_t n) {
  // Four accumulators so the adds never limit the load rate.
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  const __m512i s = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, s);
  uint64_t total = 0;
  for (uint64_t x : lanes) total += x;
  return total;
}

// 16 chains: FMA latency (4 cycles) x 2 pipes needs at least 8 in flight; 16 leaves margin
// and still fits the 32 registers with the two operands.
constexpr int kChains = 16;

// Horizontal sums through memory: GCC 12's _mm512_reduce_add_* trip -Wuninitialized.
template <class T, class V>
double sum_lanes(V v) {
  alignas(64) T lanes[sizeof(V) / sizeof(T)];
  std::memcpy(lanes, &v, sizeof(V));
  double total = 0.0;
  for (T x : lanes) total += static_cast<double>(x);
  return total;
}

double fp32_chains(int64_t iters) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(0.001f * static_cast<float>(j));
  // acc = acc * a + b converges to b / (1 - a): no overflow, no denormals.
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm512_add_ps(s, acc[j]);
  return sum_lanes<float>(s);
}

double int8_chains(int64_t iters) {
  __m512i acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_epi32(j);
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);  // unsigned x signed bytes
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], u, s);
  }
  __m512i t = acc[0];
  for (int j = 1; j < kChains; ++j) t = _mm512_add_epi32(t, acc[j]);
  return sum_lanes<int32_t>(t);
}

}  // namespace

const Set& avx512_set() {
  // Per iteration: 16 chains x 16 lanes x 2 FLOPs; 16 chains x 64 byte products x 2 ops.
  static const Set s{"avx512", "avx512", "avx512-vnni", read_sum, fp32_chains, kChains * 16 * 2,
                     int8_chains, kChains * 64 * 2};
  return s;
}

}  // namespace trellis::ceiling_kernels
