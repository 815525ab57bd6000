// AVX-512 attention kernel (compiled with the flags of *_avx512.cpp; reached only through
// attn_partial_avx512() after a run-time CPU check). Per block of kAttnBlock positions:
//  - scores: q held in registers; per key a vector of partial sums over head_dim, 16 keys'
//    vectors reduced together by a 4-step transpose-add (no horizontal sum per dot);
//  - online softmax per row with a vector exp;
//  - V: all rows of the group at once, each V row loaded (and converted from F16) once and
//    broadcast-multiplied into every row's accumulators, held in registers across the block.
// head_dim of any size: the last 16-wide chunk is masked. F16 keys are converted once per
// block into scratch (they are reused by every row); F16 values are converted as loaded.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* helpers (used by reduce/cvt intrinsics) as
// uninitialized; the values are always fully overwritten.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>

#include "kernels/attention_kernels.h"

namespace trellis {
namespace {

__mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

#include "kernels/simd_exp_avx512.inl"

float exp_scalar(float x) { return _mm512_cvtss_f32(exp_ps(_mm512_set1_ps(x))); }

// Lane i of the result = sum of the lanes of v[i].
[[gnu::always_inline]] inline __m512 reduce16(const __m512 v[16]) {
  __m512 w[8], x[4];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane: (a0+a2) (b0+b2) (a1+a3) (b1+b3)
    w[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {  // per 128-bit lane: the lane's sum of v[4i], ..., v[4i+3]
    const __m512d a = _mm512_castps_pd(w[2 * i]), b = _mm512_castps_pd(w[2 * i + 1]);
    x[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  const __m512 y0 = _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88), _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
  const __m512 y1 = _mm512_add_ps(_mm512_shuffle_f32x4(x[2], x[3], 0x88), _mm512_shuffle_f32x4(x[2], x[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(y0, y1, 0x88), _mm512_shuffle_f32x4(y0, y1, 0xDD));
}

// Dot of q (held in NCH registers, the last chunk masked) with one key row.
template <int NCH>
__m512 dot_row(const __m512* qv, const float* row, __mmask16 last) {
  __m512 a = _mm512_mul_ps(qv[NCH - 1], _mm512_maskz_loadu_ps(last, row + 16 * (NCH - 1)));
#pragma GCC unroll 8
  for (int c = 0; c < NCH - 1; ++c) a = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(row + 16 * c), a);
  return a;
}

// Any head_dim: q read from L1 per chunk.
__m512 dot_row_any(const float* q, const float* row, int64_t hd) {
  __m512 a = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; d += 16) {
    const __mmask16 m = tail_mask(hd - d);
    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, row + d), a);
  }
  return a;
}

// s[p] = scale·q·k_p for p < nb, key p at k + p*ks (F32). Per 16 positions, each key's dot is
// a vector of partial sums; the 16 vectors are reduced together (reduce16). NCH = head_dim's
// 16-wide chunks when q fits in registers (≤ 8), else 0 (any head_dim).
template <int NCH>
void block_scores(const float* q, const float* k, int64_t ks, int64_t nb, int64_t hd, float scale, float* s) {
  __m512 qv[NCH > 0 ? NCH : 1];
  const __mmask16 last = tail_mask(hd - 16 * (NCH - 1));
  if constexpr (NCH > 0) {
#pragma GCC unroll 8
    for (int c = 0; c < NCH; ++c) qv[c] = _mm512_maskz_loadu_ps(c == NCH - 1 ? last : __mmask16(0xFFFF), q + 16 * c);
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 dots[16];
  for (int64_t p = 0; p < nb; p += 16) {
    const int64_t n = nb - p < 16 ? nb - p : 16;
    for (int64_t u = 0; u < n; ++u) {
      const float* row = k + (p + u) * ks;
      if constexpr (NCH > 0) dots[u] = dot_row<NCH>(qv, row, last);
      else dots[u] = dot_row_any(q, row, hd);
    }
    for (int64_t u = n; u < 16; ++u) dots[u] = _mm512_setzero_ps();
    _mm512_mask_storeu_ps(s + p, tail_mask(n), _mm512_mul_ps(reduce16(dots), vscale));
  }
}

using ScoresFn = void (*)(const float*, const float*, int64_t, int64_t, int64_t, float, float*);

ScoresFn scores_for(int64_t hd) {
  switch ((hd + 15) / 16) {
    case 1: return block_scores<1>;
    case 2: return block_scores<2>;
    case 3: return block_scores<3>;
    case 4: return block_scores<4>;
    case 5: return block_scores<5>;
    case 6: return block_scores<6>;
    case 7: return block_scores<7>;
    case 8: return block_scores<8>;
    default: return block_scores<0>;
  }
}

void convert_keys(const uint16_t* k, int64_t ks, int64_t nb, int64_t hd, float* out) {
  for (int64_t p = 0; p < nb; ++p) {
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = tail_mask(hd - d);
      _mm512_mask_storeu_ps(out + p * hd + d, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + p * ks + d)));
    }
  }
}

