// AVX-512 (F/BW/VL/DQ/VNNI/BF16) kernels, reached only through avx512_kernels() after a
// run-time CPU check.
//
// Decode (one token): four rows per call with 512-bit VNNI dots, from the interleaved copy
// (kernels/interleave.h) for Q4_0 / Q8_0 when the model has one, else straight from the
// file's blocks; 256-bit dots for single rows (the shared matmul_x86_dots.inl).
//
// Prefill: weights and activations are repacked once per call into a lane-interleaved
// layout so that one vpdpbusd lane accumulates a whole quantization block:
//   group  = 16 lanes × LB bytes (LB = 32, the block size, or 16 for Q6_K's sub-blocks)
//   vector v of a group (64 bytes) holds, for every lane l, bytes 4v..4v+3 of lane-block l
//   then 16 floats of per-lane scales and 16 of per-lane offsets / activation sums.
// LB/4 vpdpbusd then finish 16 blocks at once, and the float work (convert, scale, add) is
// paid once per 16·LB elements instead of once per block. Weight codes are unsigned
// (signed formats are biased by 128, the bias folded into the per-lane offset), as vpdpbusd
// multiplies unsigned by signed bytes.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* helpers (used by reduce/cvt intrinsics) as
// uninitialized; the values are always fully overwritten.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/quant_blocks.h"
#include "kernels/interleave.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

__m256i dot_u8(__m256i q, __m256i a) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, a); }
__m256i dot_s8(__m256i q, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)),
                           _mm256_set1_epi16(1));
}

#include "kernels/matmul_x86_dots.inl"

// ---- activations --------------------------------------------------------------------------

// One 32-element block: codes, scale and the sums of each 16-element half.
void quantize_block(const float* x, int8_t* q, float* d, int* s0, int* s1) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float db = amax / 127.f;
  const __m512 id = _mm512_set1_ps(db != 0.f ? 1.f / db : 0.f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)), lo), hi);
  const __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, id)), lo), hi);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
  *d = db;
  *s0 = _mm512_reduce_add_epi32(q0);
  *s1 = _mm512_reduce_add_epi32(q1);
}

void quantize_acts_avx512(const float* x, int64_t n, int8_t* qs, float* d, float* ds, float* ds16) {
  for (int64_t b = 0; b < n / 32; ++b) {
    int s0, s1;
    quantize_block(x + 32 * b, qs + 32 * b, d + b, &s0, &s1);
    ds[b] = d[b] * static_cast<float>(s0 + s1);
    ds16[2 * b] = d[b] * static_cast<float>(s0);
    ds16[2 * b + 1] = d[b] * static_cast<float>(s1);
  }
}

// ---- decode: two blocks per 512-bit vector -------------------------------------------------
// Scales of 16 blocks are fetched at once (a gather of the fp16 fields, then one convert), so
// the per-block float work is one convert + one FMA per two blocks, and the offsets / mins of
// the formats are applied once per 16 blocks against the activation sums.

// The fp16 at byte `field` of `count` (≤ 16) consecutive blocks of `stride` bytes, as floats;
// with `high` the fp16 two bytes further (the min of Q4_1 / Q5_1), from the same gather.
struct Halves {
  __m512 lo, hi;
};
Halves gather_halves(const void* blocks, int stride, int count) {
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(stride));
  const __mmask16 m = static_cast<__mmask16>((1u << count) - 1);
  const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, blocks, 1);
  return {_mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)))};
}

// 16 packed bytes of each of two blocks → their 64 nibble codes in element order.
__m512i nibbles2(const uint8_t* qs0, const uint8_t* qs1) {
  const __m256i v = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)), 1);
  const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
  const __m512i q = _mm512_and_si512(x, _mm512_set1_epi8(0x0F));  // [lo0 lo1 hi0 hi1]
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7), q);
}

uint64_t qh_pair(const uint8_t* qh0, const uint8_t* qh1) {
  uint32_t a, b;
  std::memcpy(&a, qh0, 4);
  std::memcpy(&b, qh1, 4);
  return uint64_t{a} | uint64_t{b} << 32;
}

// Codes of blocks i and i+1 (count == 1: block i only, upper half zero), unsigned.
struct Z_Q4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -8.f;
  static __m512i codes(const Block* b, int count) { return nibbles2(b[0].qs, b[count - 1].qs); }
};
struct Z_Q4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 0.f;
  static __m512i codes(const Block* b, int count) { return nibbles2(b[0].qs, b[count - 1].qs); }
};
struct Z_Q5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -16.f;
  static __m512i codes(const Block* b, int count) {
    const __mmask64 hi = qh_pair(b[0].qh, b[count - 1].qh);
    const __m512i q = nibbles2(b[0].qs, b[count - 1].qs);
    return _mm512_mask_add_epi8(q, hi, q, _mm512_set1_epi8(0x10));
  }
};
struct Z_Q5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 0.f;
  static __m512i codes(const Block* b, int count) {
    const __mmask64 hi = qh_pair(b[0].qh, b[count - 1].qh);
    const __m512i q = nibbles2(b[0].qs, b[count - 1].qs);
    return _mm512_mask_add_epi8(q, hi, q, _mm512_set1_epi8(0x10));
  }
};
struct Z_Q8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -128.f;
  static __m512i codes(const Block* b, int count) {
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(load256(b[0].qs)), load256(b[count - 1].qs), 1);
    return _mm512_xor_si512(q, _mm512_set1_epi8(-128));
  }
};
struct Z_IQ4_NL {
  using Block = BlockIQ4_NL;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -128.f;
  static __m512i codes(const Block* b, int count) {
    const __m128i lut = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)), _mm_set1_epi8(-128));
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(lut), nibbles2(b[0].qs, b[count - 1].qs));
  }
};

// Up to 16 blocks from b0: scales and offsets for all, then two blocks per vector. kFull
// (cnt == 16) lets the pair loop unroll with constant scale-lane indices.
template <class Z, bool kFull>
void legacy_group(const typename Z::Block* blocks, const QuantRow& a, int64_t b0, int cnt, __m512& acc, __m512& corr) {
  const __mmask16 m = static_cast<__mmask16>((1u << cnt) - 1);
  const Halves h = gather_halves(blocks + b0, sizeof(typename Z::Block), cnt);
  const __m512 scale = _mm512_mul_ps(h.lo, _mm512_maskz_loadu_ps(m, a.d + b0));
  const __m512 off = Z::kMin ? h.hi : _mm512_mul_ps(h.lo, _mm512_set1_ps(Z::kOffset));
  corr = _mm512_fmadd_ps(off, _mm512_maskz_loadu_ps(m, a.ds + b0), corr);
  const __m512i pair_idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
#pragma GCC unroll 8
  for (int k = 0; k < (kFull ? 16 : cnt); k += 2) {
    const int two = kFull || cnt - k >= 2 ? 2 : 1;
    const __m512i q = Z::codes(blocks + b0 + k, two);
    const __m512i av = two == 2 ? _mm512_loadu_si512(a.qs + 32 * (b0 + k))
                                : _mm512_zextsi256_si512(load256(a.qs + 32 * (b0 + k)));
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, av);
    const __m512 sc = _mm512_permutexvar_ps(_mm512_add_epi32(pair_idx, _mm512_set1_epi32(k)), scale);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc);
  }
}

template <class Z>
float dot_legacy512(const void* w, const ActRow& a, int64_t n) {
  const auto* blocks = static_cast<const typename Z::Block*>(w);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
  int64_t b0 = 0;
  for (; b0 + 16 <= nb; b0 += 16) legacy_group<Z, true>(blocks, a.q, b0, 16, acc, corr);
  if (b0 < nb) legacy_group<Z, false>(blocks, a.q, b0, static_cast<int>(nb - b0), acc, corr);
  return _mm512_reduce_add_ps(_mm512_add_ps(acc, corr));
}

