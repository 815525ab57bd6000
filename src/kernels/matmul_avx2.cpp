// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; reached only through
// avx2_kernels() after a run-time CPU check). Integer weights: maddubs (u8 × s8 → s16 pairs)
// and madd into s32 per 32-element block, then the block's float scale by FMA.
// Decode reads the interleaved copy (kernels/interleave.h) four rows per call when the model
// has one, else one row per call; prefill packs blocks of 16 rows for the tile kernels
// ("prefill tiles" below).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "core/quant_blocks.h"
#include "kernels/interleave.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

#include "kernels/simd_transpose_avx2.inl"

// Σ q·a per 4-byte group, as 8 s32 lanes. q unsigned (≤ 63, so maddubs cannot saturate).
__m256i dot_u8(__m256i q, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, a), _mm256_set1_epi16(1));
}
// The same for signed q in [-127, 127]: |q| × (a with q's sign).
__m256i dot_s8(__m256i q, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)),
                           _mm256_set1_epi16(1));
}

#include "kernels/matmul_x86_dots.inl"

// ---- activations --------------------------------------------------------------------------

void quantize_acts_avx2(const float* x, int64_t n, int8_t* qs, float* d, float* ds, float* ds16) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  // Named vectors, not arrays: GCC 12 copied a `__m256 v[4]` through the stack in 16-byte
  // halves, and the 32-byte reloads stalled on store forwarding (~160 cycles a block).
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    const __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
    const __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    const float db = hmax(m) / 127.f;
    const __m256 id = _mm256_set1_ps(db != 0.f ? 1.f / db : 0.f);
    auto code = [&](__m256 v) { return _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v, id)), lo), hi); };
    const __m256i q0 = code(v0), q1 = code(v1), q2 = code(v2), q3 = code(v3);
    const int s0 = hsum_i32(_mm256_add_epi32(q0, q1)), s1 = hsum_i32(_mm256_add_epi32(q2, q3));
    // packs works within 128-bit lanes; the permute restores element order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), _mm256_permutevar8x32_epi32(p, perm));
    d[b] = db;
    ds[b] = db * static_cast<float>(s0 + s1);
    ds16[2 * b] = db * static_cast<float>(s0);
    ds16[2 * b + 1] = db * static_cast<float>(s1);
  }
}

// ---- decode from the interleaved copy (kernels/interleave.h) -------------------------------
// Four rows per call in the lane-per-row form of the AVX-512 kernels, split over two vectors:
// "01" holds rows 0 and 1 (one per 128-bit lane), "23" rows 2 and 3. A block's 64 code bytes
// are exactly these two vectors, and the tile's 16 F16 scales (row-major, four blocks per
// row) convert into the same two halves.

__m256i bcast16(const int8_t* p) { return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// A group's four row results (lane r = row r) to y[0, n_rows). A masked store: a copy loop of
// n_rows floats became a memcpy call per group (~1% of decode).
void store_group_rows(__m128 r0123, int n_rows, float* y) {
  if (n_rows == 4) _mm_storeu_ps(y, r0123);
  else _mm_maskstore_ps(y, _mm_cmpgt_epi32(_mm_set1_epi32(n_rows), _mm_setr_epi32(0, 1, 2, 3)), r0123);
}

// Two row pairs' sums of four partial sums per row (lane r of pair p = row 2p + r) to y.
void store_pair_sums(__m256 v01, __m256 v23, int n_rows, float* y) {
  const __m256 h = _mm256_hadd_ps(v01, v23);  // lane 0: r0 r0 r2 r2, lane 1: r1 r1 r3 r3
  const __m256 t = _mm256_hadd_ps(h, h);      // lane 0: r0 r2 .., lane 1: r1 r3 ..
  const __m128 lo = _mm256_castps256_ps128(t), hi = _mm256_extractf128_ps(t, 1);
  store_group_rows(_mm_unpacklo_ps(lo, hi), n_rows, y);
}

// The 5th bits of one half (h) of a block of rows 2p, 2p+1 as 0x10 bytes. `masks` holds the
// block's 16 mask bytes (kernels/interleave.h: per half, rows 0..3 × 16 bits) in both 128-bit
// lanes, loaded once per block; each byte of a row's mask is spread over the 8 elements it
// covers (row 2p in the low lane, row 2p+1 in the high lane) and each element tests its bit.
__m256i high_bits_pair(__m256i masks, int pair, int half) {
  const char b = static_cast<char>(8 * half + 4 * pair);
  const __m256i spread = _mm256_shuffle_epi8(masks, _mm256_setr_epi8(b, b, b, b, b, b, b, b, b + 1, b + 1, b + 1, b + 1, b + 1,
                                                                     b + 1, b + 1, b + 1, b + 2, b + 2, b + 2, b + 2, b + 2,
                                                                     b + 2, b + 2, b + 2, b + 3, b + 3, b + 3, b + 3, b + 3,
                                                                     b + 3, b + 3, b + 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// The nibble codes of a block of rows 2p, 2p+1 (elements 0-15 in lo, 16-31 in hi), and their
// integer sums against the block's activations (a_lo: elements 0-15 in both 128-bit halves,
// a_hi: 16-31). Codes ≤ 31: the two maddubs results add in 16 bits without overflow
// (2 · 31 · 127 · 2 < 32768), so one madd widens both.
struct NibblePair {
  __m256i lo, hi;
};
NibblePair nibbles_of_pair(const uint8_t* codes, int pair) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i x = load256(codes + 32 * pair);
  return {_mm256_and_si256(x, m4), _mm256_and_si256(_mm256_srli_epi16(x, 4), m4)};
}
__m256i dot_pair(const NibblePair& q, __m256i a_lo, __m256i a_hi) {
  return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(q.lo, a_lo), _mm256_maddubs_epi16(q.hi, a_hi)),
                           _mm256_set1_epi16(1));
}

// Per format: integer sums of block `codes` for rows 0,1 (pair 0) or 2,3 (pair 1); the tile
// header's bytes (16 F16 scales, then for kMin formats 16 F16 minimums); the offset: w =
// scale·code + kOffset·scale, or (kMin) + kOffset·minimum.
struct X4Q4_0 {
  static constexpr int kRowBytes = 16;
  static constexpr int kHeader = 32;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -8.f;
  static __m256i dot(const uint8_t* codes, int pair, __m256i a_lo, __m256i a_hi) {
    return dot_pair(nibbles_of_pair(codes, pair), a_lo, a_hi);
  }
};
struct X4Q4_1 : X4Q4_0 {
  static constexpr int kHeader = 64;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 1.f;
};
struct X4Q5_0 {
  static constexpr int kRowBytes = 20;
  static constexpr int kHeader = 32;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -16.f;
  static __m256i dot(const uint8_t* codes, int pair, __m256i a_lo, __m256i a_hi) {
    NibblePair q = nibbles_of_pair(codes, pair);
    const __m256i masks = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 64)));
    q.lo = _mm256_or_si256(q.lo, high_bits_pair(masks, pair, 0));
    q.hi = _mm256_or_si256(q.hi, high_bits_pair(masks, pair, 1));
    return dot_pair(q, a_lo, a_hi);
  }
};
struct X4Q5_1 : X4Q5_0 {
  static constexpr int kHeader = 64;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 1.f;
};
struct X4Q8_0 {  // stored biased by 128: back to signed for maddubs (which would saturate)
  static constexpr int kRowBytes = 32;
  static constexpr int kHeader = 32;
  static constexpr bool kMin = false;
  static constexpr float kOffset = 0.f;
  static __m256i dot(const uint8_t* codes, int pair, __m256i a_lo, __m256i a_hi) {
    const __m256i bias = _mm256_set1_epi8(-128);
    return _mm256_add_epi32(dot_s8(_mm256_xor_si256(load256(codes + 32 * pair), bias), a_lo),
                            dot_s8(_mm256_xor_si256(load256(codes + 64 + 32 * pair), bias), a_hi));
  }
};

// One tile of kCnt blocks (kernels/interleave.h: 16 F16 scales, then the blocks' codes); d4 and
// ds4 are the activation scales and sums of its blocks. Consecutive blocks go to alternate
// accumulators, so the FMA latency does not chain the blocks.
template <class X, int kCnt>
[[gnu::always_inline]] inline void x4_tile(const uint8_t* g, const int8_t* ab, __m128 d4, __m128 ds4, __m256 (&acc)[2][2],
                                           __m256 (&corr)[2]) {
  constexpr int64_t kBlockArea = 4 * X::kRowBytes;
  const __m256 adv = _mm256_set_m128(d4, d4);
  const __m256 dw[2] = {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g))),
                        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16)))};
  if constexpr (X::kOffset != 0.f) {  // the offsets (scales or minimums) against d_act·Σa per block
    const __m256 dsv = _mm256_set_m128(ds4, ds4);
    const uint8_t* off = X::kMin ? g + 32 : g;
    corr[0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(off))), dsv, corr[0]);
    corr[1] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(off + 16))), dsv, corr[1]);
  }
  const __m256 sc[2] = {_mm256_mul_ps(dw[0], adv), _mm256_mul_ps(dw[1], adv)};
  const uint8_t* codes = g + X::kHeader;
