// AVX2 + FMA + F16C attention kernel (compiled with -mavx2 -mfma -mf16c; reached only through
// attn_partial_avx2() after a run-time CPU check). Scores dot-in-lanes: the group's rows
// two or three at a time against 4 keys, their partial-sum vectors in registers (each key and
// q chunk loaded once per step, F16 keys converted as loaded), reduced by hadd; a lone row takes 8 keys with q in
// registers and the keys as FMA memory operands; a vector exp for the online softmax; V in passes over a few
// 8-dim chunks with every row of (up to 4 of) the group in registers, so a V load feeds
// several rows and a weight broadcast several chunks, the softmax's correction factor
// applied when the accumulators are loaded. The kernel prefetches its head's cache rows one
// block ahead, spread over the loops (keys while scoring, values during the first V pass).
// (AVX-512's rows-in-lanes scores do not pay here: with 8 lanes each FMA needs its own
// broadcast load, and those, not the FMAs, set the speed — measured slower for every group.)
// The last chunk of a head_dim that is not a multiple of 8 uses maskload/maskstore (F32) or a
// small copy (F16).
// Prefill tiles (attn_tile, up to 48 query rows of one KV head) turn this around: the rows go
// in the lanes (q transposed once per tile), so scores and P·V are broadcast micro-kernels
// and the softmax needs no reductions. 135M F16 pp512, 5 alternating pairs: 482 -> 533 t/s.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/attention_kernels.h"

namespace trellis {
namespace {

__m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n >= 8 ? 8 : static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#include "kernels/simd_exp_avx2.inl"
#include "kernels/simd_transpose_avx2.inl"

float exp_scalar(float x) { return _mm256_cvtss_f32(exp_ps(_mm256_set1_ps(x))); }

// How far ahead of the scores loop the cache rows are prefetched, in positions.
constexpr int64_t kPrefetchAhead = kAttnBlock;

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane i of the result = sum of the lanes of v[i].
[[gnu::always_inline]] inline __m256 reduce8(const __m256 v[8]) {
  const __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 a = _mm256_hadd_ps(h01, h23), b = _mm256_hadd_ps(h45, h67);  // per 128-bit half
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

__m256 load_f32(const float* p, int64_t n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask(n));
}
void store_f32(float* p, int64_t n, __m256 v) {
  if (n >= 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, tail_mask(n), v);
}
// The last 1..7 elements of an F16 row (out of line: rare, and inlined into unrolled loops GCC
// loses track of n < 8).
[[gnu::noinline]] __m256 load_f16_tail(const uint16_t* p, int64_t n) {
  alignas(16) uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n && i < 8; ++i) tmp[i] = p[i];
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
}
__m256 load_f16(const uint16_t* p, int64_t n) {
  if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return load_f16_tail(p, n);
}

// Dot of q (held in NCH registers, the last chunk masked) with one key row.
template <int NCH>
__m256 dot_row(const __m256* qv, const float* row, __m256i last, bool last_full) {
  __m256 a = _mm256_mul_ps(qv[NCH - 1], last_full ? _mm256_loadu_ps(row + 8 * (NCH - 1))
                                                  : _mm256_maskload_ps(row + 8 * (NCH - 1), last));
#pragma GCC unroll 8
  for (int c = 0; c < NCH - 1; ++c) a = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(row + 8 * c), a);
  return a;
}

// Any head_dim: q read from L1 per chunk.
__m256 dot_row_any(const float* q, const float* row, int64_t hd) {
  __m256 a = _mm256_setzero_ps();
  for (int64_t d = 0; d < hd; d += 8) a = _mm256_fmadd_ps(load_f32(q + d, hd - d), load_f32(row + d, hd - d), a);
  return a;
}

// s[p] = scale·q·k_p for p < nb, key p at k + p*ks (F32). Per 8 positions, each key's dot is a
// vector of partial sums; the 8 vectors are reduced together (reduce8). NCH = head_dim's
// 8-wide chunks when q fits in registers (≤ 8), else 0 (any head_dim).
template <int NCH>
void block_scores(const float* q, const float* k, int64_t ks, int64_t nb, int64_t hd, float scale, float* s) {
  __m256 qv[NCH > 0 ? NCH : 1];
  const int64_t last_n = hd - 8 * (NCH - 1);
  const __m256i last = tail_mask(last_n);
  if constexpr (NCH > 0) {
#pragma GCC unroll 8
    for (int c = 0; c < NCH; ++c) qv[c] = load_f32(q + 8 * c, c == NCH - 1 ? last_n : 8);
  }
  const __m256 vscale = _mm256_set1_ps(scale);
  __m256 dots[8];
  for (int64_t p = 0; p < nb; p += 8) {
    const int64_t n = nb - p < 8 ? nb - p : 8;
    for (int64_t u = 0; u < n; ++u) {
      const float* row = k + (p + u) * ks;
      if constexpr (NCH > 0) dots[u] = dot_row<NCH>(qv, row, last, last_n >= 8);
      else dots[u] = dot_row_any(q, row, hd);
    }
    for (int64_t u = n; u < 8; ++u) dots[u] = _mm256_setzero_ps();
    store_f32(s + p, n, _mm256_mul_ps(reduce8(dots), vscale));
  }
}

