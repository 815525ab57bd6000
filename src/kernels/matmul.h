// Linear layers over weights of any supported type.
// W is a TensorView with ne = {in, out} (out rows of `in` elements), X and Y are F32.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace trellis {

class ThreadPool;

// Y[T, out] = X[T, in] · Wᵀ  — rows of W are split across the pool.
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Reference: the same product by dequantizing each row and a plain double-accumulated dot.
// Slow; used by tests to check the fast paths.
void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y);

// out[in] = row `row` of W, dequantized (embedding lookup).
void dequantize_tensor_row(const TensorView& w, int64_t row, float* out);

}  // namespace trellis