#pragma GCC unroll 4
  for (int j = 0; j < kCnt; ++j) {
    const __m256i a_lo = bcast16(ab + 32 * j), a_hi = bcast16(ab + 32 * j + 16);
    const __m256i lane = _mm256_set1_epi32(j);  // block j's scale of each row, per 128-bit half
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      const __m256 s = _mm256_cvtepi32_ps(X::dot(codes + j * kBlockArea, p, a_lo, a_hi));
      acc[p][j & 1] = _mm256_fmadd_ps(s, _mm256_permutevar_ps(sc[p], lane), acc[p][j & 1]);
    }
  }
}

template <class X>
[[gnu::always_inline]] inline void dot_x4_avx2(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kTileBytes = X::kHeader + 4 * 4 * X::kRowBytes;
  const QuantRow& a = act.q;
  const int64_t nb = n / 32, full = nb / 4 * 4;
  __m256 acc[2][2] = {{_mm256_setzero_ps(), _mm256_setzero_ps()}, {_mm256_setzero_ps(), _mm256_setzero_ps()}};
  __m256 corr[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b0 = 0; b0 < full; b0 += 4, g += kTileBytes) {
    prefetch_ahead(g, kTileBytes);
    x4_tile<X, 4>(g, a.qs + 32 * b0, _mm_loadu_ps(a.d + b0), _mm_loadu_ps(a.ds + b0), acc, corr);
  }
  if (const int cnt = static_cast<int>(nb - full); cnt > 0) {
    const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(cnt), _mm_setr_epi32(0, 1, 2, 3));
    const __m128 d4 = _mm_maskload_ps(a.d + full, m), ds4 = _mm_maskload_ps(a.ds + full, m);
    const int8_t* ab = a.qs + 32 * full;
    if (cnt == 1) x4_tile<X, 1>(g, ab, d4, ds4, acc, corr);
    else if (cnt == 2) x4_tile<X, 2>(g, ab, d4, ds4, acc, corr);
    else x4_tile<X, 3>(g, ab, d4, ds4, acc, corr);
  }
  const __m256 off = _mm256_set1_ps(X::kOffset);
  store_pair_sums(_mm256_fmadd_ps(corr[0], off, _mm256_add_ps(acc[0][0], acc[0][1])),
                  _mm256_fmadd_ps(corr[1], off, _mm256_add_ps(acc[1][0], acc[1][1])), n_rows, y);
}

// The 5th bits of a Q5_K code vector as 0x10 bytes: bit `bit` of each byte of h (the qh bytes
// in the code vector's lanes, kernels/interleave.h), moved to bit 4 by a 16-bit shift (the
// bits shifted in from the neighbouring byte land outside bit 4).
template <int kBit>
__m256i fifth_bits(__m256i h) {
  const __m256i moved = kBit <= 4 ? _mm256_slli_epi16(h, 4 - kBit) : _mm256_srli_epi16(h, kBit - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// Q4_K / Q5_K (layout in kernels/interleave.h): scales and mins of each half super-block in
// lane-per-row order, codes of each 64-element group as [rows 0,1 | rows 2,3] × two halves;
// Q5_K's 5th bits after them in the same lanes, so each code vector gets its own with a shift
// and a mask (bit 2k: group k's low nibbles, 2k + 1: its high nibbles). Codes ≤ 31 keep
// dot_u8's pair sums in 16 bits (31·127·2).
template <bool kFive>
[[gnu::always_inline]] inline void dot_x4_kx_avx2(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kHighAt = 80 + 512;  // Q5_K's 5th bits, after the codes
  constexpr int64_t kGroupBytes = kHighAt + (kFive ? 128 : 0);
  const QuantRow& a = act.q;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, corr[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < n / 256; ++i, g += kGroupBytes) {
    prefetch_ahead(g, kGroupBytes);
    alignas(16) float d[4], dmin[4];
    _mm_store_ps(d, _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g))));
    _mm_store_ps(dmin, _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g + 8))));
    __m256 scale[2][2];  // [half][pair]; the loops unrolled so these stay in registers
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m128 ad = _mm_loadu_ps(a.d + 8 * i + 4 * h), ads = _mm_loadu_ps(a.ds + 8 * i + 4 * h);
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
        const __m256 rows_d = _mm256_set_m128(_mm_set1_ps(d[2 * p + 1]), _mm_set1_ps(d[2 * p]));
        const __m256 rows_dmin = _mm256_set_m128(_mm_set1_ps(dmin[2 * p + 1]), _mm_set1_ps(dmin[2 * p]));
        const __m256 sc = bytes8_to_ps(g + 16 + 16 * h + 8 * p), mn = bytes8_to_ps(g + 48 + 16 * h + 8 * p);
        scale[h][p] = _mm256_mul_ps(_mm256_mul_ps(sc, rows_d), _mm256_set_m128(ad, ad));
        corr[p] = _mm256_fmadd_ps(_mm256_mul_ps(mn, rows_dmin), _mm256_set_m128(ads, ads), corr[p]);
      }
    }
    const uint8_t* codes = g + 80;
    const int8_t* aq = a.qs + 256 * i;
    auto group = [&]<int K>(std::integral_constant<int, K>, int p, __m256i h0, __m256i h1, __m256 sc_lo, __m256 sc_hi) {
      const __m256i x0 = load256(codes + 128 * K + 32 * p), x1 = load256(codes + 128 * K + 64 + 32 * p);
      __m256i q0 = _mm256_and_si256(x0, m4), q1 = _mm256_and_si256(x1, m4);
      __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4), q3 = _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
      if constexpr (kFive) {
        q0 = _mm256_or_si256(q0, fifth_bits<2 * K>(h0));
        q1 = _mm256_or_si256(q1, fifth_bits<2 * K>(h1));
        q2 = _mm256_or_si256(q2, fifth_bits<2 * K + 1>(h0));
        q3 = _mm256_or_si256(q3, fifth_bits<2 * K + 1>(h1));
      }
      const int8_t* ak = aq + 64 * K;
      const __m256i lo = _mm256_add_epi32(dot_u8(q0, bcast16(ak)), dot_u8(q1, bcast16(ak + 16)));
      const __m256i hi = _mm256_add_epi32(dot_u8(q2, bcast16(ak + 32)), dot_u8(q3, bcast16(ak + 48)));
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), sc_lo, acc[p]);
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), sc_hi, acc[p]);
    };
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      // The pair's 5th bits: qh bytes 0-15 (h0) and 16-31 (h1) of its two rows.
      const __m256i h0 = kFive ? load256(g + kHighAt + 64 * p) : _mm256_setzero_si256();
      const __m256i h1 = kFive ? load256(g + kHighAt + 64 * p + 32) : _mm256_setzero_si256();
      group(std::integral_constant<int, 0>{}, p, h0, h1, _mm256_permute_ps(scale[0][p], 0x00), _mm256_permute_ps(scale[0][p], 0x55));
      group(std::integral_constant<int, 1>{}, p, h0, h1, _mm256_permute_ps(scale[0][p], 0xAA), _mm256_permute_ps(scale[0][p], 0xFF));
      group(std::integral_constant<int, 2>{}, p, h0, h1, _mm256_permute_ps(scale[1][p], 0x00), _mm256_permute_ps(scale[1][p], 0x55));
      group(std::integral_constant<int, 3>{}, p, h0, h1, _mm256_permute_ps(scale[1][p], 0xAA), _mm256_permute_ps(scale[1][p], 0xFF));
    }
  }
  store_pair_sums(_mm256_sub_ps(acc[0], corr[0]), _mm256_sub_ps(acc[1], corr[1]), n_rows, y);
}

