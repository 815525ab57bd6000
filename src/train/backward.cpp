#include "train/backward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "train/attention_kernel.h"
#include "train/attention_rows.h"
#include "train/gemm.h"

namespace trellis {

// ---------------------------------------------------------------- RMSNorm

template <class T>
void rmsnorm_forward(const T* x, const T* w, T* out, T* rstd, int64_t N, int64_t C, T eps) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    double ss = 0.0;  // double like the inference kernel, so training sees the same numbers
    for (int64_t i = 0; i < C; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const T r = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(C) + static_cast<double>(eps)));
    rstd[n] = r;
    for (int64_t i = 0; i < C; ++i) out[n * C + i] = xr[i] * r * w[i];
  }
}

template <class T>
void rmsnorm_backward(const T* dout, const T* x, const T* w, const T* rstd, T* dx, T* dw, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    const T* g = dout + n * C;
    const T r = rstd[n];
    // y_i = x_i·r·w_i and dr/dx_j = -x_j·r³/C, so dx_j = r·w_j·g_j − x_j·r³/C·Σ_i g_i·w_i·x_i.
    double dot = 0.0;
    for (int64_t i = 0; i < C; ++i) dot += static_cast<double>(g[i]) * w[i] * xr[i];
    const T coef = static_cast<T>(dot * r * r * r / static_cast<double>(C));
    for (int64_t i = 0; i < C; ++i) dx[n * C + i] += r * w[i] * g[i] - xr[i] * coef;
    if (dw) {
      for (int64_t i = 0; i < C; ++i) dw[i] += g[i] * xr[i] * r;
    }
  }
}

// ---------------------------------------------------------------- RoPE

namespace {

template <class T>
void rope_rotate(T* x, const int32_t* pos, int64_t N, int64_t H, int64_t hd, int64_t rope_dim, const float* inv_freq,
                 RopeStyle style, double direction) {
  const int64_t half = rope_dim / 2;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos[n]) * inv_freq[i];
      // Same rounding as kernels/ops.cpp's rope() for float, so training matches inference.
      const T c = static_cast<T>(std::cos(angle));
      const T s = static_cast<T>(direction * std::sin(angle));
      const int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
      const int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
      for (int64_t h = 0; h < H; ++h) {
        T* v = x + n * H * hd + h * hd;
        const T x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace

template <class T>
void rope_forward(T* x, const int32_t* pos, int64_t N, int64_t H, int64_t hd, int64_t rope_dim, const float* inv_freq,
                  RopeStyle style) {
  rope_rotate(x, pos, N, H, hd, rope_dim, inv_freq, style, 1.0);
}

template <class T>
void rope_backward(T* dx, const int32_t* pos, int64_t N, int64_t H, int64_t hd, int64_t rope_dim,
                   const float* inv_freq, RopeStyle style) {
  rope_rotate(dx, pos, N, H, hd, rope_dim, inv_freq, style, -1.0);
}

// ---------------------------------------------------------------- attention

template <class T>
void attention_forward_reference(const T* q, const T* k, const T* v, const int32_t* seg_start, const AttentionShape& s,
                                 T* out, T* lse, ThreadPool* pool) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int64_t qs = s.n_head * hd, ks = s.n_head_kv * hd;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  auto job = [&](int64_t idx, int) {
    thread_local std::vector<T> scores;
    const int64_t t = idx / s.n_head, h = idx % s.n_head, g = h / group;
    attention_detail::attend_one(q + t * qs + h * hd, k + g * hd, v + g * hd, seg_start[t], t, ks, hd, scale, scores,
               out + t * qs + h * hd, lse + t * s.n_head + h);
  };
  if (pool) {
    pool->parallel_for(s.N * s.n_head, job);
  } else {
    for (int64_t i = 0; i < s.N * s.n_head; ++i) job(i, 0);
  }
}

template <class T>
void attention_backward_reference(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse,
                                  const int32_t* seg_start, const AttentionShape& s, T* dq, T* dk, T* dv,
                                  ThreadPool* pool) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv, ks = s.n_head_kv * hd;
  const auto per_head = static_cast<size_t>(s.N * hd);
  // Reused between calls: fresh multi-megabyte buffers cost page faults every layer.
  // (Pointers, not the thread_local names, go into the job: a worker would see its own.)
  thread_local std::vector<T> dkh_buf, dvh_buf;
  dkh_buf.assign(per_head * s.n_head, T(0));
  dvh_buf.assign(per_head * s.n_head, T(0));
  T* const dkh = dkh_buf.data();
  T* const dvh = dvh_buf.data();
  auto job = [&](int64_t h, int) {
    attention_detail::attention_backward_head(dout, q, k, v, out, lse, seg_start, s, h, dq, dkh + h * per_head, dvh + h * per_head);
  };
  if (pool) {
    pool->parallel_for(s.n_head, job);
  } else {
    for (int64_t h = 0; h < s.n_head; ++h) job(h, 0);
  }
  for (int64_t h = 0; h < s.n_head; ++h) {  // fixed order: reproducible sums
    const int64_t g = h / group;
    for (int64_t t = 0; t < s.N; ++t) {
      for (int64_t i = 0; i < hd; ++i) {
        dk[t * ks + g * hd + i] += dkh[h * per_head + t * hd + i];
        dv[t * ks + g * hd + i] += dvh[h * per_head + t * hd + i];
      }
    }
  }
}

