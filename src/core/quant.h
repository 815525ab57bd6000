// Row-level dequantization and quantization for the GGUF tensor types.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace trellis {

// Exact dequantization per the GGUF block layout (bit-identical to ggml's scalar code).
// n must be a multiple of the block size; unsupported types throw Error.
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

// Quantizes n floats (a multiple of the block size) the way ggml's reference quantizers do
// (no importance matrix). Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
// Q5_K, Q6_K, IQ4_NL. Other types throw Error.
void quantize_row(DType type, const float* src, void* dst, int64_t n);

bool can_dequantize(DType type);
bool can_quantize(DType type);

// Q8_K activation blocks (float d, int8 qs[256], int16 bsums[16]) for integer dot kernels.
void quantize_row_q8_K(const float* src, void* dst, int64_t n);

}  // namespace trellis
