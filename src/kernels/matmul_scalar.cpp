// Portable kernels: the reference the SIMD files are tested against, and the fallback on
// CPUs without AVX2. Integer weights go through one canonical form (below) so each format
// needs only an unpack routine; the arithmetic is the same integer dot the SIMD kernels do.
#include <cmath>

#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

// Canonical form of one storage block: unsigned codes q[] in element order, and for each
// 16-element slice j a scale dw[j] and offset cw[j] such that w = dw[j]·q + cw[j].
void unpack_q4_0(const BlockQ4_0& b, uint8_t* q, float* dw, float* cw) {
  const float d = fp16_to_fp32(b.d);
  for (int j = 0; j < 16; ++j) {
    q[j] = b.qs[j] & 0x0F;
    q[j + 16] = b.qs[j] >> 4;
  }
  dw[0] = dw[1] = d;
  cw[0] = cw[1] = -8.f * d;
}

void unpack_q4_1(const BlockQ4_1& b, uint8_t* q, float* dw, float* cw) {
  for (int j = 0; j < 16; ++j) {
    q[j] = b.qs[j] & 0x0F;
    q[j + 16] = b.qs[j] >> 4;
  }
  dw[0] = dw[1] = fp16_to_fp32(b.d);
  cw[0] = cw[1] = fp16_to_fp32(b.m);
}

uint32_t qh_word(const uint8_t* qh) {
  return uint32_t{qh[0]} | uint32_t{qh[1]} << 8 | uint32_t{qh[2]} << 16 | uint32_t{qh[3]} << 24;
}

void unpack5(const uint8_t* qs, const uint8_t* qh_bytes, uint8_t* q) {
  const uint32_t qh = qh_word(qh_bytes);
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<uint8_t>((qs[j] & 0x0F) | ((qh >> j) & 1u) << 4);
    q[j + 16] = static_cast<uint8_t>((qs[j] >> 4) | ((qh >> (j + 16)) & 1u) << 4);
  }
}

void unpack_q5_0(const BlockQ5_0& b, uint8_t* q, float* dw, float* cw) {
  unpack5(b.qs, b.qh, q);
  const float d = fp16_to_fp32(b.d);
  dw[0] = dw[1] = d;
  cw[0] = cw[1] = -16.f * d;
}

void unpack_q5_1(const BlockQ5_1& b, uint8_t* q, float* dw, float* cw) {
  unpack5(b.qs, b.qh, q);
  dw[0] = dw[1] = fp16_to_fp32(b.d);
  cw[0] = cw[1] = fp16_to_fp32(b.m);
}

// Signed codes are shifted by 128 to be unsigned, like the VNNI kernels need them.
void unpack_q8_0(const BlockQ8_0& b, uint8_t* q, float* dw, float* cw) {
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(b.qs[j] + 128);
  const float d = fp16_to_fp32(b.d);
  dw[0] = dw[1] = d;
  cw[0] = cw[1] = -128.f * d;
}

void unpack_iq4_nl(const BlockIQ4_NL& b, uint8_t* q, float* dw, float* cw) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<uint8_t>(kIQ4NLValues[b.qs[j] & 0x0F] + 128);
    q[j + 16] = static_cast<uint8_t>(kIQ4NLValues[b.qs[j] >> 4] + 128);
  }
  const float d = fp16_to_fp32(b.d);
  dw[0] = dw[1] = d;
  cw[0] = cw[1] = -128.f * d;
}

// Scales of a Q4_K/Q5_K super-block per 16-element slice.
void kx_scales(const uint8_t* scales, uint16_t d16, uint16_t dmin16, float* dw, float* cw) {
  const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    dw[2 * j] = dw[2 * j + 1] = d * sc;
    cw[2 * j] = cw[2 * j + 1] = -dmin * m;
  }
}

void unpack_q4_K(const BlockQ4_K& b, uint8_t* q, float* dw, float* cw) {
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      q[64 * g + l] = b.qs[32 * g + l] & 0x0F;
      q[64 * g + 32 + l] = b.qs[32 * g + l] >> 4;
    }
  }
  kx_scales(b.scales, b.d, b.dmin, dw, cw);
}

void unpack_q5_K(const BlockQ5_K& b, uint8_t* q, float* dw, float* cw) {
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const int hi0 = (b.qh[l] >> (2 * g)) & 1, hi1 = (b.qh[l] >> (2 * g + 1)) & 1;
      q[64 * g + l] = static_cast<uint8_t>((b.qs[32 * g + l] & 0x0F) | hi0 << 4);
      q[64 * g + 32 + l] = static_cast<uint8_t>((b.qs[32 * g + l] >> 4) | hi1 << 4);
    }
  }
  kx_scales(b.scales, b.d, b.dmin, dw, cw);
}

void unpack_q6_K(const BlockQ6_K& b, uint8_t* q, float* dw, float* cw) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    uint8_t* o = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      o[l] = static_cast<uint8_t>((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4);
      o[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4);
      o[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4);
      o[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4);
    }
  }
  const float d = fp16_to_fp32(b.d);
  for (int j = 0; j < 16; ++j) {
    dw[j] = d * b.scales[j];
    cw[j] = -32.f * dw[j];
  }
}

