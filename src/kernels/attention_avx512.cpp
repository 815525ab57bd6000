// AVX-512 attention kernel (compiled with the flags of *_avx512.cpp; reached only through
// attn_partial_avx512() after a run-time CPU check). Per block of kAttnBlock positions, two
// schemes for the scores, chosen by the number of query rows:
//  - rows in lanes (n_rows ≥ kLaneRowsMin, GQA groups): a 16-lane vector holds 8 rows × 2
//    dims of scale·q (prepared once per state); per key, each pair of key elements is
//    broadcast (one 64-bit load) and multiplied into it, so one FMA serves every row and no
//    horizontal reduction is needed beyond adding the two dims of a pair. The scores come out
//    as [position][row] vectors and the online softmax is lane-wise (one lane per row);
//  - dot in lanes (few rows): q held in registers; per key a vector of partial sums over
//    head_dim, 16 keys' vectors reduced together by a 4-step transpose-add, softmax per row.
// Then V: all rows at once, CH 16-wide chunks of head_dim per pass over the positions, each
// V chunk loaded (and converted from F16) once and broadcast-multiplied into every row's
// accumulators, held in registers across the block. The kernel prefetches its head's slice of
// the cache rows kPrefetchAhead positions on — the keys while scoring, the values during the
// V pass (DRAM latency is otherwise exposed: each head reads only its slice of the strided
// rows, which the hardware prefetchers barely follow).
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

// Query rows from which a tile uses the rows-in-lanes scores (with fewer, most of the 8 row
// lanes would be empty and the dot-in-lanes scheme is faster; measured on Zen 4).
constexpr int64_t kLaneRowsMin = 4;
// How far ahead of the scores loop the cache rows are prefetched, in positions.
constexpr int64_t kPrefetchAhead = kAttnBlock;


__mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << n) - 1);
}

#include "kernels/simd_exp_avx512.inl"

// ---- prefetch ----

// Brings this head's slice of the K rows (and, with_values, the V rows) of positions
// [p0, p1) ∩ [.., prefetch_end) towards L2 (esize bytes per element). Always inlined: GCC
// counts prefetches as free of side effects, so a separate function of nothing but prefetches
// is deemed pure and its calls are deleted.
[[gnu::always_inline]] inline void prefetch_positions(const AttnJob& j, int64_t esize, int64_t p0, int64_t p1,
                                                      bool with_values) {
  if (p1 > j.prefetch_end) p1 = j.prefetch_end;
  const int64_t row_bytes = j.head_dim * esize, stride_bytes = j.stride * esize;
  const auto* k = static_cast<const char*>(j.k);
  const auto* v = static_cast<const char*>(j.v);
  const intptr_t v_minus_k = v - k;
  for (int64_t p = p0; p < p1; ++p) {
    const auto first = reinterpret_cast<uintptr_t>(k + p * stride_bytes) & ~uintptr_t{63};
    const auto end = reinterpret_cast<uintptr_t>(k + p * stride_bytes + row_bytes);
    for (uintptr_t a = first; a < end; a += 64) {
      __builtin_prefetch(reinterpret_cast<const char*>(a), 0, 2);
      if (with_values) __builtin_prefetch(reinterpret_cast<const char*>(a) + v_minus_k, 0, 2);
    }
  }
}

// The V rows accumulate_v prefetches while it consumes a block: row slices of `lines` cache
// lines at base + p·stride_bytes for p < n (the positions kPrefetchAhead on, up to
// prefetch_end). Spreading them over the V pass, instead of issuing them with the keys', keeps
// the memory system busy through the whole block.
struct VPrefetch {
  const char* base = nullptr;
  int64_t stride_bytes = 0, lines = 0, n = 0;
};

// ---- dot-in-lanes scores (few rows) ----

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

// Online-softmax update of one row (scores s[0..nb), one per position): s becomes
// e^(s − m_new), m and l follow, and corr = e^(m_old − m_new) is what acc must be scaled by.
void row_softmax(float* s, int64_t nb, float& m, float& l, float& corr) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < nb; p += 16) {
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(nb - p), s + p));
  }
  const float bmax = _mm512_reduce_max_ps(mx);
  const float m_new = bmax > m ? bmax : m;
  corr = m == -INFINITY ? 0.0f : _mm512_cvtss_f32(exp_ps(_mm512_set1_ps(m - m_new)));
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

// ---- rows-in-lanes scores (GQA groups) ----