// Interleaved float rows (kernels/interleave.h: per 64 elements, those of rows 0..3 in turn):
// one activation load feeds the four rows, read as one stream. Two accumulators per row (8
// of the 16 registers; x takes 4), so the sums are in another order than dot_float's four.
template <__m256 (*Load)(const void*, int64_t), size_t kElemBytes>
[[gnu::always_inline]] inline void dot_x4_float(const uint8_t* g, int n_rows, const ActRow& a, int64_t n, float* y) {
  constexpr size_t kRowBlock = kFloatBlockElems * kElemBytes;
  static_assert(kFloatBlockElems == 64, "a block is two 32-element steps per row");
  __m256 acc[4][2];
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 64, g += kInterleaveRows * kRowBlock) {
    prefetch_ahead(g, static_cast<int64_t>(kInterleaveRows * kRowBlock));
#pragma GCC unroll 2
    for (int s = 0; s < 2; ++s) {
      const float* xs = a.f + i + 32 * s;
      const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8), x2 = _mm256_loadu_ps(xs + 16),
                   x3 = _mm256_loadu_ps(xs + 24);
      // Rows outer: the loads walk the block front to back.
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const uint8_t* w = g + r * kRowBlock;
        const int64_t e = 32 * s;
        acc[r][0] = _mm256_fmadd_ps(Load(w, e), x0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(Load(w, e + 8), x1, acc[r][1]);
        acc[r][0] = _mm256_fmadd_ps(Load(w, e + 16), x2, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(Load(w, e + 24), x3, acc[r][1]);
      }
    }
  }
  const __m256 v0 = _mm256_add_ps(acc[0][0], acc[0][1]), v1 = _mm256_add_ps(acc[1][0], acc[1][1]);
  const __m256 v2 = _mm256_add_ps(acc[2][0], acc[2][1]), v3 = _mm256_add_ps(acc[3][0], acc[3][1]);
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));  // per half: r0 r1 r2 r3
  store_group_rows(_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)), n_rows, y);
}

// The table's decode entry: a run of groups per call.
template <void (*Dot)(const uint8_t*, int, const ActRow&, int64_t, float*)>
void x4_run(const uint8_t* g, size_t group_bytes, int64_t n_rows, const ActRow& act, int64_t n, float* y) {
  for (int64_t r = 0; r < n_rows; r += 4, g += group_bytes) {
    Dot(g, n_rows - r < 4 ? static_cast<int>(n_rows - r) : 4, act, n, y + r);
  }
}

// ---- prefill tiles: a block's rows in the lanes --------------------------------------------
// The driver packs kGemmTileRows = 16 weight rows as one block, side by side: per element
// (float weights) or per 4-element step (integer codes) the 16 rows' values form two 8-lane
// vectors, "halves" 0 and 1. A token's value (or 4 codes) broadcast to all lanes then feeds
// 16 rows at once: each activation is read once per 16 rows instead of once per row, and the
// lanes are the outputs, so there are no horizontal sums. The block stays in L1 (columns are
// taken in slices) while the tokens stream past from L2.
static_assert(kGemmTileRows == 16, "a block is two 8-lane vectors of rows");

// Stores (or adds) the 16 lanes of one token's result; only the block's first nr rows exist.
void store_rows(__m256 lo, __m256 hi, int64_t nr, bool add, float* y) {
  if (nr == 16) {
    if (add) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(y));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(y + 8));
    }
    _mm256_storeu_ps(y, lo);
    _mm256_storeu_ps(y + 8, hi);
    return;
  }
  alignas(32) float v[16];
  _mm256_store_ps(v, lo);
  _mm256_store_ps(v + 8, hi);
  for (int64_t r = 0; r < nr; ++r) y[r] = add ? y[r] + v[r] : v[r];
}

// -- float weights: per element k, the 16 rows' values (F16/BF16 converted) at block[16k..].

int64_t pad8(int64_t n) { return (n + 7) / 8 * 8; }
size_t f32_bytes(int64_t n) { return static_cast<size_t>(pad8(n)) * 4; }

void pack_acts_f32(const float* x, int64_t n, uint8_t* dst) {
  float* o = reinterpret_cast<float*>(dst);
  std::memcpy(o, x, static_cast<size_t>(n) * 4);
  for (int64_t i = n; i < pad8(n); ++i) o[i] = 0.f;
}

template <__m256 (*Load)(const void*, int64_t)>
void pack_w_float(const void* w, int64_t n, uint8_t* block, int row) {
  float* o = reinterpret_cast<float*>(block) + row;
  int64_t i = 0;
  alignas(32) float v[8];
  for (; i + 8 <= n; i += 8) {
    _mm256_store_ps(v, Load(w, i));
    for (int j = 0; j < 8; ++j) o[16 * (i + j)] = v[j];
  }
  for (; i < n; ++i) o[16 * i] = load1<Load>(w, i);
  for (; i < pad8(n); ++i) o[16 * i] = 0.f;
}

// -- prefill packing from the interleaved decode copy (kernels/interleave.h) -----------------

// The two 4-row groups of half h of a 16-row tile (rows 8h..8h+3, 8h+4..8h+7); b is null
// when the tile ends after the first (a tile's last rows are absent only at a matrix's end).
struct HalfGroups {
  const uint8_t* a;
  const uint8_t* b;
};
HalfGroups half_groups(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t half) {
  const int64_t n_groups = (nr + kInterleaveRows - 1) / kInterleaveRows;
  if (2 * half >= n_groups) return {nullptr, nullptr};
  const uint8_t* a = groups + static_cast<size_t>(2 * half) * group_bytes;
  return {a, 2 * half + 1 < n_groups ? a + group_bytes : nullptr};
}

// Where block b of a 32-element format lies in a group: its tile of 4 blocks (16 F16
// scales first, entry 4·r + b % 4 for row r) and its area of area_bytes code bytes.
struct BlockAt {
  size_t tile, area;
};
BlockAt block_at(int64_t b, size_t area_bytes) {
  constexpr size_t kTileHeader = 32;
  const size_t tile = static_cast<size_t>(b / 4) * (kTileHeader + 4 * area_bytes);
  return {tile, tile + kTileHeader + static_cast<size_t>(b % 4) * area_bytes};
}

// The 8 rows' scales of block b (0 for absent rows).
void gather_scales(const HalfGroups& g, const BlockAt& at, int64_t b, float (&scale)[8]) {
  for (int r = 0; r < 8; ++r) {
    const uint8_t* grp = r < 4 ? g.a : g.b;
    if (grp == nullptr) {
      scale[r] = 0.f;
      continue;
    }
    uint16_t h;
    std::memcpy(&h, grp + at.tile + 2 * (4 * (r % 4) + b % 4), 2);
    scale[r] = h2f(h);
  }
}

// Float rows straight from the interleaved copy (kernels/interleave.h: per 64 elements, the
// 64 of each of the group's 4 rows in turn): per 8 elements and 8 rows (two groups), an 8 × 8
// transpose, so each vector is one element of the 8 rows — the block's layout. Reading the
// rows back first copied every 64-element piece on its own (a memcpy call each) and then
// stored the block one float at a time.
template <__m256 (*Load)(const void*, int64_t), size_t kElemBytes>
void pack_float_interleaved(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t n, uint8_t* block) {
  alignas(32) static constexpr uint8_t kZeroPiece[kInterleaveRows * kFloatBlockElems * kElemBytes] = {};
  float* o = reinterpret_cast<float*>(block);
  for (int64_t half = 0; half < 2; ++half) {
    const HalfGroups g = half_groups(groups, group_bytes, nr, half);
    if (g.a == nullptr) break;
    for (int64_t p = 0; p < n / kFloatBlockElems; ++p) {
      const size_t piece = static_cast<size_t>(p) * kInterleaveRows * kFloatBlockElems * kElemBytes;
      // Absent second group: a zero piece, so the loops below unroll without branches and the
      // vectors stay in registers (GCC otherwise kept r on the stack).
      const uint8_t* src[2] = {g.a + piece, g.b != nullptr ? g.b + piece : kZeroPiece};
      for (int64_t c = 0; c < kFloatBlockElems; c += 8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) r[i] = Load(src[i / 4] + static_cast<size_t>(i % 4) * kFloatBlockElems * kElemBytes, c);
        transpose8(r);  // r[k] = element c + k of the 8 rows
        float* dst = o + 16 * (p * kFloatBlockElems + c) + 8 * half;
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + 16 * k, r[k]);
      }
    }
  }
}

// 16 rows × N tokens over len elements: 2N accumulators, 2 + N loads per 2N FMAs.
template <int N>
struct FloatMicro {
  static void run(const float* block, int64_t len, const uint8_t* a, size_t as, float* y, int64_t ldy, int64_t nr,
                  bool add) {
    __m256 acc[N][2];
#pragma GCC unroll 8
    for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < len; ++k) {
      const __m256 w0 = _mm256_loadu_ps(block + 16 * k), w1 = _mm256_loadu_ps(block + 16 * k + 8);
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) {
        const __m256 x = _mm256_broadcast_ss(reinterpret_cast<const float*>(a + t * as) + k);
        acc[t][0] = _mm256_fmadd_ps(w0, x, acc[t][0]);
        acc[t][1] = _mm256_fmadd_ps(w1, x, acc[t][1]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < N; ++t) store_rows(acc[t][0], acc[t][1], nr, add, y + t * ldy);
  }
};

constexpr int kFloatTokens = 6;     // 12 accumulators + 2 weight vectors + 1 broadcast
// Elements per slice: up to 4096, so the 16 rows' block (≤ 256 KB) is read from L2 and a
// token's sums stay in registers over the whole row. Slices of 256 (the block in L1) stored
// and reloaded the partial sums per slice; 576- and 1536-long rows, 512 tokens, 2 threads,
// 5 alternating runs: median 133 -> 135 and 132 -> 136 GFLOPS.
constexpr int64_t kFloatKc = 4096;