// The same for head_dim a multiple of 8 (NCH chunks): per 8 keys, their 8 partial-sum vectors
// and up to 8 chunks of q stay in registers and the keys come as FMA memory operands, so 8
// independent FMA chains run at once (one key at a time, as above, leaves the FMA units
// waiting on its 8-step chain). The 8 keys' loads in one step read different chunks (key u
// chunk c + u): rows are a multiple of 64 bytes apart, so the same chunk of every row would
// hit the same L1 banks and halve the loads per cycle.
template <int NCH>
void block_scores_even(const float* q, const float* k, int64_t ks, int64_t nb, int64_t hd, float scale, float* s) {
  constexpr int R = NCH < 8 ? NCH : 8;  // chunks of q held per round
  static_assert(NCH % R == 0, "rounds of R chunks");
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t p = 0;
  for (; p + 8 <= nb; p += 8) {
    const float* rows[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; ++u) rows[u] = k + (p + u) * ks;
    __m256 dots[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; ++u) dots[u] = _mm256_setzero_ps();
#pragma GCC unroll 1
    for (int r0 = 0; r0 < NCH; r0 += R) {
      __m256 qv[R];
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) qv[i] = _mm256_loadu_ps(q + 8 * (r0 + i));
#pragma GCC unroll 8
      for (int c = 0; c < R; ++c) {
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u) {
          const int j = (c + u) % R;
          dots[u] = _mm256_fmadd_ps(qv[j], _mm256_loadu_ps(rows[u] + 8 * (r0 + j)), dots[u]);
        }
      }
    }
    _mm256_storeu_ps(s + p, _mm256_mul_ps(reduce8(dots), vscale));
  }
  if (p < nb) block_scores<0>(q, k + p * ks, ks, nb - p, hd, scale, s + p);
}

// Out of line: inlined with a constant head_dim, GCC warns about the scalar tail it then never runs.
[[gnu::noinline]] void convert_keys(const uint16_t* k, int64_t ks, int64_t nb, int64_t hd, float* out) {
  for (int64_t p = 0; p < nb; ++p) {
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      _mm256_storeu_ps(out + p * hd + d, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + p * ks + d))));
    }
    for (; d < hd; ++d) out[p * hd + d] = _cvtsh_ss(k[p * ks + d]);
  }
}

// Cache rows a loop prefetches while it consumes a block, a few per step: row slices of
// `lines` cache lines at base + p·stride_bytes for p < n (the positions kPrefetchAhead on, up
// to prefetch_end) — the keys from the scores loop, the values from the first V pass. Spread
// out, they keep the memory system busy through the whole block; issued as one burst, most
// wait for a free miss buffer (measured ~10% slower at depth 2048).
struct RowPrefetch {
  const char* base = nullptr;
  int64_t stride_bytes = 0, lines = 0, n = 0;
};
// The rows of this head from position `first` up to the job's prefetch_end; `rows` is the
// head's slice of position 0 (j.k or j.v).
RowPrefetch rows_from(const AttnJob& j, const void* rows, int64_t esize, int64_t first) {
  RowPrefetch pf;
  pf.base = static_cast<const char*>(rows) + first * j.stride * esize;
  pf.stride_bytes = j.stride * esize;
  pf.lines = (j.head_dim * esize + 63) / 64;
  pf.n = j.prefetch_end - first;
  return pf;
}