// qt[16j + 2r + t] = scale·q[r][2j + t] for the pairs j of head_dim; 0 for r ≥ n_rows and
// past head_dim.
void prepare_lane_q(const float* q, int64_t n_rows, int64_t hd, float scale, float* qt) {
  const int64_t pairs = (hd + 1) / 2;
  for (int64_t j = 0; j < pairs; ++j) _mm512_storeu_ps(qt + 16 * j, _mm512_setzero_ps());
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t d = 0; d < hd; ++d) qt[16 * (d / 2) + 2 * r + d % 2] = scale * q[r * hd + d];
  }
}

// Two consecutive floats broadcast to every pair of lanes (one 64-bit load).
__m512 broadcast_pair(const float* p) {
  return _mm512_castsi512_ps(_mm512_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// s[8u + r] = score of row r against key rows[u], for U keys (U even). Each accumulator
// holds a key's 8 rows × 2 dims; adding the dims of each pair packs two keys per vector.
template <int U>
void lane_scores_keys(const float* qt, const float* const* rows, int64_t hd, float* s) {
  __m512 a[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) a[u] = _mm512_setzero_ps();
  const int64_t pairs = hd / 2;
  for (int64_t j = 0; j < pairs; ++j) {
    const __m512 qv = _mm512_loadu_ps(qt + 16 * j);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) a[u] = _mm512_fmadd_ps(broadcast_pair(rows[u] + 2 * j), qv, a[u]);
  }
  if (hd & 1) {  // the last dim alone (the q lanes of its missing partner are 0)
    const __m512 qv = _mm512_loadu_ps(qt + 16 * pairs);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) a[u] = _mm512_fmadd_ps(_mm512_set1_ps(rows[u][hd - 1]), qv, a[u]);
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#pragma GCC unroll 8
  for (int u = 0; u < U; u += 2) {
    _mm512_storeu_ps(s + 8 * u, _mm512_add_ps(_mm512_permutex2var_ps(a[u], even, a[u + 1]),
                                              _mm512_permutex2var_ps(a[u], odd, a[u + 1])));
  }
}

// s[8p + r] = scale·q_r·k_p for the block's positions b0 + p, p < nb (key p at k + p*ks, F32),
// 8 keys at a time; a last odd key is computed twice (its copy lands at s[8nb..], which the
// softmax ignores). Prefetches the cache rows kPrefetchAhead on, 8 at a time.
void lane_scores(const AttnJob& j, int64_t esize, int64_t b0, const float* qt, const float* k, int64_t ks,
                 int64_t nb, float* s) {
  const float* rows[8];
  int64_t p = 0;
  for (; p + 8 <= nb; p += 8) {
    prefetch_positions(j, esize, b0 + p + kPrefetchAhead, b0 + p + kPrefetchAhead + 8, false);
    for (int u = 0; u < 8; ++u) rows[u] = k + (p + u) * ks;
    lane_scores_keys<8>(qt, rows, j.head_dim, s + 8 * p);
  }
  prefetch_positions(j, esize, b0 + p + kPrefetchAhead, b0 + nb + kPrefetchAhead, false);
  for (; p < nb; p += 2) {
    rows[0] = k + p * ks;
    rows[1] = p + 1 < nb ? rows[0] + ks : rows[0];
    lane_scores_keys<2>(qt, rows, j.head_dim, s + 8 * p);
  }
}

// Online-softmax update of up to 8 rows whose scores are lane-wise (s[8p + r], p < nb): s
// becomes e^(s − m_new); m, l (n_rows each) follow; corr[0..8) = e^(m_old − m_new).
void lane_softmax(float* s, int64_t nb, int64_t n_rows, float* m, float* l, float* corr) {
  const __mmask8 rows = static_cast<__mmask8>((1u << n_rows) - 1);
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < nb; p += 2) {
    const __mmask16 valid = nb - p >= 2 ? __mmask16(0xFFFF) : __mmask16(0x00FF);
    mx = _mm512_mask_max_ps(mx, valid, mx, _mm512_loadu_ps(s + 8 * p));
  }
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  const __m256 m_old = _mm256_mask_loadu_ps(ninf, rows, m);
  const __m256 m_new = _mm256_max_ps(m_old, _mm256_max_ps(_mm512_castps512_ps256(mx), _mm512_extractf32x8_ps(mx, 1)));
  // e^(m_old − m_new), 0 where nothing was seen yet (exp_ps would give ~1e-38 for −inf).
  const __m256 c = _mm512_castps512_ps256(exp_ps(_mm512_castps256_ps512(_mm256_sub_ps(m_old, m_new))));
  _mm256_storeu_ps(corr, _mm256_maskz_mov_ps(_mm256_cmp_ps_mask(m_old, ninf, _CMP_NEQ_OQ), c));
  const __m512 m16 = _mm512_broadcast_f32x8(m_new);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t p = 0; p < nb; p += 2) {
    const __mmask16 valid = nb - p >= 2 ? __mmask16(0xFFFF) : __mmask16(0x00FF);
    const __m512 e = _mm512_maskz_mov_ps(valid, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(s + 8 * p), m16)));
    _mm512_storeu_ps(s + 8 * p, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m256 block_sum = _mm256_add_ps(_mm512_castps512_ps256(sum), _mm512_extractf32x8_ps(sum, 1));
  const __m256 l_new = _mm256_fmadd_ps(_mm256_mask_loadu_ps(_mm256_setzero_ps(), rows, l), _mm256_loadu_ps(corr), block_sum);
  _mm256_mask_storeu_ps(l, rows, l_new);
  _mm256_mask_storeu_ps(m, rows, m_new);
}