// ---- decode: four rows per call ------------------------------------------------------------
// One call computes four rows, so every activation load feeds four rows, and the float work
// of a block (convert, scale, FMA) is paid once for all of them: the integer sums of a block
// end up in the lane-per-row form (the 128-bit lane r holds four partial sums of row r).
// Scales are read four blocks at a time into lane 4r+j (block j of row r) with plain loads
// (a gather is microcoded and slow on AMD), so a block's scale is an in-lane broadcast. The
// lanes of each row are reduced once at the end.

// 16 bytes at byte `off` of four blocks (one per row) into the four lanes.
template <class Block>
__m512i load4x16(const Block* const* rows, int64_t b, size_t off) {
  auto at = [&](int r) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint8_t*>(rows[r] + b) + off));
  };
  __m512i v = _mm512_castsi128_si512(at(0));
  v = _mm512_inserti32x4(v, at(1), 1);
  v = _mm512_inserti32x4(v, at(2), 2);
  return _mm512_inserti32x4(v, at(3), 3);
}

__m512i bcast16(const int8_t* p) { return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
__m512i bcast32(const int8_t* p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

// Integer sums of two rows per vector (row r0 in lanes 0-1, r1 in lanes 2-3) of rows 0,1 (a)
// and 2,3 (b), folded into the lane-per-row form.
__m512i fold_pairs(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xDD));
}

// Per format: Σ code·activation over block b for the four rows, four partial sums per row in
// the row's lane (codes unsigned, activations `ab` = the block's 32 int8 values).
//
// Q4_0 / Q4_1 / IQ4_NL: the 16 packed bytes of each row side by side; low nibbles (elements
// 0-15) and high nibbles (16-31) each meet the matching 16 activations broadcast to all lanes.
template <class Block, bool kTable>
struct NibbleRows {
  static __m512i dot(const Block* const* rows, int64_t b, const int8_t* ab) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i x = load4x16(rows, b, offsetof(Block, qs));
    __m512i lo = _mm512_and_si512(x, m4), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
    if constexpr (kTable) {
      const __m128i lut = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)), _mm_set1_epi8(-128));
      const __m512i l4 = _mm512_broadcast_i32x4(lut);
      lo = _mm512_shuffle_epi8(l4, lo);
      hi = _mm512_shuffle_epi8(l4, hi);
    }
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, bcast16(ab));
    return _mm512_dpbusd_epi32(p, hi, bcast16(ab + 16));
  }
};

// Q5_0 / Q5_1: a block's 32 codes of a row in element order fill half a vector (two rows per
// vector), so the row's qh word is directly the mask of its 5th bits.
template <class Block>
struct Nibble5Rows {
  static __m512i pair(const Block& b0, const Block& b1, __m512i a) {
    const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0.qs)))),
                                         _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b1.qs))), 1);
    // Lanes 0, 2: low nibbles (elements 0-15); lanes 1, 3: high nibbles (16-31).
    __m512i q = _mm512_and_si512(_mm512_srlv_epi64(x, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi8(0x0F));
    uint32_t h0, h1;
    std::memcpy(&h0, b0.qh, 4);
    std::memcpy(&h1, b1.qh, 4);
    q = _mm512_mask_add_epi8(q, static_cast<__mmask64>(uint64_t{h0} | uint64_t{h1} << 32), q, _mm512_set1_epi8(0x10));
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, a);
  }
  static __m512i dot(const Block* const* rows, int64_t b, const int8_t* ab) {
    const __m512i a = bcast32(ab);
    return fold_pairs(pair(rows[0][b], rows[1][b], a), pair(rows[2][b], rows[3][b], a));
  }
};

// Q8_0: a row's 32 codes (biased by 128) fill half a vector.
struct Q8Rows {
  static __m512i pair(const BlockQ8_0& b0, const BlockQ8_0& b1, __m512i a) {
    const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(load256(b0.qs)), load256(b1.qs), 1);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(x, _mm512_set1_epi8(-128)), a);
  }
  static __m512i dot(const BlockQ8_0* const* rows, int64_t b, const int8_t* ab) {
    const __m512i a = bcast32(ab);
    return fold_pairs(pair(rows[0][b], rows[1][b], a), pair(rows[2][b], rows[3][b], a));
  }
};

// The dword at byte `off` (by default d, and m for Q4_1 / Q5_1) of blocks b0..b0+cnt-1 of the four rows, lane
// 4r+j for block j of row r (0 where j >= cnt). Plain loads: a gather is slow on some CPUs.
template <class Block>
__m512i fields4x4(const Block* const* rows, int64_t b0, int cnt, size_t off = 0) {
  auto f = [&](int r, int j) {
    uint32_t v;
    std::memcpy(&v, reinterpret_cast<const uint8_t*>(rows[r] + b0 + j) + off, 4);
    return static_cast<int>(v);
  };
  if (cnt == 4) {
    return _mm512_setr_epi32(f(0, 0), f(0, 1), f(0, 2), f(0, 3), f(1, 0), f(1, 1), f(1, 2), f(1, 3), f(2, 0), f(2, 1),
                             f(2, 2), f(2, 3), f(3, 0), f(3, 1), f(3, 2), f(3, 3));
  }
  alignas(64) int32_t v[16] = {};
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < cnt; ++j) v[4 * r + j] = f(r, j);
  return _mm512_load_si512(v);
}

constexpr int64_t kPrefetchBytes = 2048;

// v holds four partial sums per row in the row's 128-bit lane; stores the totals of the
// first n_rows rows.
void store_row_sums(__m512 v, int n_rows, float* y) {
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
  const __m128 out = _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), v));
  _mm_mask_storeu_ps(y, static_cast<__mmask8>((1u << n_rows) - 1), out);
}

// Z: the scale/offset description of the format (Z_Q4_0 ...), C: its code loader.
template <class Z, class C>
void dot4_legacy512(const uint8_t* w, size_t stride, int n_rows, const ActRow& act, int64_t n, float* y) {
  using Block = typename Z::Block;
  const Block* rows[4];
  for (int r = 0; r < 4; ++r) rows[r] = reinterpret_cast<const Block*>(w + stride * static_cast<size_t>(r < n_rows ? r : n_rows - 1));
  const QuantRow& a = act.q;
  const int64_t nb = n / 32;
  // Short rows (stride <= kDotRowsContiguousMaxStride, which the driver passes as four consecutive
  // rows): the four rows are one small region read at four interleaved points, which hardware
  // prefetchers do not follow; the next call's four rows plus kPrefetchBytes are prefetched as
  // one sequential stream at the pace of this call. (Long rows come as four distant sequential
  // streams, which the hardware handles.)
  const bool prefetch = stride <= kDotRowsContiguousMaxStride;
  const char* const pf_base = reinterpret_cast<const char*>(w) + 4 * stride + kPrefetchBytes;
  const char* pf = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(pf_base) / 64 * 64);
  // Two accumulators, even and odd blocks, as dot_x4_512 (bit-identical results).
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, corr = _mm512_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 4) {
    const int cnt = nb - b0 < 4 ? static_cast<int>(nb - b0) : 4;
    if (prefetch) {
      for (const char* until = pf_base + (b0 + 4) * 4 * static_cast<int64_t>(sizeof(Block)); pf < until; pf += 64) {
        _mm_prefetch(pf, _MM_HINT_T0);
      }
    }
    const __m512i g = fields4x4(rows, b0, cnt);
    const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
    const __mmask8 m4 = static_cast<__mmask8>((1u << cnt) - 1);
    const __m512 scale = _mm512_mul_ps(dw, _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(m4, a.d + b0)));
    const __m512 ds = _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(m4, a.ds + b0));
    if (Z::kMin) corr = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(g, 16))), ds, corr);
    else corr = _mm512_fmadd_ps(dw, ds, corr);
    auto step = [&](int j, __m512 sc) {
      acc[j & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(C::dot(rows, b0 + j, a.qs + 32 * (b0 + j))), sc, acc[j & 1]);
    };
    step(0, _mm512_permute_ps(scale, 0x00));
    if (cnt > 1) step(1, _mm512_permute_ps(scale, 0x55));
    if (cnt > 2) step(2, _mm512_permute_ps(scale, 0xAA));
    if (cnt > 3) step(3, _mm512_permute_ps(scale, 0xFF));
  }
  const __m512 sum = _mm512_add_ps(acc[0], acc[1]);
  store_row_sums(Z::kMin ? _mm512_add_ps(sum, corr) : _mm512_fmadd_ps(corr, _mm512_set1_ps(Z::kOffset), sum), n_rows, y);
}