// Lane i of the result = sum of the lanes of v[i], for 4 vectors.
[[gnu::always_inline]] inline __m128 reduce4(const __m256 v[4]) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// R rows (R ≤ 3) at once for head_dim a multiple of 8: per 4 keys, R × 4 partial-sum vectors;
// each key chunk is loaded once into a register for the R rows and each q chunk once for the 4
// keys (R + 4 loads per 4R FMAs). The empty asm keeps the key chunk in its register: without it
// GCC folds the load into every FMA that uses it, one load per FMA again. F16 keys are
// converted as they are loaded (once per group of rows) instead of into an F32 copy of the
// block that each group read back. bench_attention decode24 F16 (0.5B shape, 2 threads, 8
// alternating runs, median of the best per run): 24 layers at depth 512 ~900 -> ~670 µs, one
// layer at 2048 from cache 107 -> 100 µs; 24 layers at 2048 (24 MiB) unchanged at ~4 ms,
// where the wait for the cache rows sets the time.
template <int R, int NCH, bool F16>
void block_scores_rows(const float* const* q, const void* keys, int64_t ks, int64_t nb, float scale, float* const* s,
                       const RowPrefetch& pf, float* tail_scratch) {
  using Elem = std::conditional_t<F16, uint16_t, float>;
  const Elem* k = static_cast<const Elem*>(keys);
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t p = 0;
  for (; p + 4 <= nb; p += 4) {
    for (int64_t u = p; u < p + 4 && u < pf.n; ++u) {
      for (int64_t i = 0; i < pf.lines; ++i) __builtin_prefetch(pf.base + u * pf.stride_bytes + 64 * i, 0, 2);
    }
    const Elem* rows[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) rows[u] = k + (p + u) * ks;
    __m256 dots[R][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u) dots[r][u] = _mm256_setzero_ps();
#pragma GCC unroll 1
    for (int c = 0; c < NCH; ++c) {
      __m256 qc[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) qc[r] = _mm256_loadu_ps(q[r] + 8 * c);
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u) {
        __m256 kv;
        if constexpr (F16) kv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[u] + 8 * c)));
        else kv = _mm256_loadu_ps(rows[u] + 8 * c);
        __asm__("" : "+x"(kv));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) dots[r][u] = _mm256_fmadd_ps(qc[r], kv, dots[r][u]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) _mm_storeu_ps(s[r] + p, _mm_mul_ps(reduce4(dots[r]), _mm256_castps256_ps128(vscale)));
  }
  if (p == nb) return;
  // The last 1..3 keys, one row at a time (F16: converted first).
  const float* tail = nullptr;
  int64_t tail_stride = ks;
  if constexpr (F16) {
    convert_keys(k + p * ks, ks, nb - p, 8 * NCH, tail_scratch);
    tail = tail_scratch;
    tail_stride = 8 * NCH;
  } else {
    tail = k + p * ks;
  }
  for (int r = 0; r < R; ++r) block_scores<0>(q[r], tail, tail_stride, nb - p, 8 * NCH, scale, s[r] + p);
}

using ScoresFn = void (*)(const float*, const float*, int64_t, int64_t, int64_t, float, float*);

ScoresFn scores_for(int64_t hd) {
  if (hd % 8 == 0) {
    switch (hd / 8) {
      case 4: return block_scores_even<4>;
      case 8: return block_scores_even<8>;
      case 16: return block_scores_even<16>;
      default: break;
    }
  }
  switch ((hd + 7) / 8) {
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

// Brings this head's slice of the K rows (and, with_values, the V rows) of positions
// [p0, p1) ∩ [.., prefetch_end) towards L2 (esize bytes per element). Always inlined: GCC
// counts prefetches as free of side effects, so a separate function of nothing but prefetches
// is deemed pure and its calls are deleted.
[[gnu::always_inline]] inline void prefetch_positions(const AttnJob& j, int64_t esize, int64_t p0, int64_t p1,
                                                      bool with_values) {
  if (p1 > j.prefetch_end) p1 = j.prefetch_end;
  const int64_t row_bytes = j.head_dim * esize, stride_bytes = j.stride * esize;
  const auto* k = static_cast<const char*>(j.k);
  const intptr_t v_minus_k = static_cast<const char*>(j.v) - k;
  for (int64_t p = p0; p < p1; ++p) {
    const auto first = reinterpret_cast<uintptr_t>(k + p * stride_bytes) & ~uintptr_t{63};
    const auto end = reinterpret_cast<uintptr_t>(k + p * stride_bytes + row_bytes);
    for (uintptr_t a = first; a < end; a += 64) {
      __builtin_prefetch(reinterpret_cast<const char*>(a), 0, 2);
      if (with_values) __builtin_prefetch(reinterpret_cast<const char*>(a) + v_minus_k, 0, 2);
    }
  }
}

// Online-softmax update of one row (scores s[0..nb)): s becomes e^(s − m_new), m and l
// follow, and corr = e^(m_old − m_new) is what acc must be scaled by.
void row_softmax(float* s, int64_t nb, float& m, float& l, float& corr) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 mx = ninf;
  for (int64_t p = 0; p < nb; p += 8) {
    const __m256 v = nb - p >= 8 ? _mm256_loadu_ps(s + p)
                                 : _mm256_blendv_ps(ninf, _mm256_maskload_ps(s + p, tail_mask(nb - p)),
                                                    _mm256_castsi256_ps(tail_mask(nb - p)));
    mx = _mm256_max_ps(mx, v);
  }
  const float bmax = hmax(mx);
  const float m_new = bmax > m ? bmax : m;
  corr = m == -INFINITY ? 0.0f : exp_scalar(m - m_new);
  const __m256 vm = _mm256_set1_ps(m_new);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t p = 0; p < nb; p += 8) {
    const int64_t n = nb - p;
    __m256 e = exp_ps(_mm256_sub_ps(load_f32(s + p, n), vm));
    if (n < 8) e = _mm256_and_ps(e, _mm256_castsi256_ps(tail_mask(n)));
    store_f32(s + p, n, e);
    sum = _mm256_add_ps(sum, e);
  }
  l = l * corr + hsum(sum);
  m = m_new;
}