// Online-softmax update of one row: s[0..nb) becomes e^(s − m_new); acc, m, l follow.
void softmax_update(float* s, int64_t nb, float* acc, int64_t hd, float& m, float& l) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < nb; p += 16) {
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(nb - p), s + p));
  }
  const float bmax = _mm512_reduce_max_ps(mx);
  const float m_new = bmax > m ? bmax : m;
  const float corr = m == -INFINITY ? 0.0f : exp_scalar(m - m_new);
  if (corr != 1.0f) {
    const __m512 c = _mm512_set1_ps(corr);
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 mk = tail_mask(hd - d);
      _mm512_mask_storeu_ps(acc + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, acc + d), c));
    }
  }
  const __m512 vm = _mm512_set1_ps(m_new);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t p = 0; p < nb; p += 16) {
    const __mmask16 mk = tail_mask(nb - p);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, s + p), vm));
    _mm512_mask_storeu_ps(s + p, mk, e);
    sum = _mm512_mask_add_ps(sum, mk, sum, e);
  }
  l = l * corr + _mm512_reduce_add_ps(sum);
  m = m_new;
}

template <bool F16>
__m512 load_v(const void* v, int64_t off, __mmask16 m) {
  if constexpr (F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(v) + off));
  else return _mm512_maskz_loadu_ps(m, static_cast<const float*>(v) + off);
}

