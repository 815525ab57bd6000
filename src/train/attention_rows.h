// Element-wise row kernels of the blocked training attention (attention_blocked.cpp): the
// scaled exponentials that turn a block of scores into probabilities and the softmax
// Jacobian step that turns dP into dS. A scalar template (the reference, and the F64 path)
// and an AVX2+FMA copy for F32 (attention_rows_avx2.cpp), chosen at run time by the
// dispatching templates at the end.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu_features.h"

namespace trellis::attention_rows {

// x[i] = exp(x[i]·scale − shift); returns Σ x[i] (summed in double: one running float sum
// of a thousand terms would lose ~1e-5).
template <class T>
T exp_row_scalar(T* x, int64_t n, T scale, T shift) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] * scale - shift));
  return static_cast<T>(sum);
}

// x[i] = exp(x[i]·scale − shift[i]) (a shift per column: the transposed blocks of the backward).
template <class T>
void exp_row_cols_scalar(T* x, int64_t n, T scale, const T* shift) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] * scale - shift[i]);
}

// dp[i] = p[i]·(dp[i] − d)·scale: dS from dP, d = Σ_j p_j·dp_j = dO·O for the row.
template <class T>
void grad_row_scalar(const T* p, T* dp, int64_t n, T scale, T d) {
  for (int64_t i = 0; i < n; ++i) dp[i] = p[i] * ((dp[i] - d) * scale);
}

// The same with d per column.
template <class T>
void grad_row_cols_scalar(const T* p, T* dp, int64_t n, T scale, const T* d) {
  for (int64_t i = 0; i < n; ++i) dp[i] = p[i] * ((dp[i] - d[i]) * scale);
}

// AVX2+FMA copies (attention_rows_avx2.cpp); same contracts, exp to about 2 ulp.
float exp_row_avx2(float* x, int64_t n, float scale, float shift);
void exp_row_cols_avx2(float* x, int64_t n, float scale, const float* shift);
void grad_row_avx2(const float* p, float* dp, int64_t n, float scale, float d);
void grad_row_cols_avx2(const float* p, float* dp, int64_t n, float scale, const float* d);

// What callers use: F32 goes to the AVX2 copy when the active instruction set has it; F64
// (the finite-difference tests) and CPUs without AVX2 take the scalar template.
template <class T>
T exp_row(T* x, int64_t n, T scale, T shift) {
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() >= Isa::Avx2) return exp_row_avx2(x, n, scale, shift);
  }
  return exp_row_scalar(x, n, scale, shift);
}
template <class T>
void exp_row_cols(T* x, int64_t n, T scale, const T* shift) {
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() >= Isa::Avx2) return exp_row_cols_avx2(x, n, scale, shift);
  }
  exp_row_cols_scalar(x, n, scale, shift);
}
template <class T>
void grad_row(const T* p, T* dp, int64_t n, T scale, T d) {
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() >= Isa::Avx2) return grad_row_avx2(p, dp, n, scale, d);
  }
  grad_row_scalar(p, dp, n, scale, d);
}
template <class T>
void grad_row_cols(const T* p, T* dp, int64_t n, T scale, const T* d) {
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() >= Isa::Avx2) return grad_row_cols_avx2(p, dp, n, scale, d);
  }
  grad_row_cols_scalar(p, dp, n, scale, d);
}

}  // namespace trellis::attention_rows
