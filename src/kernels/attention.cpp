#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/fp16.h"
#include "kernels/ops.h"

namespace trellis {
namespace {

float dot_kv(const float* q, const KVLayerView& kv, const void* base, int64_t offset, int64_t n) {
  if (kv.type == DType::F32) return dot_f32(q, static_cast<const float*>(base) + offset, n);
  const uint16_t* h = static_cast<const uint16_t*>(base) + offset;
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += q[i] * fp16_to_fp32(h[i]);
  return s;
}

void axpy_kv(float a, const KVLayerView& kv, int64_t offset, int64_t n, float* acc) {
  if (kv.type == DType::F32) {
    const float* v = static_cast<const float*>(kv.v) + offset;
    for (int64_t i = 0; i < n; ++i) acc[i] += a * v[i];
  } else {
    const uint16_t* v = static_cast<const uint16_t*>(kv.v) + offset;
    for (int64_t i = 0; i < n; ++i) acc[i] += a * fp16_to_fp32(v[i]);
  }
}

}  // namespace

void attention_head(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim, int64_t n_pos,
                    float scale, float* out) {
  float scores[kAttentionBlock];
  float running_max = -INFINITY;
  float running_sum = 0.0f;
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0.0f;
  const int64_t head_off = kv_head * head_dim;
  for (int64_t p0 = 0; p0 < n_pos; p0 += kAttentionBlock) {
    const int64_t n = std::min<int64_t>(kAttentionBlock, n_pos - p0);
    float block_max = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      scores[j] = dot_kv(q, kv, kv.k, (p0 + j) * kv.stride + head_off, head_dim) * scale;
      block_max = std::max(block_max, scores[j]);
    }
    const float new_max = std::max(running_max, block_max);
    const float correction = std::exp(running_max - new_max);
    if (correction != 1.0f) {
      for (int64_t i = 0; i < head_dim; ++i) out[i] *= correction;
      running_sum *= correction;
    }
    for (int64_t j = 0; j < n; ++j) {
      const float w = std::exp(scores[j] - new_max);
      running_sum += w;
      axpy_kv(w, kv, (p0 + j) * kv.stride + head_off, head_dim, out);
    }
    running_max = new_max;
  }
  const float inv = 1.0f / running_sum;
  for (int64_t i = 0; i < head_dim; ++i) out[i] *= inv;
}

void attention_head_reference(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim,
                              int64_t n_pos, float scale, float* out) {
  std::vector<double> s(static_cast<size_t>(n_pos));
  std::vector<float> row(static_cast<size_t>(head_dim));
  auto load = [&](const void* base, int64_t p) {
    const int64_t off = p * kv.stride + kv_head * head_dim;
    for (int64_t i = 0; i < head_dim; ++i) {
      row[i] = kv.type == DType::F32 ? static_cast<const float*>(base)[off + i]
                                     : fp16_to_fp32(static_cast<const uint16_t*>(base)[off + i]);
    }
  };
  double mx = -INFINITY;
  for (int64_t p = 0; p < n_pos; ++p) {
    load(kv.k, p);
    double d = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) d += static_cast<double>(q[i]) * row[i];
    s[p] = d * scale;
    mx = std::max(mx, s[p]);
  }
  double total = 0.0;
  for (auto& x : s) total += (x = std::exp(x - mx));
  std::vector<double> acc(static_cast<size_t>(head_dim), 0.0);
  for (int64_t p = 0; p < n_pos; ++p) {
    load(kv.v, p);
    for (int64_t i = 0; i < head_dim; ++i) acc[i] += s[p] / total * row[i];
  }
  for (int64_t i = 0; i < head_dim; ++i) out[i] = static_cast<float>(acc[i]);
}

}  // namespace trellis
