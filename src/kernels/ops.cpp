// Dispatch of the element-wise operations to the per-ISA kernels behind ops_kernels.h (chosen
// like matmul's: active_isa(), TRELLIS_ISA); RoPE angles are computed here, once per call.
#include "kernels/ops.h"

#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ops_kernels.h"

namespace trellis {
namespace {

const OpsKernels& ops() {
  switch (active_isa()) {
    case Isa::Avx512: return ops_avx512();
    case Isa::Avx2: return ops_avx2();
    case Isa::Scalar: break;
  }
  return ops_scalar();
}

}  // namespace

void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps) { ops().rmsnorm(x, w, out, n, eps); }

void rope_angles(int64_t rope_dim, int64_t pos, const float* inv_freq, float* cs) {
  const int64_t half = rope_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(pos) * inv_freq[i];
    cs[i] = static_cast<float>(std::cos(angle));
    cs[half + i] = static_cast<float>(std::sin(angle));
  }
}

void rope_rotate(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const float* cs, RopeStyle style) {
  ops().rope(x, n_heads, head_dim, rope_dim, cs, cs + rope_dim / 2, style == RopeStyle::Interleaved);
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, int64_t pos, const float* inv_freq,
          RopeStyle style) {
  thread_local std::vector<float> cs;  // only grows
  if (static_cast<int64_t>(cs.size()) < rope_dim) cs.resize(static_cast<size_t>(rope_dim));
  rope_angles(rope_dim, pos, inv_freq, cs.data());
  rope_rotate(x, n_heads, head_dim, rope_dim, cs.data(), style);
}

void to_f16(const float* x, uint16_t* out, int64_t n) { ops().to_f16(x, out, n); }

void silu_mul(float* gate, const float* up, int64_t n) { ops().silu_mul(gate, up, n); }

void add_inplace(float* y, const float* x, int64_t n) { ops().add(y, x, n); }

double log_sum_exp(const float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  return std::log(sum) + mx;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

}  // namespace trellis