// ---------------------------------------------------------------- SwiGLU

template <class T>
void swiglu_forward(const T* gate, const T* up, T* h, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] = gate[i] / (T(1) + std::exp(-gate[i])) * up[i];
}

template <class T>
void swiglu_backward(const T* dh, const T* gate, const T* up, T* dgate, T* dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T sig = T(1) / (T(1) + std::exp(-gate[i]));
    const T silu = gate[i] * sig;
    dgate[i] += dh[i] * up[i] * sig * (T(1) + gate[i] * (T(1) - sig));
    dup[i] += dh[i] * silu;
  }
}

// ---------------------------------------------------------------- LoRA linear

template <class T>
void lora_linear_forward(const T* x, const T* xl, const T* W, const T* A, const T* B, T scale, const LoraShape& s,
                         T* u, T* y, ThreadPool* pool) {
  gemm_nt(s.N, s.out, s.in, x, W, y, false, pool);
  if (!A) return;
  gemm_nt(s.N, s.rank, s.in, xl, A, u, false, pool);
  // y += scale·u·Bᵀ: scale folded into a copy of u (N·r values) rather than into y.
  std::vector<T> us(u, u + s.N * s.rank);
  for (auto& e : us) e *= scale;
  gemm_nt(s.N, s.out, s.rank, us.data(), B, y, true, pool);
}

template <class T>
void lora_linear_backward(const T* dy, const T* xl, const T* W, const T* A, const T* B, const T* u, T scale,
                          const LoraShape& s, T* dx, T* dxl, T* dA, T* dB, T* scratch, ThreadPool* pool) {
  gemm_nn(s.N, s.in, s.out, dy, W, dx, true, pool);  // base: dx += dy·W
  if (!A) return;
  T* g = scratch;                  // [N,r] = scale·dy·B: gradient at u
  T* us = scratch + s.N * s.rank;  // [N,r] = scale·u
  gemm_nn(s.N, s.rank, s.out, dy, B, g, false, pool);
  for (int64_t i = 0; i < s.N * s.rank; ++i) {
    g[i] *= scale;
    us[i] = u[i] * scale;
  }
  if (dA) gemm_tn(s.rank, s.in, s.N, g, xl, dA, true, pool);  // dA += gᵀ·xl
  if (dB) gemm_tn(s.out, s.rank, s.N, dy, us, dB, true, pool);  // dB += dyᵀ·(scale·u)
  gemm_nn(s.N, s.in, s.rank, g, A, dxl ? dxl : dx, true, pool);  // dxl += g·A
}

template <class T>
void linear_weight_backward(const T* dy, const T* x, int64_t N, int64_t in, int64_t out, T* dW, ThreadPool* pool) {
  gemm_tn(out, in, N, dy, x, dW, true, pool);
}

// ---------------------------------------------------------------- cross-entropy

namespace {
template <class T>
double row_lse(const T* x, int64_t V) {
  T mx = x[0];
  for (int64_t i = 1; i < V; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(x[i] - mx));
  return std::log(sum) + static_cast<double>(mx);
}
}  // namespace

