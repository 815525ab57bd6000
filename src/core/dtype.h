// Weight and activation element types, with the GGUF type ids and block layouts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace trellis {

// Values are the GGUF `ggml_type` ids, so they can be read and written directly.
enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30,
};

struct DTypeInfo {
  const char* name;
  int64_t block_elems;   // elements per block (1 for plain types)
  int64_t block_bytes;   // bytes per block
  bool supported;        // Trellis can dequantize / compute with it
};

// Info for a GGUF type id; returns nullptr for an id Trellis does not know at all.
const DTypeInfo* dtype_info_or_null(uint32_t id);
const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
// Parses "Q8_0", "f16", ... (case-insensitive); throws Error on an unknown name.
DType dtype_from_name(const std::string& name);

// Bytes needed for a row of n elements; throws Error if n is not a multiple of the block size.
size_t row_bytes(DType t, int64_t n);
inline bool is_quantized(DType t) { return dtype_info(t).block_elems > 1; }
inline bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace trellis
