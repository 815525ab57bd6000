// Linear layers over weights of any supported type.
// W is a TensorView with ne = {in, out} (out rows of `in` elements), X and Y are F32.
//
// Integer-quantized weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K) are
// multiplied with activations quantized on the fly to int8 per 32 elements (scale = amax/127),
// so results differ from the exact product by at most Σ_blocks (d_act/2)·Σ|w| per output.
// F32 / F16 / BF16 weights use F32 activations and F32 accumulation.
#pragma once
#include <cstdint>
#include <optional>
#include <span>

#include "core/tensor.h"
#include "kernels/cpu_features.h"

namespace trellis {

class ThreadPool;

// Which kernel family runs: Auto takes the tiled prefill kernel (weights repacked once per
// call, reused across tokens) from kGemmMinTokens tokens on, where the ISA has one.
enum class MatmulPath { Auto, VecDot, Gemm };
constexpr int64_t kGemmMinTokens = 4;

struct MatmulOptions {
  std::optional<Isa> isa;  // default active_isa(); clamped to what the CPU has
  MatmulPath path = MatmulPath::Auto;
};

// Y[T, out] = X[T, in] · Wᵀ  — rows of W are split across the pool. Y must not overlap X (the
// prefill path reads float activations in place while it writes Y).
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            const MatmulOptions& opt);

// Several products of one input, Y_i = X · W_iᵀ (every W_i with the same row length). When
// all take the decode path (vec-dot kernels), or all the tiled prefill path with the same
// activation packing, the activations are quantized (packed) once and all rows are one pool
// dispatch; otherwise, or with more than kMaxMatmulOuts weights, one matmul per weight.
// Results are the same as separate matmul calls.
struct MatmulOut {
  const TensorView* w;
  float* y;
};
constexpr size_t kMaxMatmulOuts = 4;
void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens, ThreadPool& pool,
                  const MatmulOptions& opt = {});

// Whether `type` has dedicated kernels (otherwise a row is dequantized then dotted in F32),
// and whether `isa` has a tiled prefill kernel for it.
bool matmul_has_fast_path(DType type);
bool matmul_has_gemm(DType type, Isa isa);

// Reference: the same product by dequantizing each row and a plain double-accumulated dot.
// Slow; used by tests to check the fast paths.
void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y);

// out[in] = row `row` of W, dequantized (embedding lookup).
void dequantize_tensor_row(const TensorView& w, int64_t row, float* out);

}  // namespace trellis