template <class T>
double cross_entropy_forward(const T* logits, const int32_t* targets, int64_t N, int64_t V) {
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] < 0) continue;
    total += row_lse(logits + n * V, V) - static_cast<double>(logits[n * V + targets[n]]);
  }
  return total;
}

template <class T>
void cross_entropy_backward(const T* logits, const int32_t* targets, int64_t N, int64_t V, T weight, T* dlogits) {
  for (int64_t n = 0; n < N; ++n) {
    T* d = dlogits + n * V;
    if (targets[n] < 0) {
      std::fill(d, d + V, T(0));
      continue;
    }
    const double lse = row_lse(logits + n * V, V);
    for (int64_t i = 0; i < V; ++i) d[i] = weight * static_cast<T>(std::exp(static_cast<double>(logits[n * V + i]) - lse));
    d[targets[n]] -= weight;
  }
}

namespace {
// Σ exp(x_i − shift), x overwritten with the exponentials.
template <class T>
double exp_shifted_sum(T* x, int64_t V, T shift) {
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < V; i0 += 1024) {
    sum += attention_rows::exp_row(x + i0, std::min<int64_t>(1024, V - i0), T(1), shift);
  }
  return sum;
}
}  // namespace

template <class T>
double cross_entropy_fused(T* logits, const int32_t* targets, int64_t N, int64_t V, T weight, ThreadPool* pool) {
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  auto row = [&](int64_t n, int) {
    T* d = logits + n * V;
    if (targets[n] < 0) {
      std::fill(d, d + V, T(0));
      return;
    }
    const T target_logit = d[targets[n]];
    const T mx = *std::max_element(d, d + V);
    const double sum = exp_shifted_sum(d, V, mx);
    row_loss[n] = static_cast<double>(mx) + std::log(sum) - static_cast<double>(target_logit);
    const T c = static_cast<T>(static_cast<double>(weight) / sum);
    for (int64_t i = 0; i < V; ++i) d[i] *= c;
    d[targets[n]] -= weight;
  };
  if (pool && N > 1) {
    pool->parallel_for(N, row);
  } else {
    for (int64_t n = 0; n < N; ++n) row(n, 0);
  }
  double total = 0.0;
  for (double l : row_loss) total += l;  // in row order: reproducible
  return total;
}

#define TRELLIS_BACKWARD_INSTANTIATE(T)                                                                              \
  template void rmsnorm_forward<T>(const T*, const T*, T*, T*, int64_t, int64_t, T);                                 \
  template void rmsnorm_backward<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t, int64_t);               \
  template void rope_forward<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, const float*, RopeStyle);    \
  template void rope_backward<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, const float*, RopeStyle);   \
  template void attention_forward_reference<T>(const T*, const T*, const T*, const int32_t*, const AttentionShape&, \
                                               T*, T*, ThreadPool*);                                                 \
  template void attention_backward_reference<T>(const T*, const T*, const T*, const T*, const T*, const T*,        \
                                                const int32_t*, const AttentionShape&, T*, T*, T*, ThreadPool*);     \
  template void swiglu_forward<T>(const T*, const T*, T*, int64_t);                                                  \
  template void swiglu_backward<T>(const T*, const T*, const T*, T*, T*, int64_t);                                   \
  template void lora_linear_forward<T>(const T*, const T*, const T*, const T*, const T*, T, const LoraShape&, T*, T*, \
                                       ThreadPool*);                                                                 \
  template void lora_linear_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, T,               \
                                        const LoraShape&, T*, T*, T*, T*, T*, ThreadPool*);                          \
  template void linear_weight_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, T*, ThreadPool*);           \
  template double cross_entropy_forward<T>(const T*, const int32_t*, int64_t, int64_t);                              \
  template void cross_entropy_backward<T>(const T*, const int32_t*, int64_t, int64_t, T, T*);                        \
  template double cross_entropy_fused<T>(T*, const int32_t*, int64_t, int64_t, T, ThreadPool*);
TRELLIS_BACKWARD_INSTANTIATE(float)
TRELLIS_BACKWARD_INSTANTIATE(double)

}  // namespace trellis