// ---- decode from the interleaved layout (kernels/interleave.h) -----------------------------
// A group holds four rows side by side: per tile of four blocks, 16 F16 scales (entry 4r+j =
// row r, block j; Q4_1 / Q5_1 then 16 F16 minimums) and per block one 64-byte vector per 16
// codes whose 128-bit lane r is row r.
// So the lane-per-row form of dot4_legacy512 comes straight from plain loads, and the group
// is one sequential stream.
struct X4Q4_0 {
  static constexpr int kRowBytes = 16;
  static constexpr int kHeader = 32;  // the tile's 16 F16 scales
  static constexpr bool kMin = false;
  static constexpr float kOffset = -8.f;
  static __m512i dot(const uint8_t* codes, const int8_t* ab) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i x = _mm512_loadu_si512(codes);
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(x, m4), bcast16(ab));
    return _mm512_dpbusd_epi32(p, _mm512_and_si512(_mm512_srli_epi16(x, 4), m4), bcast16(ab + 16));
  }
};
struct X4Q5_0 {  // Q4_0's nibbles plus the 5th bits as byte masks after them
  static constexpr int kRowBytes = 20;
  static constexpr int kHeader = 32;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -16.f;
  static __m512i dot(const uint8_t* codes, const int8_t* ab) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i x = _mm512_loadu_si512(codes);
    __mmask64 lo_bits, hi_bits;
    std::memcpy(&lo_bits, codes + 64, 8);
    std::memcpy(&hi_bits, codes + 72, 8);
    const __m512i lo = _mm512_and_si512(x, m4), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_mask_add_epi8(lo, lo_bits, lo, bit4), bcast16(ab));
    return _mm512_dpbusd_epi32(p, _mm512_mask_add_epi8(hi, hi_bits, hi, bit4), bcast16(ab + 16));
  }
};
struct X4Q8_0 {  // codes stored biased by 128
  static constexpr int kRowBytes = 32;
  static constexpr int kHeader = 32;
  static constexpr bool kMin = false;
  static constexpr float kOffset = -128.f;
  static __m512i dot(const uint8_t* codes, const int8_t* ab) {
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(codes), bcast16(ab));
    return _mm512_dpbusd_epi32(p, _mm512_loadu_si512(codes + 64), bcast16(ab + 16));
  }
};

// The formats with a minimum: the tile header has the 16 F16 minimums after the scales, and
// w = scale·code + minimum (the minimums meet d_act·Σa per block, added once at the end).
struct X4Q4_1 : X4Q4_0 {
  static constexpr int kHeader = 64;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 1.f;
};
struct X4Q5_1 : X4Q5_0 {
  static constexpr int kHeader = 64;
  static constexpr bool kMin = true;
  static constexpr float kOffset = 1.f;
};

template <class X>
void dot_x4_512(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kBlockArea = 4 * X::kRowBytes;  // one block of the four rows in the copy
  const QuantRow& a = act.q;
  const int64_t nb = n / 32;
  // Two accumulators (even / odd blocks): one chain of FMAs over a short row's 18 blocks
  // was 18 FMA latencies per group.
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, corr = _mm512_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 4) {
    const int cnt = nb - b0 < 4 ? static_cast<int>(nb - b0) : 4;
    const __mmask8 m4 = static_cast<__mmask8>((1u << cnt) - 1);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g)));
    const __m512 scale = _mm512_mul_ps(dw, _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(m4, a.d + b0)));
    const __m512 ds = _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(m4, a.ds + b0));
    if constexpr (X::kMin) corr = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 32))), ds, corr);
    else corr = _mm512_fmadd_ps(dw, ds, corr);
    const uint8_t* codes = g + X::kHeader;
    const int8_t* ab = a.qs + 32 * b0;
    auto step = [&](int j, __m512 sc) {
      acc[j & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(X::dot(codes + j * kBlockArea, ab + 32 * j)), sc, acc[j & 1]);
    };
    step(0, _mm512_permute_ps(scale, 0x00));
    if (cnt > 1) step(1, _mm512_permute_ps(scale, 0x55));
    if (cnt > 2) step(2, _mm512_permute_ps(scale, 0xAA));
    if (cnt > 3) step(3, _mm512_permute_ps(scale, 0xFF));
    g += X::kHeader + cnt * kBlockArea;
  }
  store_row_sums(_mm512_fmadd_ps(corr, _mm512_set1_ps(X::kOffset), _mm512_add_ps(acc[0], acc[1])), n_rows, y);
}

// The table's decode entry: a run of groups per call (one indirect call per chunk instead
// of one per group of four rows, which short rows — 576 columns, 18 blocks — feel).
template <void (*Dot)(const uint8_t*, int, const ActRow&, int64_t, float*)>
void x4_run(const uint8_t* g, size_t group_bytes, int64_t n_rows, const ActRow& act, int64_t n, float* y) {
  for (int64_t r = 0; r < n_rows; r += 4, g += group_bytes) {
    Dot(g, n_rows - r < 4 ? static_cast<int>(n_rows - r) : 4, act, n, y + r);
  }
}

