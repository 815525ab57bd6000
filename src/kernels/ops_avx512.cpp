// AVX-512 element-wise kernels (compiled with the flags of *_avx512.cpp; reached only through
// ops_avx512() after a run-time CPU check). Tails are masked. rmsnorm sums squares in double
// like the reference; add and rope round exactly as the reference does (bit-identical).
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* helpers (used by reduce/cvt intrinsics) as
// uninitialized; the values are always fully overwritten.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/ops_kernels.h"

// RoPE must round each product before the add/sub, as the reference does: GCC would otherwise
// fuse the intrinsics' multiply and add into FMAs (-ffp-contract=fast is its C++ default;
// clang contracts only within one source expression).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace trellis {
namespace {

#include "kernels/simd_exp_avx512.inl"

__mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    a0 = _mm512_fmadd_pd(lo, lo, a0);  // products of floats are exact in double
    a1 = _mm512_fmadd_pd(hi, hi, a1);
  }
  const double ss = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
  const __m512 scale = _mm512_set1_ps(static_cast<float>(1.0 / __builtin_sqrt(ss / static_cast<double>(n) + eps)));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale), _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 v = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, up + i));
    _mm512_mask_storeu_ps(gate + i, m, v);
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
  }
}

// Pairs (i, i + half): a' = a·c − b·s, b' = a·s + b·c over 16 pairs at a time.
void rope_half(float* v, int64_t half, const float* c, const float* s) {
  for (int64_t i = 0; i < half; i += 16) {
    const __mmask16 m = tail_mask(half - i);
    const __m512 a = _mm512_maskz_loadu_ps(m, v + i), b = _mm512_maskz_loadu_ps(m, v + half + i);
    const __m512 cv = _mm512_maskz_loadu_ps(m, c + i), sv = _mm512_maskz_loadu_ps(m, s + i);
    _mm512_mask_storeu_ps(v + i, m, _mm512_sub_ps(_mm512_mul_ps(a, cv), _mm512_mul_ps(b, sv)));
    _mm512_mask_storeu_ps(v + half + i, m, _mm512_add_ps(_mm512_mul_ps(a, sv), _mm512_mul_ps(b, cv)));
  }
}

// Pairs (2i, 2i+1), 8 pairs per vector: v' = v·(c c) + swap(v)·(−s s). x·(−s) is −(x·s) exactly
// and a + (−b) is a − b, so this rounds as the reference does.
void rope_interleaved(float* v, int64_t rope_dim, const float* c, const float* s) {
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512 neg_even = _mm512_castsi512_ps(_mm512_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0,
                                                                INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
  for (int64_t d = 0; d < rope_dim; d += 16) {
    const __mmask16 m = tail_mask(rope_dim - d);
    const __mmask16 mp = tail_mask((rope_dim - d) / 2);
    const __m512 cv = _mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(mp, c + d / 2));
    const __m512 sv = _mm512_xor_ps(_mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(mp, s + d / 2)), neg_even);
    const __m512 x = _mm512_maskz_loadu_ps(m, v + d);
    const __m512 r = _mm512_add_ps(_mm512_mul_ps(x, cv), _mm512_mul_ps(_mm512_permute_ps(x, 0xB1), sv));
    _mm512_mask_storeu_ps(v + d, m, r);
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
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

constexpr OpsKernels kAvx512{rmsnorm, silu_mul, add, rope, to_f16};

}  // namespace

const OpsKernels& ops_avx512() { return kAvx512; }

}  // namespace trellis