// ---- V ----

template <bool F16>
__m256 load_v(const void* v, int64_t off, int64_t n) {
  if constexpr (F16) return load_f16(static_cast<const uint16_t*>(v) + off, n);
  else return load_f32(static_cast<const float*>(v) + off, n);
}

// acc[r][d0, d0 + 8C) = corr[r]·acc[r] + Σ_p w[r][p]·v_p over the same dims, for NQ rows (w rows
// kAttnBlock apart, acc rows hd apart): NQ·C accumulators and the C chunks of a V row in
// registers (≤ 16), so each V load feeds NQ FMAs and each weight broadcast C. kPrefetch: this
// pass also asks for the V rows pf describes, spread over its positions.
template <int NQ, int C, bool F16, bool kPrefetch>
void accumulate_pass(const float* w, const float* corr, const void* v, int64_t vs, int64_t nb, int64_t hd, int64_t d0,
                     float* acc, const RowPrefetch& pf) {
  __m256 a[NQ][C];
#pragma GCC unroll 8
  for (int r = 0; r < NQ; ++r) {
    const __m256 c = _mm256_set1_ps(corr[r]);
#pragma GCC unroll 8
    for (int k = 0; k < C; ++k) a[r][k] = _mm256_mul_ps(load_f32(acc + r * hd + d0 + 8 * k, hd - d0 - 8 * k), c);
  }
  for (int64_t p = 0; p < nb; ++p) {
    if constexpr (kPrefetch) {
      if (p < pf.n) {
        for (int64_t i = 0; i < pf.lines; ++i) __builtin_prefetch(pf.base + p * pf.stride_bytes + 64 * i, 0, 2);
      }
    }
    __m256 vv[C];
#pragma GCC unroll 8
    for (int k = 0; k < C; ++k) vv[k] = load_v<F16>(v, p * vs + d0 + 8 * k, hd - d0 - 8 * k);
#pragma GCC unroll 8
    for (int r = 0; r < NQ; ++r) {
      const __m256 wr = _mm256_broadcast_ss(w + r * kAttnBlock + p);
#pragma GCC unroll 8
      for (int k = 0; k < C; ++k) a[r][k] = _mm256_fmadd_ps(wr, vv[k], a[r][k]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NQ; ++r) {
#pragma GCC unroll 8
    for (int k = 0; k < C; ++k) store_f32(acc + r * hd + d0 + 8 * k, hd - d0 - 8 * k, a[r][k]);
  }
}

// Chunks per pass for NQ rows: NQ·C + C + 1 registers at most 16.
template <int NQ>
constexpr int kPassChunks = NQ == 1 ? 7 : NQ == 2 ? 4 : 3;

// All of hd for NQ ≤ 4 rows, in passes of kPassChunks<NQ> chunks (fewer in the last pass).
template <int NQ, bool F16>
void accumulate_v(const float* w, const float* corr, const void* v, int64_t vs, int64_t nb, int64_t hd, float* acc,
                  const RowPrefetch& pf) {
  constexpr int C = kPassChunks<NQ>;
  int64_t d0 = 0;
  bool first = true;
  auto pass = [&](auto chunks) {
    constexpr int k = decltype(chunks)::value;
    if (first) accumulate_pass<NQ, k, F16, true>(w, corr, v, vs, nb, hd, d0, acc, pf);
    else accumulate_pass<NQ, k, F16, false>(w, corr, v, vs, nb, hd, d0, acc, pf);
    first = false;
    d0 += 8 * k;
  };
  for (; hd - d0 > 8 * (C - 1); ) pass(std::integral_constant<int, C>{});
  // The last 1..C-1 chunks.
  switch ((hd - d0 + 7) / 8) {
    case 0: break;
    case 1: pass(std::integral_constant<int, 1>{}); break;
    case 2: if constexpr (C > 2) pass(std::integral_constant<int, 2>{}); break;
    case 3: if constexpr (C > 3) pass(std::integral_constant<int, 3>{}); break;
    case 4: if constexpr (C > 4) pass(std::integral_constant<int, 4>{}); break;
    case 5: if constexpr (C > 5) pass(std::integral_constant<int, 5>{}); break;
    default: if constexpr (C > 6) pass(std::integral_constant<int, 6>{}); break;
  }
}

// Rows in groups of at most 4 (the register budget above); the first group prefetches.
template <bool F16>
void accumulate_rows(int64_t n_rows, const float* w, const float* corr, const void* v, int64_t vs, int64_t nb,
                     int64_t hd, float* acc, const RowPrefetch& pf) {
  RowPrefetch none = pf;
  none.n = 0;
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    const RowPrefetch& p = r0 == 0 ? pf : none;
    const float* wr = w + r0 * kAttnBlock;
    float* ar = acc + r0 * hd;
    switch (n_rows - r0 < 4 ? n_rows - r0 : 4) {
      case 1: accumulate_v<1, F16>(wr, corr + r0, v, vs, nb, hd, ar, p); break;
      case 2: accumulate_v<2, F16>(wr, corr + r0, v, vs, nb, hd, ar, p); break;
      case 3: accumulate_v<3, F16>(wr, corr + r0, v, vs, nb, hd, ar, p); break;
      default: accumulate_v<4, F16>(wr, corr + r0, v, vs, nb, hd, ar, p); break;
    }
  }
}

// ---- one call ----

void init_state(const AttnJob& j) {
  for (int64_t r = 0; r < j.n_rows; ++r) {
    j.m[r] = -INFINITY;
    j.l[r] = 0.0f;
    for (int64_t d = 0; d < j.head_dim; d += 8) store_f32(j.acc + r * j.head_dim + d, j.head_dim - d, _mm256_setzero_ps());
  }
}

void finalize_state(const AttnJob& j) {
  for (int64_t r = 0; r < j.n_rows; ++r) {
    const __m256 inv = _mm256_set1_ps(1.0f / j.l[r]);
    for (int64_t d = 0; d < j.head_dim; d += 8) {
      float* a = j.acc + r * j.head_dim + d;
      store_f32(a, j.head_dim - d, _mm256_mul_ps(load_f32(a, j.head_dim - d), inv));
    }
  }
}

// The multi-row score kernels for head_dim (R = 2, 3), or nullptr (then one row at a time).
using RowsScoresFn = void (*)(const float* const*, const void*, int64_t, int64_t, float, float* const*, const RowPrefetch&,
                              float*);
template <int R, bool F16>
RowsScoresFn rows_scores_for(int64_t hd) {
  switch (hd) {
    case 32: return block_scores_rows<R, 4, F16>;
    case 64: return block_scores_rows<R, 8, F16>;
    case 128: return block_scores_rows<R, 16, F16>;
    default: return nullptr;
  }
}

// Rows scored together: groups of 3, with a remainder of 1 merged into a group of 2 + 2 (a
// lone row of 3·k + 1 would take the one-row kernel's load per FMA).
int64_t group_rows(int64_t left) { return left == 4 || left == 2 ? 2 : left == 1 ? 1 : 3; }

// Scores and softmax of one block [b0, b0 + nb) by the dot-in-lanes scheme: scores[r][p].
// Keys kb: F32 rows (ks floats apart), or with f16_keys the cache's own F16 rows, which only the
// multi-row kernels take (a lone row gets converted keys); tail_scratch: their last keys.
void row_block(const AttnJob& j, int64_t esize, const void* kb, int64_t ks, bool f16_keys, int64_t b0, int64_t nb,
               float* scores, float* corr, float* tail_scratch) {
  const ScoresFn scores_fn = scores_for(j.head_dim);
  const RowsScoresFn rows2 = f16_keys ? rows_scores_for<2, true>(j.head_dim) : rows_scores_for<2, false>(j.head_dim);
  const RowsScoresFn rows3 = f16_keys ? rows_scores_for<3, true>(j.head_dim) : rows_scores_for<3, false>(j.head_dim);
  const int64_t ahead = b0 + kPrefetchAhead;
  for (int64_t r0 = 0; r0 < j.n_rows;) {
    const int64_t g = rows2 == nullptr ? 1 : group_rows(j.n_rows - r0);
    // The first group's scores loop prefetches the keys of the block ahead, spread over its
    // steps; the one-row kernel gets its share at once.
    RowPrefetch kpf;
    if (r0 == 0 && rows2 != nullptr) {
      kpf = rows_from(j, j.k, esize, ahead);
    } else if (rows2 == nullptr) {
      prefetch_positions(j, esize, ahead + r0 * nb / j.n_rows, ahead + (r0 + g) * nb / j.n_rows, false);
    }
    const float* q[3];
    float* s[3];
    for (int64_t i = 0; i < g; ++i) {
      q[i] = j.q + (r0 + i) * j.head_dim;
      s[i] = scores + (r0 + i) * kAttnBlock;
    }
    if (g == 3) rows3(q, kb, ks, nb, j.scale, s, kpf, tail_scratch);
    else if (g == 2) rows2(q, kb, ks, nb, j.scale, s, kpf, tail_scratch);
    else scores_fn(q[0], static_cast<const float*>(kb), ks, nb, j.head_dim, j.scale, s[0]);
    for (int64_t i = 0; i < g; ++i) row_softmax(s[i], nb, j.m[r0 + i], j.l[r0 + i], corr[r0 + i]);
    r0 += g;
  }
}

template <bool F16>
void partial(const AttnJob& j) {
  static_assert(kAttnMaxRows == 8, "accumulate_rows has a case per row count");
  const int64_t hd = j.head_dim, esize = F16 ? 2 : 4;
  float* keys = j.scratch;                                  // [kAttnBlock, hd] (F16 cache)
  float* scores = keys + kAttnBlock * hd;                   // [n_rows][kAttnBlock]
  float* corr = scores + kAttnMaxRows * (kAttnBlock + 16);  // [8]
  // F16 keys straight into the multi-row score kernels: converting a block first (and reading
  // it back for each group of rows) was ~1/5 of a decode step's attention at depth 2048.
  const bool f16_keys = F16 && j.n_rows >= 2 && rows_scores_for<2, true>(hd) != nullptr;
  if (j.init) {
    // The item's first rows: asked for all at once, the memory system fetches them in
    // parallel instead of as the score loop reaches them.
    prefetch_positions(j, esize, j.p0, j.p0 + kPrefetchAhead, true);
    init_state(j);
  }
  for (int64_t b0 = j.p0; b0 < j.p1; b0 += kAttnBlock) {
    const int64_t nb = j.p1 - b0 < kAttnBlock ? j.p1 - b0 : kAttnBlock;
    const void* kb = keys;
    int64_t ks = hd;
    if constexpr (F16) {
      if (f16_keys) {
        kb = static_cast<const uint16_t*>(j.k) + b0 * j.stride;
        ks = j.stride;
      } else {
        convert_keys(static_cast<const uint16_t*>(j.k) + b0 * j.stride, j.stride, nb, hd, keys);
      }
    } else {
      kb = static_cast<const float*>(j.k) + b0 * j.stride;
      ks = j.stride;
    }
    const void* vb = static_cast<const char*>(j.v) + b0 * j.stride * esize;
    const RowPrefetch pf = rows_from(j, j.v, esize, b0 + kPrefetchAhead);
    row_block(j, esize, kb, ks, f16_keys, b0, nb, scores, corr, keys);
    accumulate_rows<F16>(j.n_rows, scores, corr, vb, j.stride, nb, hd, j.acc, pf);
  }
  if (j.finalize) finalize_state(j);
}

void attn_partial(const AttnJob& j) {
  if (j.f16) partial<true>(j);
  else partial<false>(j);
}

// ---- prefill tiles: rows in lanes ----
// The tile's rows sit in the lanes of 8-wide vectors (RP = rows rounded up to 8): q transposed
// to qt[d][RP] (times the scale), scores st[p][RP], output sums ot[d][RP]. Scores and P·V are
// then both broadcast micro-kernels like the float GEMM's (a key or value element broadcast
// against 16 rows' lanes, 12 accumulators), and the online softmax is vertical: a row's max
// and sum over the block are lane-wise, its correction factor multiplies its lane.

// st[p][r] = Σ_d k_p[d]·qt[d][r] for NP positions (key rows ks apart) and 8·NV rows.
template <int NP, int NV>
void tile_scores(const float* qt, int64_t rp, const float* k, int64_t ks, int64_t hd, float* st) {
  __m256 acc[NP][NV];
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[p][v] = _mm256_setzero_ps();
  for (int64_t d = 0; d < hd; ++d) {
    __m256 qv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) qv[v] = _mm256_loadu_ps(qt + d * rp + 8 * v);
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const __m256 kb = _mm256_broadcast_ss(k + p * ks + d);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[p][v] = _mm256_fmadd_ps(kb, qv[v], acc[p][v]);
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(st + p * rp + 8 * v, acc[p][v]);
}

// ot[d][r] = corr[r]·ot[d][r] + Σ_p v_p[d]·st[p][r] for ND dims (value rows vs apart) and
// 8·NV rows.
template <int ND, int NV>
void tile_pv(const float* st, int64_t rp, const float* v, int64_t vs, int64_t nb, const float* corr, float* ot) {
  __m256 acc[ND][NV];
#pragma GCC unroll 8
  for (int j = 0; j < ND; ++j)
#pragma GCC unroll 2
    for (int u = 0; u < NV; ++u) acc[j][u] = _mm256_mul_ps(_mm256_loadu_ps(ot + j * rp + 8 * u), _mm256_loadu_ps(corr + 8 * u));
  for (int64_t p = 0; p < nb; ++p) {
    __m256 sv[NV];
#pragma GCC unroll 2
    for (int u = 0; u < NV; ++u) sv[u] = _mm256_loadu_ps(st + p * rp + 8 * u);
#pragma GCC unroll 8
    for (int j = 0; j < ND; ++j) {
      const __m256 vb = _mm256_broadcast_ss(v + p * vs + j);
#pragma GCC unroll 2
      for (int u = 0; u < NV; ++u) acc[j][u] = _mm256_fmadd_ps(vb, sv[u], acc[j][u]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < ND; ++j)
#pragma GCC unroll 2
    for (int u = 0; u < NV; ++u) _mm256_storeu_ps(ot + j * rp + 8 * u, acc[j][u]);
}

// One block's scores for all rows: positions 6 at a time, rows 16 (then 8) at a time.
template <int NV>
void tile_scores_rows(const float* qt, int64_t rp, const float* k, int64_t ks, int64_t nb, int64_t hd, float* st) {
  int64_t p = 0;
  for (; p + 6 <= nb; p += 6) tile_scores<6, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp);
  switch (nb - p) {
    case 1: tile_scores<1, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp); break;
    case 2: tile_scores<2, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp); break;
    case 3: tile_scores<3, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp); break;
    case 4: tile_scores<4, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp); break;
    case 5: tile_scores<5, NV>(qt, rp, k + p * ks, ks, hd, st + p * rp); break;
    default: break;
  }
}