// Q4_K / Q5_K from the interleaved copy (kernels/interleave.h): per super-block of the four
// rows, the sub-block scales and mins arrive as bytes in lane-per-row order (one widening load
// per half super-block), and each 64-element group's codes as two vectors whose lane r is row r.
// Q5_K's 5th bits follow the codes, per row pair and half of qh; two loads per half give the
// bytes of qh in the code vectors' lanes, and bit 2k (group k's low nibbles) or 2k + 1 (its
// high nibbles) of each becomes a byte mask that adds 16 to the code (codes ≤ 31 for vpdpbusd).
// Result = Σ_j d·sc_j·d_a·Σ(q·a) − Σ_j dmin·m_j·ds_j, as in dot_kx512.
template <bool kFive>
void dot_x4_kx_512(const uint8_t* g, int n_rows, const ActRow& act, int64_t n, float* y) {
  constexpr int64_t kHighAt = 80 + 512;  // Q5_K's 5th bits, after the codes
  constexpr int64_t kGroupBytes = kHighAt + (kFive ? 128 : 0);
  const QuantRow& a = act.q;
  const __m512i m4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
  const __m512i row_of_lane = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / 256; ++i, g += kGroupBytes) {
    const __m512 d = _mm512_permutexvar_ps(row_of_lane, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g)))));
    const __m512 dmin = _mm512_permutexvar_ps(row_of_lane, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g + 8)))));
    const float* ad = a.d + 8 * i;
    const float* ads = a.ds + 8 * i;
    __m512 scale[2];
    for (int h = 0; h < 2; ++h) {
      const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16 + 16 * h))));
      const __m512 mn = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 48 + 16 * h))));
      scale[h] = _mm512_mul_ps(_mm512_mul_ps(sc, d), _mm512_broadcast_f32x4(_mm_loadu_ps(ad + 4 * h)));
      corr = _mm512_fmadd_ps(_mm512_mul_ps(mn, dmin), _mm512_broadcast_f32x4(_mm_loadu_ps(ads + 4 * h)), corr);
    }
    // Q5_K: qh bytes 0-15 (h0, for the first code vector of each group) and 16-31 (h1) of
    // each row in its lane: rows 0, 1 from the first pair's 64 bytes, rows 2, 3 from the second.
    __m512i h0 = _mm512_setzero_si512(), h1 = _mm512_setzero_si512();
    if constexpr (kFive) {
      auto load256 = [&](int64_t off) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kHighAt + off)); };
      h0 = _mm512_inserti64x4(_mm512_castsi256_si512(load256(0)), load256(64), 1);
      h1 = _mm512_inserti64x4(_mm512_castsi256_si512(load256(32)), load256(96), 1);
    }
    const uint8_t* codes = g + 80;
    const int8_t* aq = a.qs + 256 * i;
    // Group k: sub-blocks 2k (low nibbles) and 2k+1 (high nibbles), elements 64k .. 64k+63.
    auto group = [&](int k, __m512 sc_lo, __m512 sc_hi) {
      const __m512i x0 = _mm512_loadu_si512(codes + 128 * k), x1 = _mm512_loadu_si512(codes + 128 * k + 64);
      __m512i q0 = _mm512_and_si512(x0, m4), q1 = _mm512_and_si512(x1, m4);
      __m512i q2 = _mm512_and_si512(_mm512_srli_epi16(x0, 4), m4), q3 = _mm512_and_si512(_mm512_srli_epi16(x1, 4), m4);
      if constexpr (kFive) {
        const __m512i lo_bit = _mm512_set1_epi8(static_cast<char>(1 << (2 * k)));
        const __m512i hi_bit = _mm512_set1_epi8(static_cast<char>(1 << (2 * k + 1)));
        q0 = _mm512_mask_add_epi8(q0, _mm512_test_epi8_mask(h0, lo_bit), q0, bit4);
        q1 = _mm512_mask_add_epi8(q1, _mm512_test_epi8_mask(h1, lo_bit), q1, bit4);
        q2 = _mm512_mask_add_epi8(q2, _mm512_test_epi8_mask(h0, hi_bit), q2, bit4);
        q3 = _mm512_mask_add_epi8(q3, _mm512_test_epi8_mask(h1, hi_bit), q3, bit4);
      }
      const int8_t* ak = aq + 64 * k;
      __m512i lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q0, bcast16(ak));
      lo = _mm512_dpbusd_epi32(lo, q1, bcast16(ak + 16));
      __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q2, bcast16(ak + 32));
      hi = _mm512_dpbusd_epi32(hi, q3, bcast16(ak + 48));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), sc_lo, acc);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), sc_hi, acc);
    };
    group(0, _mm512_permute_ps(scale[0], 0x00), _mm512_permute_ps(scale[0], 0x55));
    group(1, _mm512_permute_ps(scale[0], 0xAA), _mm512_permute_ps(scale[0], 0xFF));
    group(2, _mm512_permute_ps(scale[1], 0x00), _mm512_permute_ps(scale[1], 0x55));
    group(3, _mm512_permute_ps(scale[1], 0xAA), _mm512_permute_ps(scale[1], 0xFF));
  }
  store_row_sums(_mm512_sub_ps(acc, corr), n_rows, y);
}

// Q4_K / Q5_K: a 64-element group (two sub-blocks) per vector, scales per super-block.
template <class Block, bool kFive>
float dot_kx512(const void* w, const ActRow& a, int64_t n) {
  const Block* blocks = static_cast<const Block*>(w);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc = _mm512_setzero_ps();
  __m256 corr = _mm256_setzero_ps();
  const __m512i pair_idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  for (int64_t i = 0; i < n / 256; ++i) {
    const Block& blk = blocks[i];
    uint8_t sm[16];
    kx_scale_bytes(blk.scales, sm);
    const int64_t kb = 8 * i;
    const __m256 s8 = _mm256_mul_ps(_mm256_mul_ps(bytes8_to_ps(sm), _mm256_set1_ps(h2f(blk.d))), _mm256_loadu_ps(a.q.d + kb));
    const __m512 scale = _mm512_castps256_ps512(s8);
    corr = _mm256_fmadd_ps(_mm256_mul_ps(bytes8_to_ps(sm + 8), _mm256_set1_ps(-h2f(blk.dmin))),
                           _mm256_loadu_ps(a.q.ds + kb), corr);
    for (int g = 0; g < 4; ++g) {
      const __m256i v = load256(blk.qs + 32 * g);
      __m512i q = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), m4);
      if (kFive) {
        // Bits 2g (first 32 elements) and 2g+1 (next 32) of every qh byte, as a 64-bit mask.
        const __m256i h = _mm256_srli_epi16(load256(kx_qh_bytes(blk)), 2 * g);
        const __mmask32 b0 = _mm256_test_epi8_mask(h, _mm256_set1_epi8(1));
        const __mmask32 b1 = _mm256_test_epi8_mask(h, _mm256_set1_epi8(2));
        const __mmask64 hb = static_cast<__mmask64>(b0) | static_cast<__mmask64>(b1) << 32;
        q = _mm512_mask_add_epi8(q, hb, q, _mm512_set1_epi8(0x10));
      }
      const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(a.q.qs + 256 * i + 64 * g));
      const __m512 sc = _mm512_permutexvar_ps(_mm512_add_epi32(pair_idx, _mm512_set1_epi32(2 * g)), scale);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc);
    }
  }
  return _mm512_reduce_add_ps(acc) + hsum(corr);
}

// Q6_K: 64 elements (four 16-element sub-blocks) per vector, in element order: the low
// nibbles of the 64 ql bytes of a half are its first 64 elements, the high nibbles the next 64,
// and the 2-bit high parts come from the half's 32 qh bytes shifted by 0/2 (first vector) and
// 4/6 (second). The four lanes of a sub-block take its scale d·sc·d_act from one permute.
float dot_q6_K512(const void* w, const ActRow& act, int64_t n) {
  const BlockQ6_K* blocks = static_cast<const BlockQ6_K*>(w);
  const QuantRow& a = act.q;
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  const __m512i act_idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i sub_idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / 256; ++i) {
    const BlockQ6_K& blk = blocks[i];
    const __m512 sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)))),
                                    _mm512_set1_ps(h2f(blk.d)));
    corr = _mm512_fmadd_ps(sc, _mm512_loadu_ps(a.ds16 + 16 * i), corr);
    // Lane k: sub-block k's scale times its 32-element activation block's scale.
    const __m512 sa = _mm512_mul_ps(sc, _mm512_permutexvar_ps(act_idx, _mm512_castps256_ps512(_mm256_loadu_ps(a.d + 8 * i))));
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(blk.ql + 64 * h);
      const __m256i qh = load256(blk.qh + 32 * h);
      const __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
      const __m512i q0 = _mm512_ternarylogic_epi32(l, _mm512_and_si512(_mm512_slli_epi16(hz, 4), m30), m4, 0xEC);  // (A&C)|B
      const __m512i q1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), _mm512_and_si512(hz, m30), m4, 0xEC);
      const int8_t* ah = a.qs + 256 * i + 128 * h;
      const __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q0, _mm512_loadu_si512(ah));
      const __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q1, _mm512_loadu_si512(ah + 64));
      const __m512 s0 = _mm512_permutexvar_ps(_mm512_add_epi32(sub_idx, _mm512_set1_epi32(8 * h)), sa);
      const __m512 s1 = _mm512_permutexvar_ps(_mm512_add_epi32(sub_idx, _mm512_set1_epi32(8 * h + 4)), sa);
      acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), s0, acc0);
      acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), s1, acc1);
    }
  }
  return _mm512_reduce_add_ps(_mm512_fmadd_ps(corr, _mm512_set1_ps(-32.f), _mm512_add_ps(acc0, acc1)));
}