void float_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  const size_t as = f32_bytes(n);
  const int64_t np = pad8(n);
  for (int64_t k0 = 0; k0 < np; k0 += kFloatKc) {
    const int64_t len = np - k0 < kFloatKc ? np - k0 : kFloatKc;
    const float* block = reinterpret_cast<const float*>(w) + 16 * k0;
    for (int64_t t = 0; t < n_tok; t += kFloatTokens) {
      run_tokens<FloatMicro, kFloatTokens>(n_tok - t, block, len, acts + t * as + 4 * k0, as, y + t * ldy, ldy,
                                           n_rows, k0 > 0);
    }
  }
}

// -- integer weights: per LB-element block (the format's scale block) and half, the codes
// as LB/4 steps of 8 rows × 4 bytes, then the 8 rows' float scales and offsets
// (w = scale·code + offset). Activations are a QuantRow (quantize_acts_avx2).

template <int LB>
constexpr size_t kHalfBytes = 8 * LB + 64;

template <int LB>
size_t int_w_bytes(int64_t n) { return static_cast<size_t>(n / LB) * (LB + 8); }  // per row of the block

// The activations of one token: a QuantRow, then the int32 words that formats folding an
// offset of −m·scale into their integer sums (IntFmt::kFold = m) start their 16-bit sums
// from: per 32-element block for m = 8 (Q4_0), then per 32-element block for m = 16 (Q5_0),
// then per 16-element block for m = 32 (Q6_K).
size_t int_act_bytes(int64_t n) { return quant_row_bytes(n) + static_cast<size_t>(n / 32) * 8 + static_cast<size_t>(n / 16) * 4; }
template <int kFold>
const int32_t* fold_words(const uint8_t* act, int64_t n) {
  static_assert(kFold == 0 || kFold == 8 || kFold == 16 || kFold == 32);
  const size_t per32 = static_cast<size_t>(n / 32) * 4;
  return reinterpret_cast<const int32_t*>(act + quant_row_bytes(n) + (kFold == 16 ? per32 : kFold == 32 ? 2 * per32 : 0));
}

// −m · s per 16-bit lane (s a sum of at most 8 activations in ±127: |result| ≤ 32512 for m ≤ 32).
__m128i times_minus(__m128i s, int log2_m) { return _mm_sub_epi16(_mm_setzero_si128(), _mm_sll_epi16(s, _mm_cvtsi32_si128(log2_m))); }

// The fold words of each block: 16-bit lanes (low, high) = −m · Σ_v (a[4v] + a[4v+1],
// a[4v+2] + a[4v+3]) over the block's steps v, the elements that the even and the odd 16-bit
// lane of a row collect in IntMicro's steps: per 32-element block for m = 8 (out8) and
// m = 16 (out16), per 16-element block for m = 32 (out32). |value| ≤ 16·16·127 and
// 8·32·127 = 32512 (activations in ±127).
void fold_words_of(const int8_t* qs, int64_t n, int32_t* out8, int32_t* out16, int32_t* out32) {
  const __m256i ones = _mm256_set1_epi8(1);
  // Dword 0 = the sum of the 4 dwords of v, per 16-bit lane.
  const auto sum_dwords = [](__m128i v) {
    v = _mm_add_epi16(v, _mm_shuffle_epi32(v, 0x4E));
    return _mm_add_epi16(v, _mm_shuffle_epi32(v, 0xB1));
  };
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i pairs = _mm256_maddubs_epi16(ones, load256(qs + 32 * b));  // a[2m] + a[2m+1]
    const __m128i lo = sum_dwords(_mm256_castsi256_si128(pairs)), hi = sum_dwords(_mm256_extracti128_si256(pairs, 1));
    const __m128i s = _mm_add_epi16(lo, hi);
    out8[b] = _mm_cvtsi128_si32(times_minus(s, 3));
    out16[b] = _mm_cvtsi128_si32(times_minus(s, 4));
    out32[2 * b] = _mm_cvtsi128_si32(times_minus(lo, 5));
    out32[2 * b + 1] = _mm_cvtsi128_si32(times_minus(hi, 5));
  }
}

void pack_acts_int(const float* x, int64_t n, uint8_t* dst) {
  const QuantRow q = quant_row_at(dst, n);
  quantize_acts_avx2(x, n, const_cast<int8_t*>(q.qs), const_cast<float*>(q.d), const_cast<float*>(q.ds),
                     const_cast<float*>(q.ds16));
  fold_words_of(q.qs, n, const_cast<int32_t*>(fold_words<8>(dst, n)), const_cast<int32_t*>(fold_words<16>(dst, n)),
                const_cast<int32_t*>(fold_words<32>(dst, n)));
}

// Block b's LB codes, scale and offset for row `row` of the block.
template <int LB>
void put_row_block(uint8_t* block, int row, int64_t b, const uint8_t* codes, float scale, float offset) {
  uint8_t* half = block + static_cast<size_t>(b) * 2 * kHalfBytes<LB> + (row / 8) * kHalfBytes<LB>;
  const int lane = row % 8;
  for (int v = 0; v < LB / 4; ++v) std::memcpy(half + 32 * v + 4 * lane, codes + 4 * v, 4);
  std::memcpy(half + 8 * LB + 4 * lane, &scale, 4);
  std::memcpy(half + 8 * LB + 32 + 4 * lane, &offset, 4);
}

// kFoldM: the kernel folds −kFoldM·scale into its integer sums (IntFmt::kFold) and applies
// the packed offset too (IntFmt::kOffset), so the offset packed is the format's plus that.
template <class Fmt, int kFoldM = 0>
void pack_w_legacy(const void* w, int64_t n, uint8_t* block, int row) {
  const auto* blocks = static_cast<const typename Fmt::Block*>(w);
  for (int64_t b = 0; b < n / 32; ++b) {
    alignas(32) uint8_t codes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes), Fmt::codes(blocks[b]));
    const float dw = h2f(blocks[b].d);
    put_row_block<32>(block, row, b, codes, dw, Fmt::offset(blocks[b], dw) + static_cast<float>(kFoldM) * dw);
  }
}

// Step v's 5th bits (elements 4v..4v+3, bits 4v..4v+3 of each row's word in `qh`, a row
// per 32-bit lane) as 0x10 in the step's 4 bytes of each lane: byte v/2 of the word spread
// over the lane's 4 bytes, then each byte tests its own bit.
__m256i fifth_bits_of_step(__m256i qh, int v) {
  const auto sel = [v](uint32_t i) { return static_cast<int>(0x01010101u * (4 * i + static_cast<uint32_t>(v) / 2)); };
  const __m256i spread = _mm256_shuffle_epi8(qh, _mm256_setr_epi32(sel(0), sel(1), sel(2), sel(3), sel(0), sel(1), sel(2), sel(3)));
  const __m256i bits = _mm256_set1_epi32(v % 2 ? static_cast<int>(0x80402010u) : 0x08040201);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bits), bits), _mm256_set1_epi8(0x10));
}

