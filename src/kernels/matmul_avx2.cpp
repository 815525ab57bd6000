// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; reached only through
// avx2_kernels() after a run-time CPU check). Integer weights: maddubs (u8 × s8 → s16 pairs)
// and madd into s32 per 32-element block, then the block's float scale by FMA.
// Prefill uses these dot kernels row by row (each weight row stays in L1 across tokens);
// decode reads the interleaved copy (kernels/interleave.h) four rows per call when the model
// has one.
#include <immintrin.h>

#include <cstring>

#include "core/quant_blocks.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

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
  for (int64_t b = 0; b < n / 32; ++b) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 32 * b + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    const float db = hmax(m) / 127.f;
    const __m256 id = _mm256_set1_ps(db != 0.f ? 1.f / db : 0.f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[k], id)), lo), hi);
    }
    const int s0 = hsum_i32(_mm256_add_epi32(q[0], q[1])), s1 = hsum_i32(_mm256_add_epi32(q[2], q[3]));
    // packs works within 128-bit lanes; the permute restores element order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
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

// Two row pairs' sums of four partial sums per row (lane r of pair p = row 2p + r) to y.
void store_pair_sums(__m256 v01, __m256 v23, int n_rows, float* y) {
  const __m256 h = _mm256_hadd_ps(v01, v23);  // lane 0: r0 r0 r2 r2, lane 1: r1 r1 r3 r3
  const __m256 t = _mm256_hadd_ps(h, h);      // lane 0: r0 r2 .., lane 1: r1 r3 ..
  alignas(16) float out[4];
  const __m128 lo = _mm256_castps256_ps128(t), hi = _mm256_extractf128_ps(t, 1);
  _mm_store_ps(out, _mm_unpacklo_ps(lo, hi));  // r0 r1 r2 r3
  for (int r = 0; r < n_rows; ++r) y[r] = out[r];
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
// integer sums against the block's activations.
struct NibblePair {
  __m256i lo, hi;
};
NibblePair nibbles_of_pair(const uint8_t* codes, int pair) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i x = load256(codes + 32 * pair);
  return {_mm256_and_si256(x, m4), _mm256_and_si256(_mm256_srli_epi16(x, 4), m4)};
}
__m256i dot_pair(const NibblePair& q, const int8_t* ab) {
  return _mm256_add_epi32(dot_u8(q.lo, bcast16(ab)), dot_u8(q.hi, bcast16(ab + 16)));
}

// Per format: integer sums of block `codes` for rows 0,1 (pair 0) or 2,3 (pair 1).
struct X4Q4_0 {
  static constexpr int kRowBytes = 16;
  static constexpr float kOffset = -8.f;
  static __m256i dot(const uint8_t* codes, int pair, const int8_t* ab) { return dot_pair(nibbles_of_pair(codes, pair), ab); }
};
struct X4Q5_0 {
  static constexpr int kRowBytes = 20;
  static constexpr float kOffset = -16.f;
  static __m256i dot(const uint8_t* codes, int pair, const int8_t* ab) {
    NibblePair q = nibbles_of_pair(codes, pair);
    const __m256i masks = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 64)));
    q.lo = _mm256_or_si256(q.lo, high_bits_pair(masks, pair, 0));
    q.hi = _mm256_or_si256(q.hi, high_bits_pair(masks, pair, 1));
    return dot_pair(q, ab);
  }
};
struct X4Q8_0 {  // stored biased by 128: back to signed for maddubs (which would saturate)
  static constexpr int kRowBytes = 32;
  static constexpr float kOffset = 0.f;
  static __m256i dot(const uint8_t* codes, int pair, const int8_t* ab) {
    const __m256i bias = _mm256_set1_epi8(-128);
    return _mm256_add_epi32(dot_s8(_mm256_xor_si256(load256(codes + 32 * pair), bias), bcast16(ab)),
                            dot_s8(_mm256_xor_si256(load256(codes + 64 + 32 * pair), bias), bcast16(ab + 16)));
  }
};

