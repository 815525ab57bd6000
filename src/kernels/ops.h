// Element-wise and row-wise operations of the forward pass (F32 activations).
// Shapes in comments: [n] is a vector, [T, n] T rows of n.
// rmsnorm, rope, silu_mul and add_inplace run per-ISA kernels (ops_kernels.h) chosen at run
// time; rope and add_inplace give the same bits on every ISA, rmsnorm and silu_mul agree with
// the scalar reference to a few ulp.
#pragma once
#include <cstdint>

#include "model/arch.h"

namespace trellis {

// out[n] = x[n] * w[n] / sqrt(mean(x²) + eps)
void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps);

// Rotates the first rope_dim dimensions of each of n_heads heads of size head_dim in place,
// at position pos, pairing dimensions per `style`. inv_freq has rope_dim/2 entries.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, int64_t pos, const float* inv_freq,
          RopeStyle style);
// The same in two steps, so a position's angles serve every layer: cs[rope_dim] receives the
// rope_dim/2 cosines then the sines at pos; rope_rotate applies them.
void rope_angles(int64_t rope_dim, int64_t pos, const float* inv_freq, float* cs);
void rope_rotate(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const float* cs, RopeStyle style);

// out[n] = x[n] as IEEE half (round to nearest even).
void to_f16(const float* x, uint16_t* out, int64_t n);

// gate[n] = silu(gate) * up
void silu_mul(float* gate, const float* up, int64_t n);

// y[n] += x[n]
void add_inplace(float* y, const float* x, int64_t n);

// In-place softmax over n values; returns log(sum(exp(x - max))) + max (log-sum-exp).
double log_sum_exp(const float* x, int64_t n);

float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace trellis