// Σ w·x for one row: integer dot per 16-element slice, then the slice's scale and offset.
template <class Block, int kElems, void (*Unpack)(const Block&, uint8_t*, float*, float*)>
float dot_int(const void* w, const ActRow& a, int64_t n) {
  const Block* blocks = static_cast<const Block*>(w);
  uint8_t q[kElems];
  float dw[kElems / 16], cw[kElems / 16];
  float acc = 0.f;
  for (int64_t b = 0; b < n / kElems; ++b) {
    Unpack(blocks[b], q, dw, cw);
    for (int h = 0; h < kElems / 16; ++h) {
      const int64_t e0 = b * kElems + h * 16;
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += q[h * 16 + i] * a.q.qs[e0 + i];
      acc += dw[h] * a.q.d[e0 / 32] * static_cast<float>(s) + cw[h] * a.q.ds16[e0 / 16];
    }
  }
  return acc;
}

template <float (*Load)(const void*, int64_t)>
float dot_float(const void* w, const ActRow& a, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += Load(w, i + k) * a.f[i + k];
  }
  float s = 0.f;
  for (; i < n; ++i) s += Load(w, i) * a.f[i];
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

float load_f32(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
float load_f16(const void* w, int64_t i) { return fp16_to_fp32(static_cast<const uint16_t*>(w)[i]); }
float load_bf16(const void* w, int64_t i) { return bf16_to_fp32(static_cast<const uint16_t*>(w)[i]); }

void quantize_acts_scalar(const float* x, int64_t n, int8_t* qs, float* d, float* ds, float* ds16) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float db = amax / 127.f;
    const float id = db != 0.f ? 1.f / db : 0.f;
    int sum[2] = {0, 0};
    for (int j = 0; j < 32; ++j) {
      int v = nearest_int(xb[j] * id);
      v = v < -127 ? -127 : (v > 127 ? 127 : v);
      qs[32 * b + j] = static_cast<int8_t>(v);
      sum[j / 16] += v;
    }
    d[b] = db;
    ds[b] = db * static_cast<float>(sum[0] + sum[1]);
    ds16[2 * b] = db * static_cast<float>(sum[0]);
    ds16[2 * b + 1] = db * static_cast<float>(sum[1]);
  }
}

constexpr IsaKernels make_table() {
  IsaKernels k;
  k.quantize_acts = quantize_acts_scalar;
  k.vec_dot[static_cast<int>(WSlot::F32)] = dot_float<load_f32>;
  k.vec_dot[static_cast<int>(WSlot::F16)] = dot_float<load_f16>;
  k.vec_dot[static_cast<int>(WSlot::BF16)] = dot_float<load_bf16>;
  k.vec_dot[static_cast<int>(WSlot::Q8_0)] = dot_int<BlockQ8_0, 32, unpack_q8_0>;
  k.vec_dot[static_cast<int>(WSlot::Q4_0)] = dot_int<BlockQ4_0, 32, unpack_q4_0>;
  k.vec_dot[static_cast<int>(WSlot::Q4_1)] = dot_int<BlockQ4_1, 32, unpack_q4_1>;
  k.vec_dot[static_cast<int>(WSlot::Q5_0)] = dot_int<BlockQ5_0, 32, unpack_q5_0>;
  k.vec_dot[static_cast<int>(WSlot::Q5_1)] = dot_int<BlockQ5_1, 32, unpack_q5_1>;
  k.vec_dot[static_cast<int>(WSlot::IQ4_NL)] = dot_int<BlockIQ4_NL, 32, unpack_iq4_nl>;
  k.vec_dot[static_cast<int>(WSlot::Q4_K)] = dot_int<BlockQ4_K, 256, unpack_q4_K>;
  k.vec_dot[static_cast<int>(WSlot::Q5_K)] = dot_int<BlockQ5_K, 256, unpack_q5_K>;
  k.vec_dot[static_cast<int>(WSlot::Q6_K)] = dot_int<BlockQ6_K, 256, unpack_q6_K>;
  return k;
}

constinit const IsaKernels kScalarTable = make_table();

}  // namespace

int weight_slot(DType t) {
  switch (t) {
    case DType::F32: return static_cast<int>(WSlot::F32);
    case DType::F16: return static_cast<int>(WSlot::F16);
    case DType::BF16: return static_cast<int>(WSlot::BF16);
    case DType::Q8_0: return static_cast<int>(WSlot::Q8_0);
    case DType::Q4_0: return static_cast<int>(WSlot::Q4_0);
    case DType::Q4_1: return static_cast<int>(WSlot::Q4_1);
    case DType::Q5_0: return static_cast<int>(WSlot::Q5_0);
    case DType::Q5_1: return static_cast<int>(WSlot::Q5_1);
    case DType::IQ4_NL: return static_cast<int>(WSlot::IQ4_NL);
    case DType::Q4_K: return static_cast<int>(WSlot::Q4_K);
    case DType::Q5_K: return static_cast<int>(WSlot::Q5_K);
    case DType::Q6_K: return static_cast<int>(WSlot::Q6_K);
    default: return -1;
  }
}

const IsaKernels& scalar_kernels() { return kScalarTable; }

}  // namespace trellis
