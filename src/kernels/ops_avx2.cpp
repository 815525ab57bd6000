// AVX2 + FMA element-wise kernels (compiled with -mavx2 -mfma -mf16c; reached only through
// ops_avx2() after a run-time CPU check). Tails use maskload/maskstore. rmsnorm sums squares
// in double like the reference; add and rope round exactly as the reference does.
#include <immintrin.h>

#include "kernels/ops_kernels.h"

// RoPE must round each product before the add/sub, as the reference does: GCC would otherwise
// fuse the intrinsics' multiply and add into FMAs (-ffp-contract=fast is its C++ default;
// clang contracts only within one source expression).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace trellis {
namespace {

#include "kernels/simd_exp_avx2.inl"

__m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n >= 8 ? 8 : static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
__m256 load(const float* p, int64_t n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask(n)); }
void store(float* p, int64_t n, __m256 v) {
  if (n >= 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, tail_mask(n), v);
}

void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 v = load(x + i, n - i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    a0 = _mm256_fmadd_pd(lo, lo, a0);  // products of floats are exact in double
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  const __m256d a = _mm256_add_pd(a0, a1);
  __m128d t = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  t = _mm_add_sd(t, _mm_unpackhi_pd(t, t));
  const double ss = _mm_cvtsd_f64(t);
  const __m256 scale = _mm256_set1_ps(static_cast<float>(1.0 / __builtin_sqrt(ss / static_cast<double>(n) + eps)));
  for (int64_t i = 0; i < n; i += 8) {
    store(out + i, n - i, _mm256_mul_ps(_mm256_mul_ps(load(x + i, n - i), scale), load(w + i, n - i)));
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 g = load(gate + i, n - i);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    store(gate + i, n - i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), load(up + i, n - i)));
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) store(y + i, n - i, _mm256_add_ps(load(y + i, n - i), load(x + i, n - i)));
}

// Pairs (i, i + half): a' = a·c − b·s, b' = a·s + b·c over 8 pairs at a time.
void rope_half(float* v, int64_t half, const float* c, const float* s) {
  for (int64_t i = 0; i < half; i += 8) {
    const int64_t n = half - i;
    const __m256 a = load(v + i, n), b = load(v + half + i, n), cv = load(c + i, n), sv = load(s + i, n);
    store(v + i, n, _mm256_sub_ps(_mm256_mul_ps(a, cv), _mm256_mul_ps(b, sv)));
    store(v + half + i, n, _mm256_add_ps(_mm256_mul_ps(a, sv), _mm256_mul_ps(b, cv)));
  }
}

// Pairs (2i, 2i+1), 4 pairs per vector: v' = v·(c c) + swap(v)·(−s s). x·(−s) is −(x·s) exactly
// and a + (−b) is a − b, so this rounds as the reference does.
void rope_interleaved(float* v, int64_t rope_dim, const float* c, const float* s) {
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256 neg_even = _mm256_castsi256_ps(_mm256_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
  for (int64_t d = 0; d < rope_dim; d += 8) {
    const int64_t n = rope_dim - d, np = n / 2;
    const __m256 c4 = load(c + d / 2, np < 4 ? np : 4), s4 = load(s + d / 2, np < 4 ? np : 4);
    const __m256 cv = _mm256_permutevar8x32_ps(c4, dup);
    const __m256 sv = _mm256_xor_ps(_mm256_permutevar8x32_ps(s4, dup), neg_even);
    const __m256 x = load(v + d, n);
    store(v + d, n, _mm256_add_ps(_mm256_mul_ps(x, cv), _mm256_mul_ps(_mm256_permute_ps(x, 0xB1), sv)));
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const float* c, const float* s,
          bool interleaved) {
  for (int64_t h = 0; h < n_heads; ++h) {
    if (interleaved) rope_interleaved(x + h * head_dim, rope_dim, c, s);
    else rope_half(x + h * head_dim, rope_dim / 2, c, s);
  }
}

void to_f16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    alignas(16) uint16_t h[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(h), _mm256_cvtps_ph(load(x + i, n - i), _MM_FROUND_TO_NEAREST_INT));
    for (int64_t j = 0; i + j < n; ++j) out[i + j] = h[j];
  }
}

constexpr OpsKernels kAvx2{rmsnorm, silu_mul, add, rope, to_f16};

}  // namespace

const OpsKernels& ops_avx2() { return kAvx2; }

}  // namespace trellis
