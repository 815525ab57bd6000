// The per-row causal attention of training (forward for one query row and head, backward
// for one head over all rows): the scalar reference of the blocked kernels
// (attention_blocked.cpp), used by backward.cpp's attention_*_reference. Included only there.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "train/backward.h"

namespace trellis::attention_detail {
namespace {

template <class T>
struct AttnVec {
  static constexpr int64_t kWidth = 32 / static_cast<int64_t>(sizeof(T));
  typedef T type __attribute__((vector_size(32), aligned(sizeof(T))));
};

// Σ a_i·b_i with kWidth partial sums (a fixed order: reproducible for one instruction set).
template <class T>
T dot(const T* a, const T* b, int64_t n) {
  using V = typename AttnVec<T>::type;
  constexpr int64_t W = AttnVec<T>::kWidth;
  V acc = {};
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V x, y;
    std::memcpy(&x, a + i, sizeof x);
    std::memcpy(&y, b + i, sizeof y);
    acc += x * y;
  }
  T s = 0;
  for (int64_t k = 0; k < W; ++k) s += acc[k];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <class T>
void axpy(T a, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Query row t of one head against keys j0..t: out [hd] = softmax(q·kᵀ·scale)·v, lse = log Σ exp.
template <class T>
void attend_one(const T* q, const T* k, const T* v, int64_t j0, int64_t t, int64_t kv_stride, int64_t hd, T scale,
                std::vector<T>& scores, T* out, T* lse) {
  const int64_t n = t - j0 + 1;
  if (static_cast<int64_t>(scores.size()) < n) scores.resize(static_cast<size_t>(n));
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = dot(q, k + (j0 + j) * kv_stride, hd) * scale;
    mx = std::max(mx, scores[j]);
  }
  T sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += (scores[j] = std::exp(scores[j] - mx));
  for (int64_t i = 0; i < hd; ++i) out[i] = 0;
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < n; ++j) axpy(scores[j] * inv, v + (j0 + j) * kv_stride, out, hd);
  *lse = mx + std::log(sum);
}

// One query head over all tokens: dq for that head, and its own dk/dv contributions
// (dkh, dvh [N, hd]) which the caller sums over the group in a fixed order.
template <class T>
void attention_backward_head(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse,
                             const int32_t* seg_start, const AttentionShape& s, int64_t h, T* dq, T* dkh, T* dvh) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv, g = h / group;
  const int64_t qs = s.n_head * hd, ks = s.n_head_kv * hd;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  for (int64_t t = 0; t < s.N; ++t) {
    const T* qt = q + t * qs + h * hd;
    const T* dot_ = dout + t * qs + h * hd;
    // D = Σ_j p_j·(dO·v_j) = dO·O: the softmax Jacobian's shared term.
    const T D = dot(dot_, out + t * qs + h * hd, hd);
    const T l = lse[t * s.n_head + h];
    T* dqt = dq + t * qs + h * hd;
    for (int64_t j = seg_start[t]; j <= t; ++j) {
      const T* kj = k + j * ks + g * hd;
      const T* vj = v + j * ks + g * hd;
      const T p = std::exp(dot(qt, kj, hd) * scale - l);
      const T ds = p * (dot(dot_, vj, hd) - D) * scale;
      axpy(ds, kj, dqt, hd);
      axpy(ds, qt, dkh + j * hd, hd);
      axpy(p, dot_, dvh + j * hd, hd);
    }
  }
}

}  // namespace

}  // namespace trellis::attention_detail