// One block's P·V for all rows: dims 6 at a time.
template <int NV>
void tile_pv_rows(const float* st, int64_t rp, const float* v, int64_t vs, int64_t nb, int64_t hd, const float* corr,
                  float* ot) {
  int64_t d = 0;
  for (; d + 6 <= hd; d += 6) tile_pv<6, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp);
  switch (hd - d) {
    case 1: tile_pv<1, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp); break;
    case 2: tile_pv<2, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp); break;
    case 3: tile_pv<3, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp); break;
    case 4: tile_pv<4, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp); break;
    case 5: tile_pv<5, NV>(st, rp, v + d, vs, nb, corr, ot + d * rp); break;
    default: break;
  }
}

// Positions p ≥ n_pos[r] of the block get −inf (the causal limit of each row).
void tile_mask(const int32_t* npos, int64_t rp, int64_t b0, int64_t p_first, int64_t nb, float* st) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t p = p_first; p < b0 + nb; ++p) {
    const __m256i pv = _mm256_set1_epi32(static_cast<int32_t>(p));
    for (int64_t r = 0; r < rp; r += 8) {
      const __m256 seen = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(npos + r)), pv));
      float* s = st + (p - b0) * rp + r;
      _mm256_storeu_ps(s, _mm256_blendv_ps(ninf, _mm256_loadu_ps(s), seen));
    }
  }
}

