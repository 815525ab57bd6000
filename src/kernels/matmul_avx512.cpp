// AVX-512 (F/BW/VL/DQ/VNNI/BF16) kernels, reached only through avx512_kernels() after a
// run-time CPU check.
//
// Decode (one token): 256-bit VNNI dots straight from the packed weight blocks (the shared
// matmul_x86_dots.inl), memory bound.
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

#include <cstring>

#include "core/quant_blocks.h"
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

// ---- lane-interleaved packing --------------------------------------------------------------

template <int LB>
constexpr int64_t kGroupElems = 16 * LB;
template <int LB>
constexpr int64_t kGroupBytes = 16 * LB + 128;  // codes, 16 scales, 16 offsets

template <int LB>
int64_t n_groups(int64_t n) { return (n + kGroupElems<LB> - 1) / kGroupElems<LB>; }

template <int LB>
size_t packed_bytes(int64_t n) { return static_cast<size_t>(n_groups<LB>(n) * kGroupBytes<LB>); }

// Writes the LB codes of lane `lane` into a group.
template <int LB>
void put_lane(uint8_t* group, int lane, const void* codes) {
  const uint8_t* c = static_cast<const uint8_t*>(codes);
  for (int v = 0; v < LB / 4; ++v) std::memcpy(group + 64 * v + 4 * lane, c + 4 * v, 4);
}

template <int LB>
float* lane_scales(uint8_t* group) { return reinterpret_cast<float*>(group + 16 * LB); }
template <int LB>
float* lane_offsets(uint8_t* group) { return reinterpret_cast<float*>(group + 16 * LB + 64); }

