// Type dispatch for row (de)quantization, plus the plain float formats. The block formats
// live in quant_legacy.cpp, quant_kquants.cpp and quant_iq4nl.cpp.
#include "core/quant.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace trellis {
namespace {

// Number of blocks in a row of n elements; rejects lengths that do not fill whole blocks.
int64_t blocks_in_row(DType type, int64_t n) {
  const int64_t be = dtype_info(type).block_elems;
  if (n < 0 || n % be != 0) {
    fail("row of ", n, " elements is not a multiple of the ", dtype_name(type), " block size ", be);
  }
  return n / be;
}

[[noreturn]] void unsupported(const char* what, DType type) {
  const DTypeInfo* info = dtype_info_or_null(static_cast<uint32_t>(type));
  fail("cannot ", what, " tensor type ", info ? info->name : "?", " (id ", static_cast<uint32_t>(type), ")");
}

}  // namespace

bool can_dequantize(DType type) {
  switch (type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0:
    case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:
    case DType::Q6_K: case DType::IQ4_NL: case DType::Q8_K:
      return true;
    default:
      return false;
  }
}

// Q8_K is an activation-only format (ggml cannot store weights in it), so it is reachable
// only through quantize_row_q8_K.
bool can_quantize(DType type) { return type != DType::Q8_K && can_dequantize(type); }

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(type)) unsupported("dequantize", type);
  const int64_t nb = blocks_in_row(type, n);
  switch (type) {
    case DType::F32:
      if (nb) std::memcpy(dst, src, static_cast<size_t>(nb) * sizeof(float));
      return;
    case DType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < nb; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case DType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < nb; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case DType::Q4_0: return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case DType::Q4_1: return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb);
    case DType::Q5_0: return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb);
    case DType::Q5_1: return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb);
    case DType::Q8_0: return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case DType::IQ4_NL: return dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, nb);
    case DType::Q4_K: return dequantize_q4_K(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::Q5_K: return dequantize_q5_K(static_cast<const BlockQ5_K*>(src), dst, nb);
    case DType::Q6_K: return dequantize_q6_K(static_cast<const BlockQ6_K*>(src), dst, nb);
    case DType::Q8_K: return dequantize_q8_K(static_cast<const BlockQ8_K*>(src), dst, nb);
    default: unsupported("dequantize", type);
  }
}

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) unsupported("quantize to", type);
  const int64_t nb = blocks_in_row(type, n);
  switch (type) {
    case DType::F32:
      if (nb) std::memcpy(dst, src, static_cast<size_t>(nb) * sizeof(float));
      return;
    case DType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < nb; ++i) h[i] = fp32_to_fp16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < nb; ++i) h[i] = fp32_to_bf16(src[i]);
      return;
    }
    case DType::Q4_0: return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case DType::Q4_1: return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), nb);
    case DType::Q5_0: return quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), nb);
    case DType::Q5_1: return quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), nb);
    case DType::Q8_0: return quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case DType::IQ4_NL: return quantize_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), nb);
    case DType::Q4_K: return quantize_q4_K(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::Q5_K: return quantize_q5_K(src, static_cast<BlockQ5_K*>(dst), nb);
    case DType::Q6_K: return quantize_q6_K(src, static_cast<BlockQ6_K*>(dst), nb);
    default: unsupported("quantize to", type);
  }
}

void quantize_row_q8_K(const float* src, void* dst, int64_t n) {
  quantize_q8_K(src, static_cast<BlockQ8_K*>(dst), blocks_in_row(DType::Q8_K, n));
}

}  // namespace trellis
