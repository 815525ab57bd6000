// Packed GGUF block layouts (byte-for-byte the ggml definitions) and the scalar reference
// routines for each format. SIMD kernels include this header for the structs and compare
// their results against these scalar routines.
#pragma once
#include <cstdint>
#include <cstring>

namespace trellis {

constexpr int kQK = 32;    // elements per block of the legacy formats and IQ4_NL
constexpr int kQK_K = 256;  // elements per super-block of the k-quants

// All fp16 fields are stored as raw IEEE half bits; no field needs alignment beyond 2 bytes,
// so arrays of blocks are tightly packed exactly like the file.

struct BlockQ4_0 {        // value = (q - 8) * d
  uint16_t d;
  uint8_t qs[kQK / 2];    // element j: low nibble of qs[j]; element j+16: high nibble
};
struct BlockQ4_1 {        // value = q * d + m
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {        // value = (q - 16) * d, q = nibble | (bit j of qh) << 4
  uint16_t d;
  uint8_t qh[4];          // little-endian uint32: bit j is the 5th bit of element j
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {        // value = q * d + m
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {        // value = q * d
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockIQ4_NL {      // value = d * kIQ4NLValues[nibble], nibbles ordered as Q4_0
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// Q4_K: 8 sub-blocks of 32, each with a 6-bit scale and 6-bit min packed in `scales`
// (see get_scale_min_k4); value = d*sc*q - dmin*m. qs holds 4 groups of 64 elements:
// group g, byte l: low nibble = element 64g+l, high nibble = element 64g+32+l.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
// Q5_K: as Q4_K plus a 5th bit: element 64g+l takes bit 2g of qh[l], 64g+32+l bit 2g+1.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// Q6_K: 16 sub-blocks of 16 with int8 scales; value = d * scale * (q - 32), q 6 bits:
// low 4 bits in ql, high 2 bits in qh (layout in dequantize_q6_K).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Q8_K: activation blocks for integer dot products; bsums[i] = sum of qs[16i..16i+15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// The IQ4_NL non-linear codebook (ggml kvalues_iq4nl).
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block: sub-blocks
// 0-3 use the low 6 bits of bytes 0-3 / 4-7; sub-blocks 4-7 keep their low 4 bits in bytes
// 8-11 and their top 2 bits in the spare high bits of bytes 0-7.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// The inverse: stores the 6-bit scale and min (< 64) of sub-block j, keeping the bits that
// belong to other sub-blocks.
inline void set_scale_min_k4(int j, uint8_t sc, uint8_t m, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>((q[j] & 0xC0) | sc);
    q[j + 4] = static_cast<uint8_t>((q[j + 4] & 0xC0) | m);
  } else {
    q[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>((q[j - 4] & 63) | ((sc >> 4) << 6));
    q[j] = static_cast<uint8_t>((q[j] & 63) | ((m >> 4) << 6));
  }
}

// Scalar reference routines; `nb` counts blocks. Quantizers follow ggml's reference
// quantizers (quantize_row_*_ref) so the output matches the standard tools.
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb);
void dequantize_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb);
void dequantize_q4_K(const BlockQ4_K* x, float* y, int64_t nb);
void dequantize_q5_K(const BlockQ5_K* x, float* y, int64_t nb);
void dequantize_q6_K(const BlockQ6_K* x, float* y, int64_t nb);
void dequantize_q8_K(const BlockQ8_K* x, float* y, int64_t nb);

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb);
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb);
void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb);
void quantize_q4_K(const float* x, BlockQ4_K* y, int64_t nb);
void quantize_q5_K(const float* x, BlockQ5_K* y, int64_t nb);
void quantize_q6_K(const float* x, BlockQ6_K* y, int64_t nb);
void quantize_q8_K(const float* x, BlockQ8_K* y, int64_t nb);

// Round to nearest, ties to even, as ggml's nearest_int (the 1.5*2^23 trick). Inputs are
// clamped to the trick's exact range first so huge or NaN inputs cannot produce UB.
inline int nearest_int(float f) {
  if (!(f >= -4194303.f)) f = f > 0 ? 4194303.f : -4194303.f;  // also maps NaN
  if (f > 4194303.f) f = 4194303.f;
  float v = f + 12582912.f;
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

}  // namespace trellis
