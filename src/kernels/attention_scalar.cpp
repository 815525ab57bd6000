// Portable attention kernel: the reference the SIMD files are tested against, and the path
// on CPUs without AVX2. Same blocking as they use: per block of kAttnBlock positions, the
// scores of every row, one online-softmax update per row, then the weighted sum of V.
#include <cmath>

#include "core/fp16.h"
#include "kernels/attention_kernels.h"

namespace trellis {
namespace {

float load(const void* base, bool f16, int64_t i) {
  return f16 ? fp16_to_fp32(static_cast<const uint16_t*>(base)[i]) : static_cast<const float*>(base)[i];
}

void attn_partial(const AttnJob& j) {
  const int64_t hd = j.head_dim;
  float* scores = j.scratch;  // [n_rows, kAttnBlock]
  for (int64_t r = 0; j.init && r < j.n_rows; ++r) {
    j.m[r] = -INFINITY;
    j.l[r] = 0.0f;
    for (int64_t i = 0; i < hd; ++i) j.acc[r * hd + i] = 0.0f;
  }
  for (int64_t b0 = j.p0; b0 < j.p1; b0 += kAttnBlock) {
    const int64_t nb = j.p1 - b0 < kAttnBlock ? j.p1 - b0 : kAttnBlock;
    for (int64_t r = 0; r < j.n_rows; ++r) {
      const float* q = j.q + r * hd;
      float* s = scores + r * kAttnBlock;
      float bmax = -INFINITY;
      for (int64_t p = 0; p < nb; ++p) {
        float d = 0.0f;
        for (int64_t i = 0; i < hd; ++i) d += q[i] * load(j.k, j.f16, (b0 + p) * j.stride + i);
        s[p] = d * j.scale;
        bmax = s[p] > bmax ? s[p] : bmax;
      }
      const float m_new = bmax > j.m[r] ? bmax : j.m[r];
      const float corr = j.m[r] == -INFINITY ? 0.0f : std::exp(j.m[r] - m_new);
      float* acc = j.acc + r * hd;
      if (corr != 1.0f) {
        for (int64_t i = 0; i < hd; ++i) acc[i] *= corr;
      }
      float sum = 0.0f;
      for (int64_t p = 0; p < nb; ++p) sum += (s[p] = std::exp(s[p] - m_new));
      j.l[r] = j.l[r] * corr + sum;
      j.m[r] = m_new;
    }
    for (int64_t p = 0; p < nb; ++p) {
      for (int64_t r = 0; r < j.n_rows; ++r) {
        const float w = scores[r * kAttnBlock + p];
        float* acc = j.acc + r * hd;
        for (int64_t i = 0; i < hd; ++i) acc[i] += w * load(j.v, j.f16, (b0 + p) * j.stride + i);
      }
    }
  }
  if (j.finalize) {
    for (int64_t r = 0; r < j.n_rows; ++r) {
      const float inv = 1.0f / j.l[r];
      for (int64_t i = 0; i < hd; ++i) j.acc[r * hd + i] *= inv;
    }
  }
}

}  // namespace

AttnPartialFn attn_partial_scalar() { return attn_partial; }

}  // namespace trellis