// ---- V ----

template <bool F16>
__m512 load_v(const void* v, int64_t off, __mmask16 m) {
  if constexpr (F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(v) + off));
  else return _mm512_maskz_loadu_ps(m, static_cast<const float*>(v) + off);
}

// acc[r] = corr[r]·acc[r] + Σ_p w(r, p)·v_p for NQ rows (acc rows hd apart), with w(r, p) at
// w[r + 8p] (LANES) or w[r·kAttnBlock + p]. CH chunks of 16 per pass over the positions: each
// V row is read once per pass, its chunks feeding NQ·CH accumulators held in registers
// (chunks past head_dim have an empty mask: no memory access).
template <int NQ, int CH, bool F16, bool LANES>
void accumulate_v(const float* w, const float* corr, const void* v, int64_t vs, int64_t nb, int64_t hd, float* acc,
                  const VPrefetch& pf) {
  constexpr int64_t RS = LANES ? 1 : kAttnBlock, PS = LANES ? 8 : 1;
  for (int64_t d0 = 0; d0 < hd; d0 += 16 * CH) {
    __mmask16 mk[CH];
    __m512 a[NQ][CH];
#pragma GCC unroll 8
    for (int c = 0; c < CH; ++c) mk[c] = tail_mask(hd - d0 - 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < NQ; ++r) {
      const __m512 cr = _mm512_set1_ps(corr[r]);
#pragma GCC unroll 8
      for (int c = 0; c < CH; ++c) a[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[c], acc + r * hd + d0 + 16 * c), cr);
    }
    for (int64_t p = 0; p < nb; ++p) {
      if (d0 == 0 && p < pf.n) {
        for (int64_t i = 0; i < pf.lines; ++i) __builtin_prefetch(pf.base + p * pf.stride_bytes + 64 * i, 0, 2);
      }
      __m512 vv[CH];
#pragma GCC unroll 8
      for (int c = 0; c < CH; ++c) vv[c] = load_v<F16>(v, p * vs + d0 + 16 * c, mk[c]);
#pragma GCC unroll 8
      for (int r = 0; r < NQ; ++r) {
        const __m512 wr = _mm512_set1_ps(w[r * RS + p * PS]);
#pragma GCC unroll 8
        for (int c = 0; c < CH; ++c) a[r][c] = _mm512_fmadd_ps(wr, vv[c], a[r][c]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NQ; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < CH; ++c) _mm512_mask_storeu_ps(acc + r * hd + d0 + 16 * c, mk[c], a[r][c]);
    }
  }
}

// NQ rows: as many chunks per pass as keep NQ·CH accumulators plus the loads within the 32
// registers. Instantiated only for the row counts of the scheme (LANES or not).
template <int NQ, bool F16, bool LANES>
void accumulate_nq(const float* w, const float* corr, const void* v, int64_t vs, int64_t nb, int64_t hd, float* acc,
                   const VPrefetch& pf) {
  if constexpr (LANES == (NQ >= kLaneRowsMin)) accumulate_v<NQ, NQ <= 4 ? 4 : 2, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
}

template <bool F16, bool LANES>
void accumulate_rows(int64_t n_rows, const float* w, const float* corr, const void* v, int64_t vs, int64_t nb,
                     int64_t hd, float* acc, const VPrefetch& pf) {
  switch (n_rows) {
    case 1: return accumulate_nq<1, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 2: return accumulate_nq<2, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 3: return accumulate_nq<3, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 4: return accumulate_nq<4, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 5: return accumulate_nq<5, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 6: return accumulate_nq<6, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    case 7: return accumulate_nq<7, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
    default: return accumulate_nq<8, F16, LANES>(w, corr, v, vs, nb, hd, acc, pf);
  }
}

// ---- one call ----