// Activations: per lane the block scale d and d·Σq over the lane's elements.
template <int LB>
void pack_acts(const float* x, int64_t n, uint8_t* dst) {
  std::memset(dst, 0, packed_bytes<LB>(n));  // padding lanes stay 0 (and so contribute 0)
  for (int64_t b = 0; b < n / 32; ++b) {
    int8_t q[32];
    float d;
    int s0, s1;
    quantize_block(x + 32 * b, q, &d, &s0, &s1);
    const int64_t e = 32 * b;
    uint8_t* group = dst + (e / kGroupElems<LB>) * kGroupBytes<LB>;
    const int lane = static_cast<int>((e % kGroupElems<LB>) / LB);
    if (LB == 32) {
      put_lane<LB>(group, lane, q);
      lane_scales<LB>(group)[lane] = d;
      lane_offsets<LB>(group)[lane] = d * static_cast<float>(s0 + s1);
    } else {
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
    uint8_t* group = dst + (b / 16) * kGroupBytes<32>;
    const int lane = static_cast<int>(b % 16);
    put_lane<32>(group, lane, codes);
    const float dw = h2f(blocks[b].d);
    lane_scales<32>(group)[lane] = dw;
    lane_offsets<32>(group)[lane] = Fmt::offset(blocks[b], dw);
  }
}

// Q4_K / Q5_K: a super-block fills half a group (8 lanes of 32).
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
    uint8_t* group = dst + (i / 2) * kGroupBytes<32>;
    for (int j = 0; j < 8; ++j) {
      const int lane = static_cast<int>(8 * (i % 2) + j);
      put_lane<32>(group, lane, codes + 32 * j);
      lane_scales<32>(group)[lane] = d * sm[j];
      lane_offsets<32>(group)[lane] = -dmin * sm[8 + j];
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

// R weight rows × N tokens over all groups; y[t·ldy + r].
template <int LB, int R, int N>
void int_micro(const uint8_t* w, size_t wstride, const uint8_t* a, size_t astride, int64_t ng, float* y,
               int64_t ldy) {
  __m512 acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    const size_t off = static_cast<size_t>(g) * kGroupBytes<LB>;
    __m512i isum[R][N];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < N; ++t) isum[r][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int v = 0; v < LB / 4; ++v) {
      __m512i wv[R];
      for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(w + r * wstride + off + 64 * v);
      for (int t = 0; t < N; ++t) {
        const __m512i av = _mm512_loadu_si512(a + t * astride + off + 64 * v);
        for (int r = 0; r < R; ++r) isum[r][t] = _mm512_dpbusd_epi32(isum[r][t], wv[r], av);
      }
    }
    for (int t = 0; t < N; ++t) {
      const float* at = reinterpret_cast<const float*>(a + t * astride + off + 16 * LB);
      const __m512 da = _mm512_loadu_ps(at), das = _mm512_loadu_ps(at + 16);
      for (int r = 0; r < R; ++r) {
        const float* wr = reinterpret_cast<const float*>(w + r * wstride + off + 16 * LB);
        const __m512 scale = _mm512_mul_ps(_mm512_loadu_ps(wr), da);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), scale, acc[r][t]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_loadu_ps(wr + 16), das, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

constexpr int kTileRows = 4, kTileTokens = 3;

// Runs Micro<R, N> over an n_rows × n_tok block, with smaller kernels on the edges.
template <template <int, int> class Micro>
void tile_loop(const uint8_t* w, size_t wstride, int64_t n_rows, const uint8_t* a, size_t astride, int64_t n_tok,
               int64_t len, float* y, int64_t ldy) {
  for (int64_t r = 0; r < n_rows; r += kTileRows) {
    const int64_t nr = n_rows - r < kTileRows ? n_rows - r : kTileRows;
    const uint8_t* wr = w + r * wstride;
    for (int64_t t = 0; t < n_tok; t += kTileTokens) {
      const int64_t nt = n_tok - t < kTileTokens ? n_tok - t : kTileTokens;
      const uint8_t* at = a + t * astride;
      float* yt = y + t * ldy + r;
      switch (nr * 4 + nt) {
        case 4 * 4 + 3: Micro<4, 3>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 4 * 4 + 2: Micro<4, 2>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 4 * 4 + 1: Micro<4, 1>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 3 * 4 + 3: Micro<3, 3>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 3 * 4 + 2: Micro<3, 2>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 3 * 4 + 1: Micro<3, 1>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 2 * 4 + 3: Micro<2, 3>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 2 * 4 + 2: Micro<2, 2>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 2 * 4 + 1: Micro<2, 1>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 1 * 4 + 3: Micro<1, 3>::run(wr, wstride, at, astride, len, yt, ldy); break;
        case 1 * 4 + 2: Micro<1, 2>::run(wr, wstride, at, astride, len, yt, ldy); break;
        default: Micro<1, 1>::run(wr, wstride, at, astride, len, yt, ldy); break;
      }
    }
  }
}

template <int LB>
struct IntMicro {
  template <int R, int N>
  struct K {
    static void run(const uint8_t* w, size_t ws, const uint8_t* a, size_t as, int64_t n, float* y, int64_t ldy) {
      int_micro<LB, R, N>(w, ws, a, as, n_groups<LB>(n), y, ldy);
    }
  };
};

template <int LB>
void int_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  tile_loop<IntMicro<LB>::template K>(w, packed_bytes<LB>(n), n_rows, acts, packed_bytes<LB>(n), n_tok, n, y, ldy);
}

// ---- float weights (F32 / F16 / BF16): converted to F32 rows, FMA tile -----------------------

int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }
size_t f32_bytes(int64_t n) { return static_cast<size_t>(pad16(n)) * 4; }

void pack_f32(const float* x, int64_t n, uint8_t* dst) {
  float* o = reinterpret_cast<float*>(dst);
  std::memcpy(o, x, static_cast<size_t>(n) * 4);
  for (int64_t i = n; i < pad16(n); ++i) o[i] = 0.f;
}
void pack_w_f32(const void* w, int64_t n, uint8_t* dst) { pack_f32(static_cast<const float*>(w), n, dst); }

template <bool kBf16>
void pack_w_half(const void* w, int64_t n, uint8_t* dst) {
  const uint16_t* h = static_cast<const uint16_t*>(w);
  float* o = reinterpret_cast<float*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    const __m512 f = kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)) : _mm512_cvtph_ps(v);
    _mm512_storeu_ps(o + i, f);
  }
  for (; i < n; ++i) {
    if (kBf16) {
      const uint32_t b = uint32_t{h[i]} << 16;
      std::memcpy(o + i, &b, 4);
    } else {
      o[i] = h2f(h[i]);
    }
  }
  for (; i < pad16(n); ++i) o[i] = 0.f;
}