// Online softmax of the block, lane-wise: st becomes e^(s − m_new) (0 where masked), and
// per row m, l and the correction e^(m_old − m_new) for the sums so far.
void tile_softmax(float* st, int64_t rp, int64_t nb, float* m, float* l, float* corr) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t r = 0; r < rp; r += 8) {
    __m256 mx = ninf;
    for (int64_t p = 0; p < nb; ++p) mx = _mm256_max_ps(mx, _mm256_loadu_ps(st + p * rp + r));
    const __m256 m_old = _mm256_loadu_ps(m + r), m_new = _mm256_max_ps(m_old, mx);
    // m_old = −inf (the first block): the clamped exp gives ~1e-38, times sums of 0.
    _mm256_storeu_ps(corr + r, exp_ps(_mm256_sub_ps(m_old, m_new)));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t p = 0; p < nb; ++p) {
      float* s = st + p * rp + r;
      const __m256 x = _mm256_loadu_ps(s);
      const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(x, m_new)), _mm256_cmp_ps(x, ninf, _CMP_NEQ_OQ));
      _mm256_storeu_ps(s, e);
      sum = _mm256_add_ps(sum, e);
    }
    _mm256_storeu_ps(l + r, _mm256_fmadd_ps(_mm256_loadu_ps(l + r), _mm256_loadu_ps(corr + r), sum));
    _mm256_storeu_ps(m + r, m_new);
  }
}