// Keys of the block to F32 (rows hd apart). Full chunks unmasked: masked stores are slow on
// some cores (Zen 4).
void convert_keys(const uint16_t* k, int64_t ks, int64_t nb, int64_t hd, float* out) {
  for (int64_t p = 0; p < nb; ++p) {
    int64_t d = 0;
    for (; d + 16 <= hd; d += 16) {
      _mm512_storeu_ps(out + p * hd + d, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + p * ks + d))));
    }
    if (d < hd) {
      const __mmask16 m = tail_mask(hd - d);
      _mm512_mask_storeu_ps(out + p * hd + d, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + p * ks + d)));
    }
  }
}

void init_state(const AttnJob& j) {
  for (int64_t r = 0; r < j.n_rows; ++r) {
    j.m[r] = -INFINITY;
    j.l[r] = 0.0f;
    for (int64_t d = 0; d < j.head_dim; d += 16) {
      _mm512_mask_storeu_ps(j.acc + r * j.head_dim + d, tail_mask(j.head_dim - d), _mm512_setzero_ps());
    }
  }
}

void finalize_state(const AttnJob& j) {
  for (int64_t r = 0; r < j.n_rows; ++r) {
    const __m512 inv = _mm512_set1_ps(1.0f / j.l[r]);
    for (int64_t d = 0; d < j.head_dim; d += 16) {
      const __mmask16 mk = tail_mask(j.head_dim - d);
      float* a = j.acc + r * j.head_dim + d;
      _mm512_mask_storeu_ps(a, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a), inv));
    }
  }
}

// Scores and softmax of one block [b0, b0 + nb) by the dot-in-lanes scheme: scores[r][p].
void row_block(const AttnJob& j, int64_t esize, const float* kb, int64_t ks, int64_t b0, int64_t nb, float* scores,
               float* corr) {
  const ScoresFn scores_fn = scores_for(j.head_dim);
  for (int64_t r = 0; r < j.n_rows; ++r) {
    // This row's share of the rows to prefetch.
    const int64_t ahead = b0 + kPrefetchAhead;
    prefetch_positions(j, esize, ahead + r * nb / j.n_rows, ahead + (r + 1) * nb / j.n_rows, false);
    float* s = scores + r * kAttnBlock;
    scores_fn(j.q + r * j.head_dim, kb, ks, nb, j.head_dim, j.scale, s);
    row_softmax(s, nb, j.m[r], j.l[r], corr[r]);
  }
}

template <bool F16>
void partial(const AttnJob& j) {
  static_assert(kAttnMaxRows == 8, "accumulate_rows has a case per row count; the lanes hold 8 rows");
  const int64_t hd = j.head_dim, esize = F16 ? 2 : 4;
  float* keys = j.scratch;                                         // [kAttnBlock, hd] (F16 cache)
  float* scores = keys + kAttnBlock * hd;                          // [n_rows][kAttnBlock] or [kAttnBlock][8]
  float* corr = scores + kAttnMaxRows * (kAttnBlock + 16);         // [8]
  const bool lanes = j.n_rows >= kLaneRowsMin;
  if (j.init) {
    // The item's first rows: asked for all at once, the memory system fetches them in
    // parallel instead of as the score loop reaches them.
    prefetch_positions(j, esize, j.p0, j.p0 + kPrefetchAhead, true);
    init_state(j);
    if (lanes) prepare_lane_q(j.q, j.n_rows, hd, j.scale, j.q_prep);
  }
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
    const void* vb = static_cast<const char*>(j.v) + b0 * j.stride * esize;
    VPrefetch pf;
    pf.base = static_cast<const char*>(vb) + kPrefetchAhead * j.stride * esize;
    pf.stride_bytes = j.stride * esize;
    pf.lines = (hd * esize + 63) / 64;
    pf.n = j.prefetch_end - (b0 + kPrefetchAhead);
    if (lanes) {
      lane_scores(j, esize, b0, j.q_prep, kb, ks, nb, scores);
      lane_softmax(scores, nb, j.n_rows, j.m, j.l, corr);
      accumulate_rows<F16, true>(j.n_rows, scores, corr, vb, j.stride, nb, hd, j.acc, pf);
    } else {
      row_block(j, esize, kb, ks, b0, nb, scores, corr);
      accumulate_rows<F16, false>(j.n_rows, scores, corr, vb, j.stride, nb, hd, j.acc, pf);
    }
  }
  if (j.finalize) finalize_state(j);
}

void attn_partial(const AttnJob& j) {
  if (j.f16) partial<true>(j);
  else partial<false>(j);
}

}  // namespace

AttnPartialFn attn_partial_avx512() { return attn_partial; }

}  // namespace trellis