__m512 load16_f32(const void* w, int64_t i) { return _mm512_loadu_ps(static_cast<const float*>(w) + i); }
__m512 load16_f16(const void* w, int64_t i) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
}
__m512 load16_bf16(const void* w, int64_t i) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Float weights: 16 lanes × 4 accumulators; the tail (< 64) goes through the 256-bit kernel.
template <__m512 (*Load)(const void*, int64_t), __m256 (*Load8)(const void*, int64_t), size_t kElemBytes>
float dot_float512(const void* w, const ActRow& a, int64_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    // Unrolled so the accumulators stay in registers (GCC 12 otherwise keeps them on the stack).
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) acc[k] = _mm512_fmadd_ps(Load(w, i + 16 * k), _mm512_loadu_ps(a.f + i + 16 * k), acc[k]);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  if (i < n) {
    ActRow rest;
    rest.f = a.f + i;
    s += dot_float<Load8>(static_cast<const uint8_t*>(w) + i * kElemBytes, rest, n - i);
  }
  return s;
}

// Float weights, four rows per call: one activation load feeds the four rows, two
// accumulators per row keep eight FMA chains in flight; tails (< 16) via the 256-bit kernel.
// Used for rows over kDotRowsContiguousMaxStride only (the driver gives short float rows to
// dot_float512, faster there), so the four rows are distant streams the prefetchers follow.
template <__m512 (*Load)(const void*, int64_t), __m256 (*Load8)(const void*, int64_t), size_t kElemBytes>
void dot4_float512(const uint8_t* w, size_t stride, int n_rows, const ActRow& a, int64_t n, float* y) {
  const uint8_t* rows[4];
  for (int r = 0; r < 4; ++r) rows[r] = w + stride * static_cast<size_t>(r < n_rows ? r : n_rows - 1);
  __m512 acc[4][2];
  for (auto& r : acc) r[0] = r[1] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(a.f + i), x1 = _mm512_loadu_ps(a.f + i + 16);
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      acc[r][0] = _mm512_fmadd_ps(Load(rows[r], i), x0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(Load(rows[r], i + 16), x1, acc[r][1]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 x0 = _mm512_loadu_ps(a.f + i);
    for (int r = 0; r < 4; ++r) acc[r][0] = _mm512_fmadd_ps(Load(rows[r], i), x0, acc[r][0]);
  }
  ActRow rest;
  rest.f = a.f + i;
  for (int r = 0; r < n_rows; ++r) {
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
    if (i < n) y[r] += dot_float<Load8>(rows[r] + i * static_cast<int64_t>(kElemBytes), rest, n - i);
  }
}

// Interleaved float rows (kernels/interleave.h: per 64 elements, those of rows 0..3 in turn):
// one activation load feeds the four rows, read as one stream. Per row the same four
// accumulators, in the same order, as dot_float512, so each result is bit-identical to it.
template <__m512 (*Load)(const void*, int64_t), size_t kElemBytes>
void dot_x4_float512(const uint8_t* g, int n_rows, const ActRow& a, int64_t n, float* y) {
  constexpr size_t kRowBlock = kFloatBlockElems * kElemBytes;
  static_assert(kFloatBlockElems == 64, "four 16-lane accumulators per row cover one block");
  __m512 acc[4][4];
  for (auto& r : acc) r[0] = r[1] = r[2] = r[3] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 64) {
    const uint8_t* blk = g + static_cast<size_t>(i / 64) * kInterleaveRows * kRowBlock;
    __m512 x[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) x[k] = _mm512_loadu_ps(a.f + i + 16 * k);
    // Rows outer, so the loads walk the block front to back (rows inner, striding through it,
    // halved the speed for F32). Unrolled so the sixteen accumulators stay in registers.
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) acc[r][k] = _mm512_fmadd_ps(Load(blk + r * kRowBlock, 16 * k), x[k], acc[r][k]);
    }
  }
  for (int r = 0; r < n_rows; ++r) {
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3])));
  }
}

// ---- lane-interleaved packing --------------------------------------------------------------

template <int LB>
constexpr int64_t kGroupElems = 16 * LB;
template <int LB>
constexpr int64_t kGroupBytes = 16 * LB + 128;  // codes, 16 scales, 16 offsets

template <int LB>
int64_t n_groups(int64_t n) { return (n + kGroupElems<LB> - 1) / kGroupElems<LB>; }

template <int LB>
size_t packed_bytes(int64_t n) { return static_cast<size_t>(n_groups<LB>(n) * kGroupBytes<LB>); }

template <int LB>
float* lane_scales(uint8_t* group) { return reinterpret_cast<float*>(group + 16 * LB); }
template <int LB>
float* lane_offsets(uint8_t* group) { return reinterpret_cast<float*>(group + 16 * LB + 64); }

// Writes `width` codes (a multiple of 4; LB in a whole group) of lane `lane` into a group.
template <int LB>
void put_lane(uint8_t* group, int lane, const void* codes, int width = LB) {
  const uint8_t* c = static_cast<const uint8_t*>(codes);
  for (int v = 0; v < width / 4; ++v) std::memcpy(group + 64 * v + 4 * lane, c + 4 * v, 4);
}

// Where 32-element block b of a row of n elements lives in the layout of 32-element lanes: its
// group, first lane, and the number of lanes k it is split over (32 / k elements each). A whole
// group holds 16 blocks, one per lane. The last group of a row whose length is not a multiple
// of 512 holds its tb blocks split over k lanes each, k the largest power of two (≤ 8) with
// tb·k ≤ 16, so the tile runs 8 / k vector steps on it instead of 8: a 576-element row (18
// blocks) was 1024 elements of work, now 640. Lanes past tb·k stay 0. A lane is summed with its
// own scale and offset, so splitting a block over lanes changes nothing in the result but the
// order of the float sums.
struct BlockLanes {
  int64_t group;
  int lane, k;
};
BlockLanes block_lanes(int64_t n, int64_t b) {
  const int64_t full = n / kGroupElems<32>;
  if (b / 16 < full) return {b / 16, static_cast<int>(b % 16), 1};
  const int64_t tail_blocks = (n % kGroupElems<32>) / 32;
  int k = 1;
  while (k < 8 && 2 * k * tail_blocks <= 16) k *= 2;
  return {full, static_cast<int>((b % 16) * k), k};
}
// Vector steps (64-byte code vectors) of a row's last group.
int last_group_steps(int64_t n) {
  if (n % kGroupElems<32> == 0) return 32 / 4;
  return 32 / 4 / block_lanes(n, n / 32 - 1).k;
}

// Puts the 32 codes of block b into its lanes, with its scale on each and offset(first, width)
// for the lane holding elements [first, first + width) of the block.
template <class Offset>
void put_block(uint8_t* dst, int64_t n, int64_t b, const uint8_t* codes, float scale, const Offset& offset) {
  const BlockLanes bl = block_lanes(n, b);
  uint8_t* group = dst + bl.group * kGroupBytes<32>;
  const int width = 32 / bl.k;
  for (int s = 0; s < bl.k; ++s) {
    put_lane<32>(group, bl.lane + s, codes + s * width, width);
    lane_scales<32>(group)[bl.lane + s] = scale;
    lane_offsets<32>(group)[bl.lane + s] = offset(s * width, width);
  }
}

