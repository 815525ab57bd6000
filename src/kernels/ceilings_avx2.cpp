// AVX2 inner loops of the ceiling measurements (compiled with AVX2+FMA; only called when the
// CPU has them). The int8 peak uses vpmaddubsw + vpmaddwd, as AVX2 int8 dot kernels do.
#include <immintrin.h>

#include "kernels/ceilings_kernels.h"

namespace trellis::ceiling_kernels {
namespace {

uint64_t read_sum(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

double fp32_chains(int64_t iters) {
  constexpr int kChains = 12;  // 16 registers: 12 chains + 2 operands
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(0.001f * static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm256_add_ps(s, acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  double total = 0.0;
  for (float v : lanes) total += v;
  return total;
}

constexpr int kIntChains = 6;  // 6 accumulators + 6 inputs + 2 operands = 14 registers

double int8_chains(int64_t iters) {
  __m256i acc[kIntChains], u[kIntChains];
  for (int j = 0; j < kIntChains; ++j) {
    acc[j] = _mm256_set1_epi32(j);
    u[j] = _mm256_set1_epi8(static_cast<char>(1 + j));  // distinct, so products are not shared
  }
  __m256i s = _mm256_set1_epi8(-2);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 6
    for (int j = 0; j < kIntChains; ++j) {
      const __m256i pairs = _mm256_maddubs_epi16(u[j], s);
      acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(pairs, ones));
    }
    // The compiler must assume s changed, so the products are recomputed every iteration
    // (as in a real kernel, where they come from fresh loads). Emits no instruction.
    __asm__ volatile("" : "+x"(s));
  }
  __m256i t = acc[0];
  for (int j = 1; j < kIntChains; ++j) t = _mm256_add_epi32(t, acc[j]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), t);
  double total = 0.0;
  for (int32_t v : lanes) total += v;
  return total;
}

}  // namespace

const Set& avx2_set() {
  // Per iteration: 12 chains x 8 lanes x 2 FLOPs; 6 chains x 32 byte products x 2 ops.
  static const Set s{"avx2", "avx2", "avx2", read_sum, fp32_chains, 12 * 8 * 2, int8_chains, kIntChains * 32 * 2};
  return s;
}

}  // namespace trellis::ceiling_kernels
