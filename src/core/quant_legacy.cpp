// The 32-element "legacy" formats Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0. Dequantization evaluates
// the same float expressions in the same order as ggml so results are bit-identical;
// quantization follows ggml's quantize_row_*_ref.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace trellis {
namespace {

constexpr int kHalf = kQK / 2;

// ggml converts with a C cast like (int8_t)(v + 8.5f) and clamps the top; on valid inputs v
// is positive and small. Clamping both ends first keeps NaN / huge inputs out of UB.
int trunc_clamped(float v, int hi) {
  if (!(v > 0.f)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

uint32_t load_qh(const uint8_t* qh) {
  return uint32_t{qh[0]} | uint32_t{qh[1]} << 8 | uint32_t{qh[2]} << 16 | uint32_t{qh[3]} << 24;
}

void store_qh(uint8_t* qh, uint32_t v) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(v >> (8 * k));
}

// The element of largest magnitude, with its sign (the first one on ties), as ggml picks it.
float signed_absmax(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* lo, float* hi) {
  float mn = FLT_MAX, mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  *lo = mn;
  *hi = mx;
}

// Packs 32 five-bit codes: low nibbles as Q4_0, 5th bits into the 32-bit qh word.
void pack5(const int* q, uint8_t* qs, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < kHalf; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + kHalf] & 0x0F) << 4));
    h |= static_cast<uint32_t>((q[j] & 0x10) >> 4) << j;
    h |= static_cast<uint32_t>((q[j + kHalf] & 0x10) >> 4) << (j + kHalf);
  }
  store_qh(qh, h);
}

// The 5-bit code of element j from its nibble and bit j of qh.
int code5(const uint8_t* qs, uint32_t qh, int j) {
  const int nib = j < kHalf ? (qs[j] & 0x0F) : (qs[j - kHalf] >> 4);
  return nib | static_cast<int>(((qh >> j) & 1u) << 4);
}

}  // namespace

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + kHalf] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + kHalf] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(code5(x[i].qs, qh, j) - 16) * d;
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(code5(x[i].qs, qh, j)) * d + m;
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// Symmetric: the largest-magnitude element maps to code 0 (value -8*d), so the sign of d
// follows it and the full range [-8, 7] is used on the side that matters.
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = trunc_clamped(x[j] * id + 8.5f, 15);
      const int q1 = trunc_clamped(x[j + kHalf] * id + 8.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo, hi;
    min_max(x, kQK, &lo, &hi);
    const float d = (hi - lo) / 15.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(lo);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = trunc_clamped((x[j] - lo) * id + 0.5f, 15);
      const int q1 = trunc_clamped((x[j + kHalf] - lo) * id + 0.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -16.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    int q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = trunc_clamped(x[j] * id + 16.5f, 31);
    pack5(q, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo, hi;
    min_max(x, kQK, &lo, &hi);
    const float d = (hi - lo) / 31.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(lo);
    int q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = trunc_clamped((x[j] - lo) * id + 0.5f, 31);
    pack5(q, y[i].qs, y[i].qh);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    // roundf (ties away from zero) as in ggml; |x*id| <= 127 up to rounding, clamp for safety.
    for (int j = 0; j < kQK; ++j) {
      const float v = std::clamp(std::round(x[j] * id), -127.f, 127.f);
      y[i].qs[j] = static_cast<int8_t>(v == v ? v : 0.f);
    }
  }
}

}  // namespace trellis