// Activations: per lane the block scale d and d·Σq over the lane's elements.
template <int LB>
void pack_acts(const float* x, int64_t n, uint8_t* dst) {
  std::memset(dst, 0, packed_bytes<LB>(n));  // padding lanes stay 0 (and so contribute 0)
  for (int64_t b = 0; b < n / 32; ++b) {
    int8_t q[32];
    float d;
    int s0, s1;
    quantize_block(x + 32 * b, q, &d, &s0, &s1);
    if constexpr (LB == 32) {
      // Each lane's offset is d·Σq over its own elements.
      put_block(dst, n, b, reinterpret_cast<const uint8_t*>(q), d, [&](int first, int width) {
        if (width == 32) return d * static_cast<float>(s0 + s1);
        int sum = 0;
        for (int i = first; i < first + width; ++i) sum += q[i];
        return d * static_cast<float>(sum);
      });
    } else {
      const int64_t e = 32 * b;
      uint8_t* group = dst + (e / kGroupElems<LB>) * kGroupBytes<LB>;
      const int lane = static_cast<int>((e % kGroupElems<LB>) / LB);
      put_lane<LB>(group, lane, q);
      put_lane<LB>(group, lane + 1, q + 16);
      lane_scales<LB>(group)[lane] = lane_scales<LB>(group)[lane + 1] = d;
      lane_offsets<LB>(group)[lane] = d * static_cast<float>(s0);
      lane_offsets<LB>(group)[lane + 1] = d * static_cast<float>(s1);
    }
  }
}

// Legacy formats: one block per lane.
template <class Fmt>
void pack_w_legacy(const void* w, int64_t n, uint8_t* dst) {
  std::memset(dst, 0, packed_bytes<32>(n));
  const auto* blocks = static_cast<const typename Fmt::Block*>(w);
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t codes[32];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes), Fmt::codes(blocks[b]));
    const float dw = h2f(blocks[b].d);
    const float offset = Fmt::offset(blocks[b], dw);
    put_block(dst, n, b, codes, dw, [offset](int, int) { return offset; });
  }
}

// Q4_K / Q5_K: a super-block's 8 sub-blocks are 8 blocks of 32 (half a group).
template <class Block, bool kFive>
void pack_w_kx(const void* w, int64_t n, uint8_t* dst) {
  std::memset(dst, 0, packed_bytes<32>(n));
  const Block* blocks = static_cast<const Block*>(w);
  for (int64_t i = 0; i < n / 256; ++i) {
    const Block& blk = blocks[i];
    uint8_t codes[256], sm[16];
    kx_codes<Block, kFive>(blk, codes);
    kx_scale_bytes(blk.scales, sm);
    const float d = h2f(blk.d), dmin = h2f(blk.dmin);
    for (int j = 0; j < 8; ++j) {
      const float offset = -dmin * sm[8 + j];
      put_block(dst, n, 8 * i + j, codes + 32 * j, d * sm[j], [offset](int, int) { return offset; });
    }
  }
}

// Q6_K: a super-block is one group of 16 lanes of 16.
void pack_w_q6_K(const void* w, int64_t n, uint8_t* dst) {
  const BlockQ6_K* blocks = static_cast<const BlockQ6_K*>(w);
  for (int64_t i = 0; i < n / 256; ++i) {
    uint8_t codes[256];
    q6k_codes(blocks[i], codes);
    const float d = h2f(blocks[i].d);
    uint8_t* group = dst + i * kGroupBytes<16>;
    for (int j = 0; j < 16; ++j) {
      put_lane<16>(group, j, codes + 16 * j);
      lane_scales<16>(group)[j] = d * blocks[i].scales[j];
      lane_offsets<16>(group)[j] = -32.f * d * blocks[i].scales[j];
    }
  }
}

// ---- integer tile --------------------------------------------------------------------------

// One group of R weight rows × N tokens, STEPS code vectors (LB / 4 in a whole group).
template <int LB, int R, int N, int STEPS>
[[gnu::always_inline]] inline void int_group(const uint8_t* w, size_t wstride, const uint8_t* a, size_t astride,
                                             size_t off, __m512 (&acc)[R][N]) {
  __m512i isum[R][N];
  #pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 4
    for (int t = 0; t < N; ++t) isum[r][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (int v = 0; v < STEPS; ++v) {
    __m512i wv[R];
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(w + r * wstride + off + 64 * v);
    #pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
      const __m512i av = _mm512_loadu_si512(a + t * astride + off + 64 * v);
      #pragma GCC unroll 4
      for (int r = 0; r < R; ++r) isum[r][t] = _mm512_dpbusd_epi32(isum[r][t], wv[r], av);
    }
  }
  #pragma GCC unroll 8
  for (int t = 0; t < N; ++t) {
    const float* at = reinterpret_cast<const float*>(a + t * astride + off + 16 * LB);
    const __m512 da = _mm512_loadu_ps(at), das = _mm512_loadu_ps(at + 16);
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const float* wr = reinterpret_cast<const float*>(w + r * wstride + off + 16 * LB);
      const __m512 scale = _mm512_mul_ps(_mm512_loadu_ps(wr), da);
      acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), scale, acc[r][t]);
      acc[r][t] = _mm512_fmadd_ps(_mm512_loadu_ps(wr + 16), das, acc[r][t]);
    }
  }
}

// R weight rows × N tokens over all groups of a row of n elements (the last one with fewer
// vector steps when it is a partial group of 32-element lanes: block_lanes); y[t·ldy + r].
// The r/t loops must be fully unrolled (pragmas) so the R·N accumulators stay in registers:
// GCC -O2 does not do it alone.
template <int LB, int R, int N>
void int_micro(const uint8_t* w, size_t wstride, const uint8_t* a, size_t astride, int64_t n, float* y,
               int64_t ldy) {
  __m512 acc[R][N];
  #pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t ng = n_groups<LB>(n);
  const int last_steps = LB == 32 ? last_group_steps(n) : LB / 4;
  const int64_t whole = last_steps == LB / 4 ? ng : ng - 1;
  for (int64_t g = 0; g < whole; ++g) {
    int_group<LB, R, N, LB / 4>(w, wstride, a, astride, static_cast<size_t>(g) * kGroupBytes<LB>, acc);
  }
  if constexpr (LB == 32) {
    const size_t off = static_cast<size_t>(whole) * kGroupBytes<LB>;
    switch (whole < ng ? last_steps : 0) {
      case 1: int_group<LB, R, N, 1>(w, wstride, a, astride, off, acc); break;
      case 2: int_group<LB, R, N, 2>(w, wstride, a, astride, off, acc); break;
      case 4: int_group<LB, R, N, 4>(w, wstride, a, astride, off, acc); break;
      default: break;
    }
  }
  #pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < N; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// Edge dispatch: the largest Micro<r, t> with r ≤ nr, t ≤ nt (nr ≤ R, nt ≤ N).
template <template <int, int> class Micro, int R, int N>
void run_micro(int64_t nr, int64_t nt, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, int64_t len,
               float* y, int64_t ldy, bool add) {
  if constexpr (R > 1) {
    if (nr < R) return run_micro<Micro, R - 1, N>(nr, nt, w, ws, a, as, len, y, ldy, add);
  }
  if constexpr (N > 1) {
    if (nt < N) return run_micro<Micro, R, N - 1>(nr, nt, w, ws, a, as, len, y, ldy, add);
  }
  Micro<R, N>::run(w, ws, a, as, len, y, ldy, add);
}

// Runs Micro<R, N> over an n_rows × n_tok block, with smaller kernels on the edges. The R
// rows stay in L1 while the tokens stream past. `add`: y += instead of y =.
template <template <int, int> class Micro, int R, int N>
void tile_loop(const uint8_t* w, size_t wstride, int64_t n_rows, const uint8_t* a, size_t astride, int64_t n_tok,
               int64_t len, float* y, int64_t ldy, bool add) {
  for (int64_t r = 0; r < n_rows; r += R) {
    const int64_t nr = n_rows - r < R ? n_rows - r : R;
    for (int64_t t = 0; t < n_tok; t += N) {
      const int64_t nt = n_tok - t < N ? n_tok - t : N;
      run_micro<Micro, R, N>(nr, nt, w + r * wstride, wstride, a + t * astride, astride, len, y + t * ldy + r, ldy, add);
    }
  }
}

template <int LB>
struct IntMicro {
  template <int R, int N>
  struct K {
    static void run(const uint8_t* w, size_t ws, const uint8_t* a, size_t as, int64_t n, float* y, int64_t ldy, bool) {
      int_micro<LB, R, N>(w, ws, a, as, n, y, ldy);
    }
  };
};

template <int LB>
void int_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  tile_loop<IntMicro<LB>::template K, 4, 3>(w, packed_bytes<LB>(n), n_rows, acts, packed_bytes<LB>(n), n_tok, n, y, ldy, false);
}