// Q4_0 / Q5_0 rows straight from the interleaved copy (kernels/interleave.h): per block and
// half of the tile, the two 4-row groups' 64 code bytes (row r: 16 bytes, byte j = codes j
// and j+16) transposed so that dword v of every row shares a vector — steps v and v + 4 are
// then its low and high nibbles — (Q5_0: with the 5th bits from the rows' 16-bit masks) and
// the 8 scales gathered from the tiles' headers. About 50 instructions per half-block where
// reading each row back and packing it took ~300.
template <bool kFive>
void pack_q4q5_0_interleaved(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t n, uint8_t* block) {
  // Per tile of 4 blocks: 16 F16 scales, then per block 4 × 16 code bytes (Q5_0: then the
  // 4 rows' 16-bit masks of elements 0-15, then of elements 16-31).
  constexpr size_t kArea = kFive ? 80 : 64;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i row_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < n / 32; ++b) {
    const BlockAt at = block_at(b, kArea);
    const size_t area = at.area;
    for (int64_t half = 0; half < 2; ++half) {
      const HalfGroups g = half_groups(groups, group_bytes, nr, half);
      if (g.a == nullptr) break;
      const uint8_t *ga = g.a, *gb = g.b;
      const __m256i r01 = load256(ga + area), r23 = load256(ga + area + 32);
      const __m256i r45 = gb ? load256(gb + area) : _mm256_setzero_si256();
      const __m256i r67 = gb ? load256(gb + area + 32) : _mm256_setzero_si256();
      // Per 128-bit lane: rows (0, 2 | 1, 3) and (4, 6 | 5, 7) interleaved by dword, then by
      // qword: dword v of rows 0, 2, 4, 6 | 1, 3, 5, 7; the permute puts row i in lane i.
      const __m256i lo_a = _mm256_unpacklo_epi32(r01, r23), hi_a = _mm256_unpackhi_epi32(r01, r23);
      const __m256i lo_b = _mm256_unpacklo_epi32(r45, r67), hi_b = _mm256_unpackhi_epi32(r45, r67);
      const __m256i d[4] = {_mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(lo_a, lo_b), row_order),
                            _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(lo_a, lo_b), row_order),
                            _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(hi_a, hi_b), row_order),
                            _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(hi_a, hi_b), row_order)};
      uint8_t* out = block + static_cast<size_t>(b) * 2 * kHalfBytes<32> + static_cast<size_t>(half) * kHalfBytes<32>;
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kFive) {
        const auto masks = [&](size_t at) {  // the 8 rows' 16-bit masks at `at` in the area, widened
          const __m128i rows03 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ga + area + at));
          const __m128i rows47 = gb ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(gb + area + at)) : _mm_setzero_si128();
          return _mm256_cvtepu16_epi32(_mm_unpacklo_epi64(rows03, rows47));
        };
        qh = _mm256_or_si256(masks(64), _mm256_slli_epi32(masks(72), 16));
      }
      for (int v = 0; v < 8; ++v) {
        __m256i c = _mm256_and_si256(v < 4 ? d[v] : _mm256_srli_epi16(d[v - 4], 4), low4);
        if constexpr (kFive) c = _mm256_or_si256(c, fifth_bits_of_step(qh, v));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * v), c);
      }
      alignas(32) float scale[8], offset[8];
      gather_scales(g, at, b, scale);
      for (int r = 0; r < 8; ++r) offset[r] = (kFive ? -16.f : -8.f) * scale[r];
      std::memcpy(out + 8 * 32, scale, sizeof scale);
      std::memcpy(out + 8 * 32 + 32, offset, sizeof offset);
    }
  }
}

template <class Block, bool kFive, int kFoldM = 0>  // kFoldM: as for pack_w_legacy
void pack_w_kx(const void* w, int64_t n, uint8_t* block, int row) {
  const Block* blocks = static_cast<const Block*>(w);
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t codes[256], sm[16];
    kx_codes<Block, kFive>(blocks[i], codes);
    kx_scale_bytes(blocks[i].scales, sm);
    const float d = h2f(blocks[i].d), dmin = h2f(blocks[i].dmin);
    for (int j = 0; j < 8; ++j) {
      const float scale = d * sm[j];
      put_row_block<32>(block, row, 8 * i + j, codes + 32 * j, scale, -dmin * sm[8 + j] + static_cast<float>(kFoldM) * scale);
    }
  }
}

void pack_w_q6_K(const void* w, int64_t n, uint8_t* block, int row) {
  const BlockQ6_K* blocks = static_cast<const BlockQ6_K*>(w);
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t codes[256];
    q6k_codes(blocks[i], codes);
    const float d = h2f(blocks[i].d);
    for (int j = 0; j < 16; ++j) {
      const float s = d * blocks[i].scales[j];
      put_row_block<16>(block, row, 16 * i + j, codes + 16 * j, s, -32.f * s);
    }
  }
}

// Per format of unsigned codes: LB (elements per scale) and K16, how many steps of maddubs
// pairs fit in 16 bits before widening (max code · 127 · 2 · K16 < 32768). kFold = m > 0:
// the offset is exactly −m·scale (Q4_0: 8, Q5_0: 16, Q6_K: 32), so it is folded into the
// integer sums instead of a float FMA per block and token: the 16-bit sums start from −m·Σa
// (fold words), and each lane's value after any step, Σ_seen (code − m)·a − m·Σ_unseen a over
// its LB/2 elements, stays within (LB/2)·m·127 (16256 for Q4_0, 32512 for Q5_0 and Q6_K): so
// a block's steps add up in 16 bits for Q5_0 and Q6_K too, where without the fold 4 (Q5_0)
// and 2 (Q6_K) steps fit. Two FMAs and their loads fewer per block and token, and one
// widening per block (Int4Micro below). kOffset: the packed offset (per row and block) is
// applied too, by a float FMA against d_act·Σa — for formats whose offset is a minimum of
// its own (Q4_1, Q4_K; and Q5_1, Q5_K, which also fold −16·scale to keep their 8 steps in 16
// bits: their packers store the offset plus 16·scale, the part the fold took away).
template <int LB_, int K16_, int kFold_ = 0, bool kOffset_ = kFold_ == 0>
struct IntFmt {
  static constexpr int LB = LB_;
  static constexpr int K16 = K16_;
  static constexpr int kFold = kFold_;
  static constexpr bool kOffset = kOffset_;
  static_assert(kFold == 0 || ((kFold == 8 || kFold == 16) && LB == 32 && K16 == 8) || (kFold == 32 && LB == 16 && K16 == 4),
                "one 16-bit batch per block");
  static_assert(!kOffset || LB == 32, "the activation sums (d_act·Σa) are per 32 elements");
};
using IntQ4 = IntFmt<32, 8>;  // codes ≤ 15: 8 steps = 30480
using IntQ4Fold8 = IntFmt<32, 8, 8>;
using IntQ5Fold16 = IntFmt<32, 8, 16>;  // codes ≤ 31 with the −16 offset folded in: 8 steps
using IntQ5Fold16Offset = IntFmt<32, 8, 16, true>;  // the same, plus the offset (packed + 16·scale)
using IntQ6Fold32 = IntFmt<16, 4, 32>;  // codes ≤ 63 with the −32 offset folded in: the block's 4 steps

// 16 rows × N tokens over blocks [b0, b1): per block, integer sums per lane (row) and token,
// then scale·d_act (and offset·Σ act) into float accumulators.
template <class F>
struct IntMicro {
  template <int N>
  struct K {
    static void run(const uint8_t* w, int64_t b0, int64_t b1, const uint8_t* acts, size_t as, int64_t n, float* y,
                    int64_t ldy, int64_t nr, bool add) {
      constexpr int kSteps = F::LB / 4;
      constexpr size_t kHalf = kHalfBytes<F::LB>;
      const __m256i ones = _mm256_set1_epi16(1);
      QuantRow q[N];
      const int32_t* fold[N];
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) {
        q[t] = quant_row_at(const_cast<uint8_t*>(acts) + t * as, n);
        fold[t] = fold_words<F::kFold>(acts + t * as, n);
      }
      __m256 acc[N][2];
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
      for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* blk = w + static_cast<size_t>(b) * 2 * kHalf;
        const int8_t* ab[N];
#pragma GCC unroll 8
        for (int t = 0; t < N; ++t) ab[t] = q[t].qs + b * F::LB;
        __m256i isum[N][2];
#pragma GCC unroll 8
        for (int t = 0; t < N; ++t) isum[t][0] = isum[t][1] = _mm256_setzero_si256();
        // Rolled loops: fully unrolled, GCC re-associates the integer sums into trees whose
        // partial products no longer fit the 16 registers (spills on every step).
#pragma GCC unroll 1
        for (int c = 0; c < kSteps; c += F::K16) {
          __m256i s16[N][2];
#pragma GCC unroll 8
          for (int t = 0; t < N; ++t) {
            s16[t][0] = s16[t][1] = F::kFold != 0 ? _mm256_set1_epi32(fold[t][b]) : _mm256_setzero_si256();
          }
#pragma GCC unroll 4
          for (int v = c; v < c + F::K16; ++v) {
            const __m256i w0 = load256(blk + 32 * v), w1 = load256(blk + kHalf + 32 * v);
#pragma GCC unroll 8
            for (int t = 0; t < N; ++t) {
              int32_t a4;
              std::memcpy(&a4, ab[t] + 4 * v, 4);
              const __m256i a = _mm256_set1_epi32(a4);
              s16[t][0] = _mm256_add_epi16(_mm256_maddubs_epi16(w0, a), s16[t][0]);
              s16[t][1] = _mm256_add_epi16(_mm256_maddubs_epi16(w1, a), s16[t][1]);
            }
          }
#pragma GCC unroll 8
          for (int t = 0; t < N; ++t) {
            isum[t][0] = _mm256_add_epi32(isum[t][0], _mm256_madd_epi16(s16[t][0], ones));
            isum[t][1] = _mm256_add_epi32(isum[t][1], _mm256_madd_epi16(s16[t][1], ones));
          }
        }
        const __m256 sc0 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + 8 * F::LB));
        const __m256 sc1 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + kHalf + 8 * F::LB));
#pragma GCC unroll 8
        for (int t = 0; t < N; ++t) {
          const __m256 da = _mm256_set1_ps(q[t].d[b * F::LB / 32]);
          acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t][0]), _mm256_mul_ps(sc0, da), acc[t][0]);
          acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t][1]), _mm256_mul_ps(sc1, da), acc[t][1]);
          if constexpr (!F::kOffset) continue;
          const __m256 sa = _mm256_set1_ps(F::LB == 32 ? q[t].ds[b] : q[t].ds16[b]);
          acc[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(blk + 8 * F::LB + 32)), sa, acc[t][0]);
          acc[t][1] = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(blk + kHalf + 8 * F::LB + 32)), sa,
                                      acc[t][1]);
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) store_rows(acc[t][0], acc[t][1], nr, add, y + t * ldy);
    }
  };
};

