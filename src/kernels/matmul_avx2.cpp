// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; reached only through
// avx2_kernels() after a run-time CPU check). Integer weights: maddubs (u8 × s8 → s16 pairs)
// and madd into s32 per 32-element block, then the block's float scale by FMA.
// Prefill uses these dot kernels row by row (each weight row stays in L1 across tokens).
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
  return k;
}

constinit const IsaKernels kAvx2Table = make_table();

}  // namespace

const IsaKernels& avx2_kernels() { return kAvx2Table; }

}  // namespace trellis