// ---- float weights (F32 / F16 / BF16): 32 rows per element, broadcast FMA tile -------------
// A block of kFloatBlockRows = 32 rows is stored element-major: the 32 rows' values of element
// k (F16/BF16 converted) are the two vectors at block[32k]. A token's element broadcast into
// two FMAs against them feeds all 32 rows: the lanes are the outputs (no horizontal sums),
// the weight loads serve N tokens, and the tokens are read in place (rows of n floats).
// 32 rows rather than 16: a broadcast is a load, and with one weight vector per element the
// loads (1 + N per N FMAs) held a core to ~77% of its FMA peak on Zen 5; two vectors (2 + N
// per 2N FMAs) reach ~96% with the data in L1 (12 tokens, 256 elements, one core).
constexpr int kFloatBlockRows = 32;

size_t f32_bytes(int64_t n) { return static_cast<size_t>(n) * 4; }

void pack_f32(const float* x, int64_t n, uint8_t* dst) { std::memcpy(dst, x, static_cast<size_t>(n) * 4); }

enum class FloatKind { F32, F16, BF16 };

template <FloatKind K>
float float_at(const void* w, int64_t i) {
  if constexpr (K == FloatKind::F32) {
    return static_cast<const float*>(w)[i];
  } else if constexpr (K == FloatKind::F16) {
    return h2f(static_cast<const uint16_t*>(w)[i]);
  } else {
    const uint32_t b = uint32_t{static_cast<const uint16_t*>(w)[i]} << 16;
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
}

template <FloatKind K>
__m512 float16_at(const void* w, int64_t i) {
  if constexpr (K == FloatKind::F32) return load16_f32(w, i);
  else if constexpr (K == FloatKind::F16) return load16_f16(w, i);
  else return load16_bf16(w, i);
}

// Row `row` of a block from a row in the file's layout.
template <FloatKind K>
void pack_w_float(const void* w, int64_t n, uint8_t* block, int row) {
  float* o = reinterpret_cast<float*>(block) + row;
  alignas(64) float v[16];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_store_ps(v, float16_at<K>(w, i));
    for (int j = 0; j < 16; ++j) o[kFloatBlockRows * (i + j)] = v[j];
  }
  for (; i < n; ++i) o[kFloatBlockRows * i] = float_at<K>(w, i);
}

// r[i] = 16 elements of row i  ->  r[k] = element k of the 16 rows.
[[gnu::always_inline]] inline void transpose16(__m512 r[16]) {
  // The loops must be unrolled for the 48 vectors to stay in registers (GCC -O2 does not).
  __m512 a[16], b[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane: rows 2i, 2i+1 interleaved
    a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {  // b[4i+j], lane L: element 4L+j of rows 4i..4i+3
    b[4 * i + 0] = _mm512_shuffle_ps(a[4 * i], a[4 * i + 2], 0x44);
    b[4 * i + 1] = _mm512_shuffle_ps(a[4 * i], a[4 * i + 2], 0xEE);
    b[4 * i + 2] = _mm512_shuffle_ps(a[4 * i + 1], a[4 * i + 3], 0x44);
    b[4 * i + 3] = _mm512_shuffle_ps(a[4 * i + 1], a[4 * i + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {  // gather lane L of b[j], b[4+j], b[8+j], b[12+j]
    const __m512 c0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x88), c1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x88);
    const __m512 d0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xDD), d1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xDD);
    r[j] = _mm512_shuffle_f32x4(c0, c1, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(c0, c1, 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(d0, d1, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(d0, d1, 0xDD);
  }
}

// The block straight from the interleaved copy (kernels/interleave.h: per 64 elements, the
// 64 of each of a group's 4 rows in turn; the block's 32 rows are 8 groups): per 16 elements
// and 16 rows a 16 × 16 transpose. Rows of absent groups are zero.
template <FloatKind K>
void pack_float_interleaved(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t n, uint8_t* block) {
  constexpr size_t kElemBytes = K == FloatKind::F32 ? 4 : 2;
  constexpr size_t kRowPiece = kFloatBlockElems * kElemBytes;  // one row's 64 elements
  constexpr int kGroups = kFloatBlockRows / kInterleaveRows;
  const int64_t n_groups = (nr + kInterleaveRows - 1) / kInterleaveRows;
  // Absent groups (the matrix ends inside the block) read a zero piece instead.
  alignas(64) static constexpr uint8_t kZeroPiece[kInterleaveRows * kRowPiece] = {};
  const uint8_t* group_at[kGroups];
  for (int g = 0; g < kGroups; ++g) group_at[g] = g < n_groups ? groups + static_cast<size_t>(g) * group_bytes : nullptr;
  float* o = reinterpret_cast<float*>(block);
  for (int64_t p = 0; p < n / kFloatBlockElems; ++p) {
    const size_t piece = static_cast<size_t>(p) * kInterleaveRows * kRowPiece;
    if (p + 2 < n / kFloatBlockElems) {
      for (int g = 0; g < n_groups; ++g) {
        const uint8_t* ahead = group_at[g] + piece + 2 * kInterleaveRows * kRowPiece;
        for (size_t off = 0; off < kInterleaveRows * kRowPiece; off += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
      }
    }
    for (int half = 0; half < kFloatBlockRows / 16; ++half) {
      const uint8_t* src[4];  // the half's four groups at this piece
      for (int g = 0; g < 4; ++g) {
        const uint8_t* base = group_at[4 * half + g];
        src[g] = base != nullptr ? base + piece : kZeroPiece;
      }
      for (int64_t c = 0; c < kFloatBlockElems; c += 16) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) r[i] = float16_at<K>(src[i / kInterleaveRows] + (i % kInterleaveRows) * kRowPiece, c);
        transpose16(r);
        float* dst = o + kFloatBlockRows * (p * kFloatBlockElems + c) + 16 * half;
#pragma GCC unroll 16
        for (int k = 0; k < 16; ++k) _mm512_storeu_ps(dst + kFloatBlockRows * k, r[k]);
      }
    }
  }
}

// Stores (or adds) one token's 32 results; only the block's first nr rows exist.
void store_rows32(__m512 lo, __m512 hi, int64_t nr, bool add, float* y) {
  const uint32_t bits = nr >= 32 ? 0xFFFFFFFFu : (1u << nr) - 1;
  const __mmask16 m0 = static_cast<__mmask16>(bits), m1 = static_cast<__mmask16>(bits >> 16);
  if (add) {
    lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m0, y));
    hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m1, y + 16));
  }
  _mm512_mask_storeu_ps(y, m0, lo);
  _mm512_mask_storeu_ps(y + 16, m1, hi);
}