// acc[r] += Σ_p w[r][p]·v_p for NQ rows (w rows kAttnBlock apart, acc rows hd apart). U
// positions in flight with their own accumulators keep enough FMA chains when NQ is small.
template <int NQ, bool F16>
void accumulate_v(const float* w, const void* v, int64_t vs, int64_t nb, int64_t hd, float* acc) {
  constexpr int U = NQ == 1 ? 8 : NQ == 2 ? 4 : NQ <= 4 ? 2 : 1;
  for (int64_t d = 0; d < hd; d += 16) {
    const __mmask16 mk = tail_mask(hd - d);
    __m512 a[U][NQ];
#pragma GCC unroll 8
    for (int r = 0; r < NQ; ++r) {
      a[0][r] = _mm512_maskz_loadu_ps(mk, acc + r * hd + d);
#pragma GCC unroll 8
      for (int u = 1; u < U; ++u) a[u][r] = _mm512_setzero_ps();
    }
    int64_t p = 0;
    for (; p + U <= nb; p += U) {
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        const __m512 vv = load_v<F16>(v, (p + u) * vs + d, mk);
#pragma GCC unroll 8
        for (int r = 0; r < NQ; ++r) {
          a[u][r] = _mm512_fmadd_ps(_mm512_set1_ps(w[r * kAttnBlock + p + u]), vv, a[u][r]);
        }
      }
    }
    for (; p < nb; ++p) {
      const __m512 vv = load_v<F16>(v, p * vs + d, mk);
#pragma GCC unroll 8
      for (int r = 0; r < NQ; ++r) a[0][r] = _mm512_fmadd_ps(_mm512_set1_ps(w[r * kAttnBlock + p]), vv, a[0][r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < NQ; ++r) {
#pragma GCC unroll 8
      for (int u = 1; u < U; ++u) a[0][r] = _mm512_add_ps(a[0][r], a[u][r]);
      _mm512_mask_storeu_ps(acc + r * hd + d, mk, a[0][r]);
    }
  }
}

template <bool F16>
void accumulate_rows(int64_t n_rows, const float* w, const void* v, int64_t vs, int64_t nb, int64_t hd,
                     float* acc) {
  switch (n_rows) {
    case 1: return accumulate_v<1, F16>(w, v, vs, nb, hd, acc);
    case 2: return accumulate_v<2, F16>(w, v, vs, nb, hd, acc);
    case 3: return accumulate_v<3, F16>(w, v, vs, nb, hd, acc);
    case 4: return accumulate_v<4, F16>(w, v, vs, nb, hd, acc);
    case 5: return accumulate_v<5, F16>(w, v, vs, nb, hd, acc);
    case 6: return accumulate_v<6, F16>(w, v, vs, nb, hd, acc);
    case 7: return accumulate_v<7, F16>(w, v, vs, nb, hd, acc);
    default: return accumulate_v<8, F16>(w, v, vs, nb, hd, acc);
  }
}

template <bool F16>
void partial(const AttnJob& j) {
  static_assert(kAttnMaxRows == 8, "accumulate_rows has a case per row count");
  const int64_t hd = j.head_dim;
  float* keys = j.scratch;                     // [kAttnBlock, hd] (F16 cache)
  float* scores = j.scratch + kAttnBlock * hd;  // [n_rows, kAttnBlock]
  for (int64_t r = 0; j.init && r < j.n_rows; ++r) {
    j.m[r] = -INFINITY;
    j.l[r] = 0.0f;
    for (int64_t d = 0; d < hd; d += 16) _mm512_mask_storeu_ps(j.acc + r * hd + d, tail_mask(hd - d), _mm512_setzero_ps());
  }
  const ScoresFn scores_fn = scores_for(hd);
  for (int64_t b0 = j.p0; b0 < j.p1; b0 += kAttnBlock) {
    const int64_t nb = j.p1 - b0 < kAttnBlock ? j.p1 - b0 : kAttnBlock;
    const float* kb = keys;
    int64_t ks = hd;
    if constexpr (F16) {
      convert_keys(static_cast<const uint16_t*>(j.k) + b0 * j.stride, j.stride, nb, hd, keys);
    } else {
      kb = static_cast<const float*>(j.k) + b0 * j.stride;
      ks = j.stride;
    }
    for (int64_t r = 0; r < j.n_rows; ++r) {
      float* s = scores + r * kAttnBlock;
      scores_fn(j.q + r * hd, kb, ks, nb, hd, j.scale, s);
      softmax_update(s, nb, j.acc + r * hd, hd, j.m[r], j.l[r]);
    }
    const void* vb = F16 ? static_cast<const void*>(static_cast<const uint16_t*>(j.v) + b0 * j.stride)
                         : static_cast<const void*>(static_cast<const float*>(j.v) + b0 * j.stride);
    accumulate_rows<F16>(j.n_rows, scores, vb, j.stride, nb, hd, j.acc);
  }
  if (j.finalize) {
    for (int64_t r = 0; r < j.n_rows; ++r) {
      const __m512 inv = _mm512_set1_ps(1.0f / j.l[r]);
      for (int64_t d = 0; d < hd; d += 16) {
        const __mmask16 mk = tail_mask(hd - d);
        float* a = j.acc + r * hd + d;
        _mm512_mask_storeu_ps(a, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a), inv));
      }
    }
  }
}

void attn_partial(const AttnJob& j) {
  if (j.f16) partial<true>(j);
  else partial<false>(j);
}

}  // namespace

AttnPartialFn attn_partial_avx512() { return attn_partial; }

}  // namespace trellis
