// IQ4_NL: 32-element blocks of 4-bit indices into a fixed non-linear codebook, one fp16
// scale. Quantization follows ggml's quantize_row_iq4_nl_ref (no importance matrix):
// a weighted best-scale search over 15 candidate scales, then re-indexing with the final one.
#include <cmath>

#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace trellis {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
constexpr int kTries = 7;  // candidate inverse scales (itry + values[0]) / max, itry in [-7, 7]

// Index of the codebook entry nearest to v (ties go to the upper entry, as in ggml's
// best_index_int8, which bisects the sorted table).
int best_index(float v) {
  const int8_t* val = kIQ4NLValues;
  if (v <= val[0]) return 0;
  if (v >= val[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < val[mid]) hi = mid; else lo = mid;
  }
  return v - val[hi - 1] < val[hi] - v ? hi - 1 : hi;
}

// Weighted (w = x^2) least-squares fit quality for the indices chosen at inverse scale id.
void fit_at(const float* x, const float* w, float id, float* sumqx, float* sumq2) {
  float sx = 0, s2 = 0;
  for (int j = 0; j < kQK; ++j) {
    const float q = kIQ4NLValues[best_index(id * x[j])];
    sx += w[j] * q * x[j];
    s2 += w[j] * q * q;
  }
  *sumqx = sx;
  *sumq2 = s2;
}

// Returns the block scale d such that x ~ d * kIQ4NLValues[index].
float best_scale(const float* x) {
  float w[kQK];
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    w[j] = x[j] * x[j];
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps) return 0.f;
  // Start with the largest-magnitude element on the table's most negative entry, then
  // refit d by least squares for each candidate index assignment and keep the best.
  float sumqx, sumq2;
  fit_at(x, w, 1 / (-max / kIQ4NLValues[0]), &sumqx, &sumq2);
  float d = sumqx / sumq2;
  float best = d * sumqx;
  for (int itry = -kTries; itry <= kTries; ++itry) {
    fit_at(x, w, (itry + kIQ4NLValues[0]) / max, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

}  // namespace

void dequantize_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * kIQ4NLValues[x[i].qs[j] & 0xF];
      y[j + kQK / 2] = d * kIQ4NLValues[x[i].qs[j] >> 4];
    }
  }
}

void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = best_scale(x);
    y[i].d = fp32_to_fp16(d);
    // Indices are chosen against the fp32 scale, as ggml does.
    const float id = d != 0.f ? 1 / d : 0.f;
    for (int j = 0; j < kQK / 2; ++j) {
      y[i].qs[j] = static_cast<uint8_t>(best_index(id * x[j]) | (best_index(id * x[j + kQK / 2]) << 4));
    }
  }
}

}  // namespace trellis