// 32 rows × N tokens over len elements: 2N accumulators, 2 + N loads per 2N FMAs.
template <int N>
struct FloatMicro {
  static void run(const float* block, int64_t len, const uint8_t* a, size_t as, float* y, int64_t ldy, int64_t nr,
                  bool add) {
    __m512 acc[N][2];
#pragma GCC unroll 16
    for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < len; ++k) {
      const __m512 w0 = _mm512_loadu_ps(block + kFloatBlockRows * k);
      const __m512 w1 = _mm512_loadu_ps(block + kFloatBlockRows * k + 16);
#pragma GCC unroll 16
      for (int t = 0; t < N; ++t) {
        const __m512 x = _mm512_set1_ps(reinterpret_cast<const float*>(a + t * as)[k]);
        acc[t][0] = _mm512_fmadd_ps(w0, x, acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(w1, x, acc[t][1]);
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < N; ++t) store_rows32(acc[t][0], acc[t][1], nr, add, y + t * ldy);
  }
};

// 12 tokens: 24 accumulators + 2 weight vectors. Slices of up to 4096 elements (the block
// from L2, a token's sums in registers over the whole row). bench_kernels, 2 threads, 512
// tokens, Qwen2.5-0.5B FFN shapes, best of each: 12 tokens ~355 GFLOPS, 8 ~345, 6 ~330;
// slices of 1024 / 2048 / 8192 within noise of 4096. (The 16-row form before: ~300 and ~255.)
constexpr int kFloatTokens = 12;
constexpr int64_t kFloatKc = 4096;

void float_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  const size_t as = f32_bytes(n);
  for (int64_t k0 = 0; k0 < n; k0 += kFloatKc) {
    const int64_t len = n - k0 < kFloatKc ? n - k0 : kFloatKc;
    const float* block = reinterpret_cast<const float*>(w) + kFloatBlockRows * k0;
    for (int64_t t = 0; t < n_tok; t += kFloatTokens) {
      run_tokens<FloatMicro, kFloatTokens>(n_tok - t, block, len, acts + t * as + 4 * k0, as, y + t * ldy, ldy, n_rows,
                                           k0 > 0);
    }
  }
}

// ---- table -------------------------------------------------------------------------------

// The tiles read a block's rows one after another, w_bytes(n) apart.
template <size_t (*Bytes)(int64_t), void (*Pack)(const void*, int64_t, uint8_t*)>
void pack_row_of_block(const void* w, int64_t n, uint8_t* block, int row) {
  Pack(w, n, block + static_cast<size_t>(row) * Bytes(n));
}

template <int LB, void (*PackW)(const void*, int64_t, uint8_t*)>
constexpr GemmKernels int_gemm() {
  GemmKernels g;
  g.act_bytes = packed_bytes<LB>;
  g.pack_acts = pack_acts<LB>;
  g.w_bytes = packed_bytes<LB>;
  g.pack_w_row = pack_row_of_block<packed_bytes<LB>, PackW>;
  g.tile = int_tile<LB>;
  return g;
}

template <FloatKind K>
constexpr GemmKernels float_gemm() {
  GemmKernels g;
  g.act_bytes = f32_bytes;
  g.pack_acts = pack_f32;
  g.acts_are_rows = true;
  g.w_bytes = f32_bytes;
  g.pack_w_row = pack_w_float<K>;
  g.pack_w_interleaved = pack_float_interleaved<K>;
  g.tile = float_tile;
  g.block_rows = kFloatBlockRows;
  return g;
}

constexpr IsaKernels make_table() {
  IsaKernels k;
  k.quantize_acts = quantize_acts_avx512;
  auto set = [&k](WSlot s, VecDotFn dot, GemmKernels gemm) {
    k.vec_dot[static_cast<int>(s)] = dot;
    k.gemm[static_cast<int>(s)] = gemm;
  };
  set(WSlot::F32, dot_float512<load16_f32, load8_f32, 4>, float_gemm<FloatKind::F32>());
  set(WSlot::F16, dot_float512<load16_f16, load8_f16, 2>, float_gemm<FloatKind::F16>());
  set(WSlot::BF16, dot_float512<load16_bf16, load8_bf16, 2>, float_gemm<FloatKind::BF16>());
  set(WSlot::Q8_0, dot_legacy512<Z_Q8_0>, int_gemm<32, pack_w_legacy<FmtQ8_0Biased>>());
  set(WSlot::Q4_0, dot_legacy512<Z_Q4_0>, int_gemm<32, pack_w_legacy<FmtQ4_0>>());
  set(WSlot::Q4_1, dot_legacy512<Z_Q4_1>, int_gemm<32, pack_w_legacy<FmtQ4_1>>());
  set(WSlot::Q5_0, dot_legacy512<Z_Q5_0>, int_gemm<32, pack_w_legacy<FmtQ5_0>>());
  set(WSlot::Q5_1, dot_legacy512<Z_Q5_1>, int_gemm<32, pack_w_legacy<FmtQ5_1>>());
  set(WSlot::IQ4_NL, dot_legacy512<Z_IQ4_NL>, int_gemm<32, pack_w_legacy<FmtIQ4_NLBiased>>());
  set(WSlot::Q4_K, dot_kx512<BlockQ4_K, false>, int_gemm<32, pack_w_kx<BlockQ4_K, false>>());
  set(WSlot::Q5_K, dot_kx512<BlockQ5_K, true>, int_gemm<32, pack_w_kx<BlockQ5_K, true>>());
  set(WSlot::Q6_K, dot_q6_K512, int_gemm<16, pack_w_q6_K>());
  auto rows = [&k](WSlot s, VecDotRowsFn f) { k.vec_dot_rows[static_cast<int>(s)] = f; };
  rows(WSlot::F32, dot4_float512<load16_f32, load8_f32, 4>);
  rows(WSlot::F16, dot4_float512<load16_f16, load8_f16, 2>);
  rows(WSlot::BF16, dot4_float512<load16_bf16, load8_bf16, 2>);
  rows(WSlot::Q8_0, dot4_legacy512<Z_Q8_0, Q8Rows>);
  rows(WSlot::Q4_0, dot4_legacy512<Z_Q4_0, NibbleRows<BlockQ4_0, false>>);
  rows(WSlot::Q4_1, dot4_legacy512<Z_Q4_1, NibbleRows<BlockQ4_1, false>>);
  rows(WSlot::Q5_0, dot4_legacy512<Z_Q5_0, Nibble5Rows<BlockQ5_0>>);
  rows(WSlot::Q5_1, dot4_legacy512<Z_Q5_1, Nibble5Rows<BlockQ5_1>>);
  rows(WSlot::IQ4_NL, dot4_legacy512<Z_IQ4_NL, NibbleRows<BlockIQ4_NL, true>>);
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q8_0)] = x4_run<dot_x4_512<X4Q8_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_0)] = x4_run<dot_x4_512<X4Q4_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_0)] = x4_run<dot_x4_512<X4Q5_0>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_1)] = x4_run<dot_x4_512<X4Q4_1>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_1)] = x4_run<dot_x4_512<X4Q5_1>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q4_K)] = x4_run<dot_x4_kx_512<false>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::Q5_K)] = x4_run<dot_x4_kx_512<true>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::F32)] = x4_run<dot_x4_float512<load16_f32, 4>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::F16)] = x4_run<dot_x4_float512<load16_f16, 2>>;
  k.vec_dot_x4_run[static_cast<int>(WSlot::BF16)] = x4_run<dot_x4_float512<load16_bf16, 2>>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q8_0)] = dot_x4_512<X4Q8_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q4_0)] = dot_x4_512<X4Q4_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q5_0)] = dot_x4_512<X4Q5_0>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q4_1)] = dot_x4_512<X4Q4_1>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q5_1)] = dot_x4_512<X4Q5_1>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q4_K)] = dot_x4_kx_512<false>;
  k.vec_dot_x4[static_cast<int>(WSlot::Q5_K)] = dot_x4_kx_512<true>;
  k.vec_dot_x4[static_cast<int>(WSlot::F32)] = dot_x4_float512<load16_f32, 4>;
  k.vec_dot_x4[static_cast<int>(WSlot::F16)] = dot_x4_float512<load16_f16, 2>;
  k.vec_dot_x4[static_cast<int>(WSlot::BF16)] = dot_x4_float512<load16_bf16, 2>;
  return k;
}

constinit const IsaKernels kAvx512Table = make_table();

}  // namespace

const IsaKernels& avx512_kernels() { return kAvx512Table; }

}  // namespace trellis