// Codes whose block adds up in 16 bits over all its steps (4-bit: IntQ4, IntQ4Fold8; Q5_0,
// Q5_1, Q5_K and Q6_K with −16 or −32 times the scale folded: IntQ5Fold16, IntQ5Fold16Offset,
// IntQ6Fold32), 4 tokens per call: a block's 8 steps (Q6_K's 16-element block: 4) in one asm
// statement, the 8 16-bit sums (16 rows × 4 tokens; started from the fold words where the
// offset is folded) in registers and the float sums in L1, as WideMicro does for the 16-bit
// formats. IntMicro's 3 tokens in C++ kept 6 float sums in registers beside 6 integer ones
// and GCC spilled 4 of them per block and copied the integer sums between registers every 3
// steps. Fewer tokens (a run's leftover) use IntMicro. Isolated, 512 tokens, 2 threads,
// alternating runs against the kernels before, median GOPS:
//   Q4_0 (IntMicro, 3 tokens, offset FMA), 896×4864 / 4864×896, 14 runs: 215 -> 247 / 228 -> 276;
//   Q5_0 (4 steps per 16-bit batch before its offset was folded), 8 runs: 176 -> 222 / 174 -> 258;
//   Q6_K (2 tokens, 2 steps per batch, offset FMA), 4864×896, 4 runs: 188 -> 225
//     (0.5B Q4_K_M pp512, 13 of its tensors Q6_K, 4 pairs: mean 322 -> 341 t/s);
//   Q5_1 / Q5_K (2 tokens, 4 steps per batch), 4 runs: Q5_1 176 -> 242 / 183 -> 263, Q5_K
//     4864×896 181 -> 258 (0.5B Q5_K_M, Q5_1 at 896-wide rows, pp512, 4 pairs: 205 -> 266 t/s).
template <class F>
struct Int4Micro {
  template <int N>
  struct K {
    static void run(const uint8_t* w, int64_t b0, int64_t b1, const uint8_t* acts, size_t as, int64_t n, float* y,
                    int64_t ldy, int64_t nr, bool add) {
      static_assert(4 * F::K16 == F::LB, "one 16-bit batch per block");
      constexpr int LB = F::LB;
      if constexpr (N < 4) {
        IntMicro<F>::template K<N>::run(w, b0, b1, acts, as, n, y, ldy, nr, add);
      } else {
        constexpr size_t kHalf = kHalfBytes<LB>;
        const __m256i ones = _mm256_set1_epi16(1);
        QuantRow q[4];
        const int32_t* fold[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          q[t] = quant_row_at(const_cast<uint8_t*>(acts) + t * as, n);
          fold[t] = fold_words<F::kFold>(acts + t * as, n);
        }
        alignas(32) float acc[4][16] = {};
        for (int64_t b = b0; b < b1; ++b) {
          const uint8_t* blk = w + static_cast<size_t>(b) * 2 * kHalf;
          const auto start = [&](int t) { return F::kFold != 0 ? _mm256_set1_epi32(fold[t][b]) : _mm256_setzero_si256(); };
          __m256i s00 = start(0), s01 = s00, s10 = start(1), s11 = s10, s20 = start(2), s21 = s20, s30 = start(3), s31 = s30;
          const int8_t* a0 = q[0].qs + LB * b;
          const int8_t* a1 = q[1].qs + LB * b;
          const int8_t* a2 = q[2].qs + LB * b;
          const int8_t* a3 = q[3].qs + LB * b;
          asm(".set trellis_q4_v, 0\n\t"
              ".rept %c[steps]\n\t"
              "vmovdqu trellis_q4_v*32(%[w]), %%ymm12\n\t"
              "vmovdqu %c[half]+trellis_q4_v*32(%[w]), %%ymm13\n\t"
              "vpbroadcastd trellis_q4_v*4(%[a0]), %%ymm14\n\t"
              "vpmaddubsw %%ymm14, %%ymm12, %%ymm15\n\t"
              "vpaddw %%ymm15, %[s00], %[s00]\n\t"
              "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"
              "vpaddw %%ymm14, %[s01], %[s01]\n\t"
              "vpbroadcastd trellis_q4_v*4(%[a1]), %%ymm14\n\t"
              "vpmaddubsw %%ymm14, %%ymm12, %%ymm15\n\t"
              "vpaddw %%ymm15, %[s10], %[s10]\n\t"
              "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"
              "vpaddw %%ymm14, %[s11], %[s11]\n\t"
              "vpbroadcastd trellis_q4_v*4(%[a2]), %%ymm14\n\t"
              "vpmaddubsw %%ymm14, %%ymm12, %%ymm15\n\t"
              "vpaddw %%ymm15, %[s20], %[s20]\n\t"
              "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"
              "vpaddw %%ymm14, %[s21], %[s21]\n\t"
              "vpbroadcastd trellis_q4_v*4(%[a3]), %%ymm14\n\t"
              "vpmaddubsw %%ymm14, %%ymm12, %%ymm15\n\t"
              "vpaddw %%ymm15, %[s30], %[s30]\n\t"
              "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"
              "vpaddw %%ymm14, %[s31], %[s31]\n\t"
              ".set trellis_q4_v, trellis_q4_v+1\n\t"
              ".endr"
              : [s00] "+x"(s00), [s01] "+x"(s01), [s10] "+x"(s10), [s11] "+x"(s11), [s20] "+x"(s20), [s21] "+x"(s21),
                [s30] "+x"(s30), [s31] "+x"(s31)
              : [w] "r"(blk), [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3), [half] "i"(kHalf),
                [steps] "i"(LB / 4), "m"(*reinterpret_cast<const uint8_t(*)[2 * kHalf]>(blk)),
                "m"(*reinterpret_cast<const int8_t(*)[LB]>(a0)), "m"(*reinterpret_cast<const int8_t(*)[LB]>(a1)),
                "m"(*reinterpret_cast<const int8_t(*)[LB]>(a2)), "m"(*reinterpret_cast<const int8_t(*)[LB]>(a3))
              : "xmm12", "xmm13", "xmm14", "xmm15");
          const __m256i s[4][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}};
          const __m256 sc0 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + 8 * LB));
          const __m256 sc1 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + kHalf + 8 * LB));
#pragma GCC unroll 4
          for (int t = 0; t < 4; ++t) {
            const __m256 da = _mm256_set1_ps(q[t].d[b * LB / 32]);
            __m256 f0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s[t][0], ones)), _mm256_mul_ps(sc0, da),
                                        _mm256_load_ps(acc[t]));
            __m256 f1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s[t][1], ones)), _mm256_mul_ps(sc1, da),
                                        _mm256_load_ps(acc[t] + 8));
            if constexpr (F::kOffset) {  // + offset · d_act·Σ act
              const __m256 sa = _mm256_set1_ps(q[t].ds[b]);
              f0 = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(blk + 8 * 32 + 32)), sa, f0);
              f1 = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(blk + kHalf + 8 * 32 + 32)), sa, f1);
            }
            _mm256_store_ps(acc[t], f0);
            _mm256_store_ps(acc[t] + 8, f1);
          }
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) store_rows(_mm256_load_ps(acc[t]), _mm256_load_ps(acc[t] + 8), nr, add, y + t * ldy);
      }
    }
  };
};

// Bytes of the block per column slice: up to 160 KB (read from L2), so the rows of the 0.5B
// shape (896, 4864) take 1-2 slices instead of 2-9 whose partial sums were stored and
// reloaded (20 KB slices, in L1). 512 tokens, 2 threads, 4 alternating runs, median GOPS:
// Q8_0 896x4864 149 -> 166, 4864x896 159 -> 164; Q4_0 4864x896 229 -> 246.
constexpr int64_t kIntKcBytes = 160 * 1024;

// The block in column slices of whole scale blocks (block_bytes each, for all 16 rows) that
// fit kIntKcBytes, each slice against every token: Micro<N> over blocks [b0, b1).
template <template <int> class Micro, int N>
void blocks_by_slices(const uint8_t* w, size_t block_bytes, int64_t nb, int64_t n_rows, const uint8_t* acts, size_t as,
                      int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  const int64_t slice = static_cast<int64_t>(kIntKcBytes / block_bytes);
  for (int64_t b0 = 0; b0 < nb; b0 += slice) {
    const int64_t b1 = nb - b0 < slice ? nb : b0 + slice;
    for (int64_t t = 0; t < n_tok; t += N) {
      run_tokens<Micro, N>(n_tok - t, w, b0, b1, acts + t * as, as, n, y + t * ldy, ldy, n_rows, b0 > 0);
    }
  }
}