template <int R, int N>
struct FloatMicro {
  static void run(const uint8_t* wb, size_t ws, const uint8_t* ab, size_t as, int64_t n, float* y, int64_t ldy) {
    __m512 acc[R][N];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
    const int64_t np = pad16(n);
    for (int64_t k = 0; k < np; k += 16) {
      __m512 wv[R];
      for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_ps(reinterpret_cast<const float*>(wb + r * ws) + k);
      for (int t = 0; t < N; ++t) {
        const __m512 av = _mm512_loadu_ps(reinterpret_cast<const float*>(ab + t * as) + k);
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < N; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

void float_tile(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y, int64_t ldy) {
  tile_loop<FloatMicro>(w, f32_bytes(n), n_rows, acts, f32_bytes(n), n_tok, n, y, ldy);
}

// ---- table -------------------------------------------------------------------------------

template <int LB>
constexpr GemmKernels int_gemm(void (*pack_w)(const void*, int64_t, uint8_t*)) {
  GemmKernels g;
  g.act_bytes = packed_bytes<LB>;
  g.pack_acts = pack_acts<LB>;
  g.w_bytes = packed_bytes<LB>;
  g.pack_w_row = pack_w;
  g.tile = int_tile<LB>;
  return g;
}

constexpr GemmKernels float_gemm(void (*pack_w)(const void*, int64_t, uint8_t*)) {
  GemmKernels g;
  g.act_bytes = f32_bytes;
  g.pack_acts = pack_f32;
  g.w_bytes = f32_bytes;
  g.pack_w_row = pack_w;
  g.tile = float_tile;
  return g;
}

constexpr IsaKernels make_table() {
  IsaKernels k;
  k.quantize_acts = quantize_acts_avx512;
  auto set = [&k](WSlot s, VecDotFn dot, GemmKernels gemm) {
    k.vec_dot[static_cast<int>(s)] = dot;
    k.gemm[static_cast<int>(s)] = gemm;
  };
  set(WSlot::F32, dot_float<load8_f32>, float_gemm(pack_w_f32));
  set(WSlot::F16, dot_float<load8_f16>, float_gemm(pack_w_half<false>));
  set(WSlot::BF16, dot_float<load8_bf16>, float_gemm(pack_w_half<true>));
  set(WSlot::Q8_0, dot_legacy<FmtQ8_0Biased>, int_gemm<32>(pack_w_legacy<FmtQ8_0Biased>));
  set(WSlot::Q4_0, dot_legacy<FmtQ4_0>, int_gemm<32>(pack_w_legacy<FmtQ4_0>));
  set(WSlot::Q4_1, dot_legacy<FmtQ4_1>, int_gemm<32>(pack_w_legacy<FmtQ4_1>));
  set(WSlot::Q5_0, dot_legacy<FmtQ5_0>, int_gemm<32>(pack_w_legacy<FmtQ5_0>));
  set(WSlot::Q5_1, dot_legacy<FmtQ5_1>, int_gemm<32>(pack_w_legacy<FmtQ5_1>));
  set(WSlot::IQ4_NL, dot_legacy<FmtIQ4_NLBiased>, int_gemm<32>(pack_w_legacy<FmtIQ4_NLBiased>));
  set(WSlot::Q4_K, dot_kx<BlockQ4_K, false>, int_gemm<32>(pack_w_kx<BlockQ4_K, false>));
  set(WSlot::Q5_K, dot_kx<BlockQ5_K, true>, int_gemm<32>(pack_w_kx<BlockQ5_K, true>));
  set(WSlot::Q6_K, dot_q6_K, int_gemm<16>(pack_w_q6_K));
  return k;
}

constinit const IsaKernels kAvx512Table = make_table();

}  // namespace

const IsaKernels& avx512_kernels() { return kAvx512Table; }

}  // namespace trellis