// qt[d][r] = scale·q[r][d] for the tile's rows, 0 in the padding rows up to rp.
void tile_load_q(const AttnTileJob& j, int64_t rp, float* qt) {
  const int64_t hd = j.head_dim;
  const __m256 scale = _mm256_set1_ps(j.scale);
  for (int64_t r0 = 0; r0 < rp; r0 += 8) {
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      __m256 b[8];
      for (int i = 0; i < 8; ++i) b[i] = r0 + i < j.n_rows ? _mm256_mul_ps(_mm256_loadu_ps(j.q[r0 + i] + d), scale) : _mm256_setzero_ps();
      transpose8(b);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(qt + (d + i) * rp + r0, b[i]);
    }
    for (; d < hd; ++d) {
      for (int64_t r = r0; r < r0 + 8; ++r) qt[d * rp + r] = r < j.n_rows ? j.q[r][d] * j.scale : 0.0f;
    }
  }
}

// out[r][d] = ot[d][r] / l[r] for the tile's rows.
void tile_store_out(const AttnTileJob& j, int64_t rp, const float* ot, const float* l) {
  const int64_t hd = j.head_dim;
  for (int64_t r0 = 0; r0 < j.n_rows; r0 += 8) {
    const int64_t nr = std::min<int64_t>(8, j.n_rows - r0);
    float inv[8];
    for (int64_t i = 0; i < nr; ++i) inv[i] = 1.0f / l[r0 + i];
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      __m256 b[8];
      for (int i = 0; i < 8; ++i) b[i] = _mm256_loadu_ps(ot + (d + i) * rp + r0);
      transpose8(b);
      for (int64_t i = 0; i < nr; ++i) _mm256_storeu_ps(j.out[r0 + i] + d, _mm256_mul_ps(b[i], _mm256_set1_ps(inv[i])));
    }
    for (; d < hd; ++d) {
      for (int64_t i = 0; i < nr; ++i) j.out[r0 + i][d] = ot[d * rp + r0 + i] * inv[i];
    }
  }
}