template <class F, int N>
void int_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  blocks_by_slices<IntMicro<F>::template K, N>(w, 2 * kHalfBytes<F::LB>, n / F::LB, n_rows, acts, int_act_bytes(n),
                                               n_tok, n, y, ldy);
}

template <class F>
void int4_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  blocks_by_slices<Int4Micro<F>::template K, 4>(w, 2 * kHalfBytes<F::LB>, n / F::LB, n_rows, acts, int_act_bytes(n),
                                                n_tok, n, y, ldy);
}

// -- signed 8-bit codes (Q8_0, IQ4_NL): maddubs would need the sign trick (two more
// instructions per product and 17 registers for 2 × 3 accumulators), so codes and
// activations are widened to 16 bits at packing and multiplied by madd, two elements per
// lane: the same multiplier throughput per element with fewer instructions. Per 32-element
// block and half: 16 steps of 8 rows × 2 codes, then the 8 rows' scales. Activations: the
// int16 codes, then one scale per block (same quantization as quantize_acts_avx2).

constexpr size_t kWideHalfBytes = 8 * 32 * 2 + 32;

size_t wide_w_bytes(int64_t n) { return static_cast<size_t>(n / 32) * (64 + 4); }  // per row of the block
size_t wide_act_bytes(int64_t n) { return static_cast<size_t>(n) * 2 + static_cast<size_t>(n / 32) * 4; }

void pack_acts_wide(const float* x, int64_t n, uint8_t* dst) {
  int16_t* qs = reinterpret_cast<int16_t*>(dst);
  float* d = reinterpret_cast<float*>(dst + 2 * n);
  float ds[2], ds16[2];
  for (int64_t b = 0; b < n / 32; ++b) {
    alignas(32) int8_t q8[32];
    quantize_acts_avx2(x + 32 * b, 32, q8, d + b, ds, ds16);
    const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(q8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b + 16), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)));
  }
}

template <class Fmt>
void pack_w_wide(const void* w, int64_t n, uint8_t* block, int row) {
  const auto* blocks = static_cast<const typename Fmt::Block*>(w);
  const int lane = row % 8;
  for (int64_t b = 0; b < n / 32; ++b) {
    // The codes widened to int16 in vectors; each pair (one int32) then goes to its step.
    const __m256i c = Fmt::codes(blocks[b]);
    alignas(32) int32_t pairs[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(pairs), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(c)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(pairs + 8), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(c, 1)));
    uint8_t* half = block + static_cast<size_t>(b) * 2 * kWideHalfBytes + (row / 8) * kWideHalfBytes;
    for (int v = 0; v < 16; ++v) std::memcpy(half + 32 * v + 4 * lane, pairs + v, 4);
    const float dw = h2f(blocks[b].d);
    std::memcpy(half + 512 + 4 * lane, &dw, 4);
  }
}

// Q8_0 rows straight from the interleaved copy (kernels/interleave.h): per block and half of
// the tile, the two 4-row groups' codes (row r: bytes 16r.. = codes 0-15, 64 + 16r.. = codes
// 16-31, biased by 128) as 8 rows × 8 code pairs, transposed so that pair v of every row
// shares a vector, unbiased and widened to the 16-bit pairs of step v; the 8 scales from the
// tiles' headers.
void pack_q8_0_interleaved(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t n, uint8_t* block) {
  constexpr size_t kArea = 128;  // per block: 4 rows × 32 code bytes
  const __m128i bias = _mm_set1_epi8(-128);
  for (int64_t b = 0; b < n / 32; ++b) {
    const BlockAt at = block_at(b, kArea);
    for (int64_t half = 0; half < 2; ++half) {
      const HalfGroups g = half_groups(groups, group_bytes, nr, half);
      if (g.a == nullptr) break;
      uint8_t* out = block + static_cast<size_t>(b) * 2 * kWideHalfBytes + static_cast<size_t>(half) * kWideHalfBytes;
      for (int part = 0; part < 2; ++part) {  // codes 0-15 (steps 0-7), then 16-31 (steps 8-15)
        __m128i r[8];
        for (int i = 0; i < 8; ++i) {
          const uint8_t* grp = i < 4 ? g.a : g.b;
          r[i] = grp ? _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(grp + at.area + 64 * part + 16 * (i % 4))), bias)
                     : _mm_setzero_si128();
        }
        // 8 × 8 transpose of 16-bit pairs: t[v] = pair v of rows 0..7.
        const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
        const __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
        const __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
        const __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
        const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
        const __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
        const __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
        const __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
        const __m128i t[8] = {_mm_unpacklo_epi64(b0, b4), _mm_unpackhi_epi64(b0, b4), _mm_unpacklo_epi64(b1, b5),
                              _mm_unpackhi_epi64(b1, b5), _mm_unpacklo_epi64(b2, b6), _mm_unpackhi_epi64(b2, b6),
                              _mm_unpacklo_epi64(b3, b7), _mm_unpackhi_epi64(b3, b7)};
        for (int v = 0; v < 8; ++v) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * (8 * part + v)), _mm256_cvtepi8_epi16(t[v]));
        }
      }
      alignas(32) float scale[8];
      gather_scales(g, at, b, scale);
      std::memcpy(out + 512, scale, sizeof scale);
    }
  }
}

// One token's step of the wide kernel: its two activation codes broadcast, times both halves'
// 8 rows × 2 codes, added to the integer sums. In asm so that each broadcast is made where it
// is used: GCC hoisted all N broadcasts of a step (and the next step's) and spilled a sum.
[[gnu::always_inline]] inline void wide_step(const uint8_t* a2, __m256i w0, __m256i w1, __m256i& s0, __m256i& s1) {
  __m256i a, p;
  asm("vpbroadcastd %[a2], %[a]\n\t"
      "vpmaddwd %[w0], %[a], %[p]\n\t"
      "vpaddd %[p], %[s0], %[s0]\n\t"
      "vpmaddwd %[w1], %[a], %[a]\n\t"
      "vpaddd %[a], %[s1], %[s1]"
      : [s0] "+x"(s0), [s1] "+x"(s1), [a] "=&x"(a), [p] "=&x"(p)
      : [a2] "m"(*reinterpret_cast<const int32_t*>(a2)), [w0] "x"(w0), [w1] "x"(w1));
}

// A block's 16 steps for N tokens: the integer sums of 16 rows × N tokens. N = 4 is the
// kernel's width (8 sums + 4 scratch registers); fewer tokens (a run's leftover) step in C++.
template <int N>
[[gnu::always_inline]] inline void wide_block(const uint8_t* blk, const uint8_t* const (&ab)[N], __m256i (&isum)[N][2]) {
  if constexpr (N == 4) {
    // The whole block in one asm statement (.rept: the 16 steps): with the sums as C++
    // variables, GCC copied them between registers and spilled some on every step.
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    asm(".set trellis_wide_v, 0\n\t"
        ".rept 16\n\t"
        "vmovdqu trellis_wide_v*32(%[w]), %%ymm12\n\t"
        "vmovdqu %c[half]+trellis_wide_v*32(%[w]), %%ymm13\n\t"
        "vpbroadcastd trellis_wide_v*4(%[a0]), %%ymm14\n\t"
        "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
        "vpaddd %%ymm15, %[s00], %[s00]\n\t"
        "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
        "vpaddd %%ymm14, %[s01], %[s01]\n\t"
        "vpbroadcastd trellis_wide_v*4(%[a1]), %%ymm14\n\t"
        "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
        "vpaddd %%ymm15, %[s10], %[s10]\n\t"
        "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
        "vpaddd %%ymm14, %[s11], %[s11]\n\t"
        "vpbroadcastd trellis_wide_v*4(%[a2]), %%ymm14\n\t"
        "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
        "vpaddd %%ymm15, %[s20], %[s20]\n\t"
        "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
        "vpaddd %%ymm14, %[s21], %[s21]\n\t"
        "vpbroadcastd trellis_wide_v*4(%[a3]), %%ymm14\n\t"
        "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
        "vpaddd %%ymm15, %[s30], %[s30]\n\t"
        "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
        "vpaddd %%ymm14, %[s31], %[s31]\n\t"
        ".set trellis_wide_v, trellis_wide_v+1\n\t"
        ".endr"
        : [s00] "+x"(s00), [s01] "+x"(s01), [s10] "+x"(s10), [s11] "+x"(s11), [s20] "+x"(s20), [s21] "+x"(s21),
          [s30] "+x"(s30), [s31] "+x"(s31)
        : [w] "r"(blk), [a0] "r"(ab[0]), [a1] "r"(ab[1]), [a2] "r"(ab[2]), [a3] "r"(ab[3]), [half] "i"(kWideHalfBytes),
          "m"(*reinterpret_cast<const uint8_t(*)[2 * kWideHalfBytes]>(blk)), "m"(*reinterpret_cast<const uint8_t(*)[64]>(ab[0])),
          "m"(*reinterpret_cast<const uint8_t(*)[64]>(ab[1])), "m"(*reinterpret_cast<const uint8_t(*)[64]>(ab[2])),
          "m"(*reinterpret_cast<const uint8_t(*)[64]>(ab[3]))
        : "xmm12", "xmm13", "xmm14", "xmm15");
    isum[0][0] = s00, isum[0][1] = s01, isum[1][0] = s10, isum[1][1] = s11;
    isum[2][0] = s20, isum[2][1] = s21, isum[3][0] = s30, isum[3][1] = s31;
  } else {
#pragma GCC unroll 8
    for (int t = 0; t < N; ++t) isum[t][0] = isum[t][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int v = 0; v < 16; ++v) {
      const __m256i w0 = load256(blk + 32 * v), w1 = load256(blk + kWideHalfBytes + 32 * v);
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) wide_step(ab[t] + 4 * v, w0, w1, isum[t][0], isum[t][1]);
    }
  }
}