template <class X>
void dot_x4_avx2(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kBlockArea = 4 * X::kRowBytes;
  const QuantRow& a = act.q;
  const int64_t nb = n / 32;
  __m256 acc01 = _mm256_setzero_ps(), acc23 = _mm256_setzero_ps();
  __m256 corr01 = _mm256_setzero_ps(), corr23 = _mm256_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 4) {
    const int cnt = nb - b0 < 4 ? static_cast<int>(nb - b0) : 4;
    const __m128i m4 = _mm_cmpgt_epi32(_mm_set1_epi32(cnt), _mm_setr_epi32(0, 1, 2, 3));
    const __m128 d4 = _mm_maskload_ps(a.d + b0, m4), ds4 = _mm_maskload_ps(a.ds + b0, m4);
    const __m256 adv = _mm256_set_m128(d4, d4), dsv = _mm256_set_m128(ds4, ds4);
    const __m256 dw01 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    const __m256 dw23 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16)));
    const __m256 sc01 = _mm256_mul_ps(dw01, adv), sc23 = _mm256_mul_ps(dw23, adv);
    if (X::kOffset != 0.f) {
      corr01 = _mm256_fmadd_ps(dw01, dsv, corr01);
      corr23 = _mm256_fmadd_ps(dw23, dsv, corr23);
    }
    const uint8_t* codes = g + 32;
    const int8_t* ab = a.qs + 32 * b0;
    auto step = [&](int j, __m256 s01, __m256 s23) {
      acc01 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(X::dot(codes + j * kBlockArea, 0, ab + 32 * j)), s01, acc01);
      acc23 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(X::dot(codes + j * kBlockArea, 1, ab + 32 * j)), s23, acc23);
    };
    step(0, _mm256_permute_ps(sc01, 0x00), _mm256_permute_ps(sc23, 0x00));
    if (cnt > 1) step(1, _mm256_permute_ps(sc01, 0x55), _mm256_permute_ps(sc23, 0x55));
    if (cnt > 2) step(2, _mm256_permute_ps(sc01, 0xAA), _mm256_permute_ps(sc23, 0xAA));
    if (cnt > 3) step(3, _mm256_permute_ps(sc01, 0xFF), _mm256_permute_ps(sc23, 0xFF));
    g += 32 + cnt * kBlockArea;
  }
  const __m256 off = _mm256_set1_ps(X::kOffset);
  store_pair_sums(_mm256_fmadd_ps(corr01, off, acc01), _mm256_fmadd_ps(corr23, off, acc23), n_rows, y);
}

// Q4_K (layout in kernels/interleave.h): scales and mins of each half super-block in
// lane-per-row order, codes of each 64-element group as [rows 0,1 | rows 2,3] × two halves.
void dot_x4_q4k_avx2(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kGroupBytes = 80 + 512;
  const QuantRow& a = act.q;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, corr[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < n / 256; ++i, g += kGroupBytes) {
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
    auto group = [&](int k, int p, __m256 sc_lo, __m256 sc_hi) {
      const __m256i x0 = load256(codes + 128 * k + 32 * p), x1 = load256(codes + 128 * k + 64 + 32 * p);
      const int8_t* ak = aq + 64 * k;
      const __m256i lo = _mm256_add_epi32(dot_u8(_mm256_and_si256(x0, m4), bcast16(ak)),
                                          dot_u8(_mm256_and_si256(x1, m4), bcast16(ak + 16)));
      const __m256i hi = _mm256_add_epi32(dot_u8(_mm256_and_si256(_mm256_srli_epi16(x0, 4), m4), bcast16(ak + 32)),
                                          dot_u8(_mm256_and_si256(_mm256_srli_epi16(x1, 4), m4), bcast16(ak + 48)));
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), sc_lo, acc[p]);
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), sc_hi, acc[p]);
    };
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      group(0, p, _mm256_permute_ps(scale[0][p], 0x00), _mm256_permute_ps(scale[0][p], 0x55));
      group(1, p, _mm256_permute_ps(scale[0][p], 0xAA), _mm256_permute_ps(scale[0][p], 0xFF));
      group(2, p, _mm256_permute_ps(scale[1][p], 0x00), _mm256_permute_ps(scale[1][p], 0x55));
      group(3, p, _mm256_permute_ps(scale[1][p], 0xAA), _mm256_permute_ps(scale[1][p], 0xFF));
    }
  }
  store_pair_sums(_mm256_sub_ps(acc[0], corr[0]), _mm256_sub_ps(acc[1], corr[1]), n_rows, y);
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
  k.vec_dot_x4[static_cast<int>(WSlot::Q8_0)] = dot_x4_avx2<X4Q8_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q4_0)] = dot_x4_avx2<X4Q4_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q5_0)] = dot_x4_avx2<X4Q5_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q4_K)] = dot_x4_q4k_avx2;
  return k;
}

constinit const IsaKernels kAvx2Table = make_table();

}  // namespace

const IsaKernels& avx2_kernels() { return kAvx2Table; }

}  // namespace trellis