void attn_tile(const AttnTileJob& j) {
  const int64_t hd = j.head_dim, rp = (j.n_rows + 7) / 8 * 8;
  float* qt = j.scratch;                        // [hd][rp]
  float* ot = qt + hd * kAttnTileRows;          // [hd][rp]
  float* kf = ot + hd * kAttnTileRows;          // [kAttnBlock][hd] (F16 cache)
  float* vf = kf + kAttnBlock * hd;             // [kAttnBlock][hd] (F16 cache)
  float* st = vf + kAttnBlock * hd;             // [kAttnBlock][rp]
  float* m = st + kAttnBlock * kAttnTileRows;   // [rp] each
  float* l = m + kAttnTileRows;
  float* corr = l + kAttnTileRows;
  auto* npos = reinterpret_cast<int32_t*>(corr + kAttnTileRows);
  int64_t min_pos = j.n_pos[0], max_pos = j.n_pos[0];
  for (int64_t r = 0; r < j.n_rows; ++r) {
    min_pos = std::min(min_pos, j.n_pos[r]);
    max_pos = std::max(max_pos, j.n_pos[r]);
  }
  for (int64_t r = 0; r < rp; ++r) {
    const bool real = r < j.n_rows;
    // A padding row: q = 0 and every position seen, so its lanes stay finite; never written out.
    npos[r] = static_cast<int32_t>(real ? j.n_pos[r] : max_pos);
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  tile_load_q(j, rp, qt);
  std::fill(ot, ot + hd * rp, 0.0f);
  for (int64_t b0 = 0; b0 < max_pos; b0 += kAttnBlock) {
    const int64_t nb = std::min(kAttnBlock, max_pos - b0);
    const float *kb, *vb;
    int64_t ks = hd;  // keys and values alike
    if (j.f16) {
      convert_keys(static_cast<const uint16_t*>(j.k) + b0 * j.stride, j.stride, nb, hd, kf);
      convert_keys(static_cast<const uint16_t*>(j.v) + b0 * j.stride, j.stride, nb, hd, vf);
      kb = kf;
      vb = vf;
    } else {
      kb = static_cast<const float*>(j.k) + b0 * j.stride;
      vb = static_cast<const float*>(j.v) + b0 * j.stride;
      ks = j.stride;
    }
    int64_t r = 0;
    for (; r + 16 <= rp; r += 16) tile_scores_rows<2>(qt + r, rp, kb, ks, nb, hd, st + r);
    if (r < rp) tile_scores_rows<1>(qt + r, rp, kb, ks, nb, hd, st + r);
    if (b0 + nb > min_pos) tile_mask(npos, rp, b0, std::max(b0, min_pos), nb, st);
    tile_softmax(st, rp, nb, m, l, corr);
    for (r = 0; r + 16 <= rp; r += 16) tile_pv_rows<2>(st + r, rp, vb, ks, nb, hd, corr + r, ot + r);
    if (r < rp) tile_pv_rows<1>(st + r, rp, vb, ks, nb, hd, corr + r, ot + r);
  }
  tile_store_out(j, rp, ot, l);
}

}  // namespace

AttnPartialFn attn_partial_avx2() { return attn_partial; }
AttnTileFn attn_tile_avx2() { return attn_tile; }

}  // namespace trellis