template <int N>
struct WideMicro {
  static void run(const uint8_t* w, int64_t b0, int64_t b1, const uint8_t* acts, size_t as, int64_t n, float* y,
                  int64_t ldy, int64_t nr, bool add) {
    // The float sums stay in L1, touched once per block: the registers go to the block's
    // integer sums and the step's operands (N = 4: 8 sums + 4 scratch in wide_block).
    alignas(32) float acc[N][16] = {};
    for (int64_t b = b0; b < b1; ++b) {
      const uint8_t* blk = w + static_cast<size_t>(b) * 2 * kWideHalfBytes;
      const uint8_t* ab[N];
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) ab[t] = acts + t * as + 64 * b;
      __m256i isum[N][2];
      wide_block<N>(blk, ab, isum);
      const __m256 sc0 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + 512));
      const __m256 sc1 = _mm256_loadu_ps(reinterpret_cast<const float*>(blk + kWideHalfBytes + 512));
#pragma GCC unroll 8
      for (int t = 0; t < N; ++t) {
        const __m256 da = _mm256_set1_ps(reinterpret_cast<const float*>(acts + t * as + 2 * n)[b]);
        _mm256_store_ps(acc[t], _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t][0]), _mm256_mul_ps(sc0, da), _mm256_load_ps(acc[t])));
        _mm256_store_ps(acc[t] + 8,
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t][1]), _mm256_mul_ps(sc1, da), _mm256_load_ps(acc[t] + 8)));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < N; ++t) store_rows(_mm256_load_ps(acc[t]), _mm256_load_ps(acc[t] + 8), nr, add, y + t * ldy);
  }
};

template <int N>
void wide_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  blocks_by_slices<WideMicro, N>(w, 2 * kWideHalfBytes, n / 32, n_rows, acts, wide_act_bytes(n), n_tok, n, y, ldy);
}

template <class Fmt, int N>
constexpr GemmKernels wide_gemm() {
  GemmKernels g;
  g.act_bytes = wide_act_bytes;
  g.pack_acts = pack_acts_wide;
  g.w_bytes = wide_w_bytes;
  g.pack_w_row = pack_w_wide<Fmt>;
  g.tile = wide_tile<N>;
  if constexpr (std::is_same_v<Fmt, FmtQ8_0>) g.pack_w_interleaved = pack_q8_0_interleaved;
  return g;
}

template <__m256 (*Load)(const void*, int64_t), size_t kElemBytes>
constexpr GemmKernels float_gemm() {
  GemmKernels g;
  g.act_bytes = f32_bytes;
  g.pack_acts = pack_acts_f32;
  g.acts_are_rows = true;
  g.w_bytes = f32_bytes;
  g.pack_w_row = pack_w_float<Load>;
  g.pack_w_interleaved = pack_float_interleaved<Load, kElemBytes>;
  g.tile = float_tile;
  return g;
}

using PackInterleavedFn = void (*)(const uint8_t*, size_t, int64_t, int64_t, uint8_t*);

template <class F, int N, void (*PackW)(const void*, int64_t, uint8_t*, int), PackInterleavedFn PackI = nullptr>
constexpr GemmKernels int_gemm() {
  GemmKernels g;
  g.act_bytes = int_act_bytes;
  g.pack_acts = pack_acts_int;
  g.w_bytes = int_w_bytes<F::LB>;
  g.pack_w_row = PackW;
  if constexpr (4 * F::K16 == F::LB) g.tile = int4_tile<F>;  // a block's steps in 16 bits: 4 tokens in asm
  else g.tile = int_tile<F, N>;
  g.pack_w_interleaved = PackI;
  return g;
}

constexpr IsaKernels make_table() {
  IsaKernels k;
  k.quantize_acts = quantize_acts_avx2;
  k.vec_dot[static_cast<int>(WSlot::F32)] = dot_float<load8_f32>;
  k.vec_dot[static_cast<int>(WSlot::F16)] = dot_float<load8_f16>;
  k.vec_dot[static_cast<int>(WSlot::BF16)] = dot_float<load8_bf16>;
  k.vec_dot[static_cast<int>(WSlot::Q8_0)] = dot_legacy<FmtQ8_0>;
  k.vec_dot[static_cast<int>(WSlot::Q4_0)] = dot_legacy<FmtQ4_0>;
  k.vec_dot[static_cast<int>(WSlot::Q4_1)] = dot_legacy<FmtQ4_1>;
  k.vec_dot[static_cast<int>(WSlot::Q5_0)] = dot_legacy<FmtQ5_0>;
  k.vec_dot[static_cast<int>(WSlot::Q5_1)] = dot_legacy<FmtQ5_1>;
  k.vec_dot[static_cast<int>(WSlot::IQ4_NL)] = dot_legacy<FmtIQ4_NL>;
  k.vec_dot[static_cast<int>(WSlot::Q4_K)] = dot_kx<BlockQ4_K, false>;
  k.vec_dot[static_cast<int>(WSlot::Q5_K)] = dot_kx<BlockQ5_K, true>;
  k.vec_dot[static_cast<int>(WSlot::Q6_K)] = dot_q6_K;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q8_0)] = x4_run<dot_x4_avx2<X4Q8_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_0)] = x4_run<dot_x4_avx2<X4Q4_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_0)] = x4_run<dot_x4_avx2<X4Q5_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_1)] = x4_run<dot_x4_avx2<X4Q4_1>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_1)] = x4_run<dot_x4_avx2<X4Q5_1>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_K)] = x4_run<dot_x4_kx_avx2<false>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_K)] = x4_run<dot_x4_kx_avx2<true>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::F32)] = x4_run<dot_x4_float<load8_f32, 4>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::F16)] = x4_run<dot_x4_float<load8_f16, 2>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::BF16)] = x4_run<dot_x4_float<load8_bf16, 2>>;
  k.gemm[static_cast<int>(WSlot::F32)] = float_gemm<load8_f32, 4>();
  k.gemm[static_cast<int>(WSlot::F16)] = float_gemm<load8_f16, 2>();
  k.gemm[static_cast<int>(WSlot::BF16)] = float_gemm<load8_bf16, 2>();
  k.gemm[static_cast<int>(WSlot::Q8_0)] = wide_gemm<FmtQ8_0, 4>();
  k.gemm[static_cast<int>(WSlot::IQ4_NL)] = wide_gemm<FmtIQ4_NL, 4>();
  k.gemm[static_cast<int>(WSlot::Q4_0)] = int_gemm<IntQ4Fold8, 4, pack_w_legacy<FmtQ4_0>, pack_q4q5_0_interleaved<false>>();
  k.gemm[static_cast<int>(WSlot::Q4_1)] = int_gemm<IntQ4, 4, pack_w_legacy<FmtQ4_1>>();
  k.gemm[static_cast<int>(WSlot::Q4_K)] = int_gemm<IntQ4, 4, pack_w_kx<BlockQ4_K, false>>();
  k.gemm[static_cast<int>(WSlot::Q5_0)] = int_gemm<IntQ5Fold16, 4, pack_w_legacy<FmtQ5_0>, pack_q4q5_0_interleaved<true>>();
  k.gemm[static_cast<int>(WSlot::Q5_1)] = int_gemm<IntQ5Fold16Offset, 4, pack_w_legacy<FmtQ5_1, 16>>();
  k.gemm[static_cast<int>(WSlot::Q5_K)] = int_gemm<IntQ5Fold16Offset, 4, pack_w_kx<BlockQ5_K, true, 16>>();
  k.gemm[static_cast<int>(WSlot::Q6_K)] = int_gemm<IntQ6Fold32, 4, pack_w_q6_K>();
  return k;
}

constinit const IsaKernels kAvx2Table = make_table();

}  // namespace

const IsaKernels& avx2_kernels() { return kAvx2Table; }

}  // namespace trellis
