// Internal interface between ops.cpp (dispatch, RoPE angles) and the per-ISA element-wise
// kernels in ops_scalar.cpp (the reference), ops_avx2.cpp and ops_avx512.cpp. Pure kernels
// over raw pointers, as for matmul_kernels.h.
#pragma once
#include <cstdint>

namespace trellis {

struct OpsKernels {
  // out[n] = x·scale·w with scale = 1/sqrt(Σx²/n + eps), Σx² in double.
  void (*rmsnorm)(const float* x, const float* w, float* out, int64_t n, float eps) = nullptr;
  // gate[n] = gate / (1 + e^-gate) · up
  void (*silu_mul)(float* gate, const float* up, int64_t n) = nullptr;
  // y[n] += x[n]
  void (*add)(float* y, const float* x, int64_t n) = nullptr;
  // Rotates pair i (i < rope_dim/2) of each of n_heads heads of head_dim by (c[i], s[i]):
  // a' = a·c − b·s, b' = a·s + b·c (products rounded separately, no FMA), pairs (2i, 2i+1)
  // when interleaved, else (i, i + rope_dim/2).
  void (*rope)(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const float* c, const float* s,
               bool interleaved) = nullptr;
  // out[n] = x[n] as IEEE half, rounded to nearest even (overflow to inf; NaN stays NaN).
  void (*to_f16)(const float* x, uint16_t* out, int64_t n) = nullptr;
};

// avx2 / avx512 must only be called when the CPU has that ISA.
const OpsKernels& ops_scalar();
const OpsKernels& ops_avx2();
const OpsKernels& ops_avx512();

}  // namespace trellis
