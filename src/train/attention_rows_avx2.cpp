// AVX2+FMA copies of the blocked attention's row kernels (see attention_rows.h).
#include <immintrin.h>

#include "train/attention_rows.h"

namespace trellis::attention_rows {
namespace {
#include "kernels/simd_exp_avx2.inl"

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

float exp_row_avx2(float* x, int64_t n, float scale, float shift) {
  const __m256 vs = _mm256_set1_ps(scale), vh = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vh));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  if (i < n) {  // the tail through the same vector exp, so every element rounds alike
    float tmp[8] = {};
    for (int64_t j = i; j < n; ++j) tmp[j - i] = x[j];
    const __m256 e = exp_ps(_mm256_fmsub_ps(_mm256_loadu_ps(tmp), vs, vh));
    _mm256_storeu_ps(tmp, e);
    for (int64_t j = i; j < n; ++j) sum += (x[j] = tmp[j - i]);
  }
  return sum;
}

void exp_row_cols_avx2(float* x, int64_t n, float scale, const float* shift) {
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(x + i, exp_ps(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, _mm256_loadu_ps(shift + i))));
  }
  if (i < n) {
    float tmp[8] = {}, sh[8] = {};
    for (int64_t j = i; j < n; ++j) tmp[j - i] = x[j], sh[j - i] = shift[j];
    _mm256_storeu_ps(tmp, exp_ps(_mm256_fmsub_ps(_mm256_loadu_ps(tmp), vs, _mm256_loadu_ps(sh))));
    for (int64_t j = i; j < n; ++j) x[j] = tmp[j - i];
  }
}

void grad_row_avx2(const float* p, float* dp, int64_t n, float scale, float d) {
  const __m256 vs = _mm256_set1_ps(scale), vd = _mm256_set1_ps(d);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(dp + i), vd), vs);
    _mm256_storeu_ps(dp + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), g));
  }
  for (; i < n; ++i) dp[i] = p[i] * ((dp[i] - d) * scale);
}

void grad_row_cols_avx2(const float* p, float* dp, int64_t n, float scale, const float* d) {
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(dp + i), _mm256_loadu_ps(d + i)), vs);
    _mm256_storeu_ps(dp + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), g));
  }
  for (; i < n; ++i) dp[i] = p[i] * ((dp[i] - d[i]) * scale);
}

}  // namespace trellis::attention_rows
