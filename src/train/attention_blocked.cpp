// Causal attention of the training pass in blocks of kBlock queries (or keys), so the work
// is dense matrix products (train/gemm) instead of per-row dot products, and no N×N matrix
// is ever held: a block's scores are kBlock × (its key range).
//
// Forward, one work item per (head, query block): S = Q·Kᵀ over the block's key range,
// masked softmax rows (lse kept), O = P·V.
// Backward, two passes so every gradient element has exactly one writer (reproducible sums
// without per-thread partials):
//   A. per (head, query block): recompute P from lse, dP = dO·Vᵀ, dS = P∘(dP − D)·scale,
//      dQ = dS·K                                   (D = rowsum(dO∘O), the softmax Jacobian term)
//   B. per (KV head, key block), over the heads of its group in order: the same P and dS
//      transposed (rows = keys), dV = Pᵀ·dO, dK = dSᵀ·Q.
// The per-row code in backward.cpp (attention_*_reference) is the scalar reference.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "train/attention_rows.h"
#include "train/backward.h"
#include "train/gemm.h"

namespace trellis {
namespace {

constexpr int64_t kBlock = 64;

using attention_rows::exp_row;
using attention_rows::exp_row_cols;
using attention_rows::grad_row;
using attention_rows::grad_row_cols;

// Zeroes row[0, lo) and row[hi, n): the masked (other segment / future) entries.
template <class T>
void zero_outside(T* row, int64_t lo, int64_t hi, int64_t n) {
  std::fill(row, row + lo, T(0));
  std::fill(row + hi, row + n, T(0));
}

// x [N, H*hd] -> xh [H][N][hd], so a head's rows are one contiguous matrix.
template <class T>
void split_heads(const T* x, int64_t N, int64_t H, int64_t hd, T* xh) {
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t h = 0; h < H; ++h) std::copy_n(x + (t * H + h) * hd, hd, xh + (h * N + t) * hd);
  }
}

void run_items(int64_t n, ThreadPool* pool, const std::function<void(int64_t, int)>& item) {
  if (pool && n > 1) {
    pool->parallel_for(n, item);
  } else {
    for (int64_t i = 0; i < n; ++i) item(i, 0);
  }
}

// Head-major copies of one call's inputs, reused between calls (multi-megabyte buffers
// allocated per layer would page-fault every time).
template <class T>
struct HeadMajor {
  std::vector<T> buf;
  T *q = nullptr, *k = nullptr, *v = nullptr, *dout = nullptr, *d = nullptr, *lse = nullptr;
  std::vector<int64_t> seg_end;  // one past the last token of t's segment

  void fill(const T* q_in, const T* k_in, const T* v_in, const int32_t* seg_start, const AttentionShape& s,
            bool backward) {
    const int64_t N = s.N, H = s.n_head, G = s.n_head_kv, hd = s.head_dim;
    buf.resize(static_cast<size_t>(N * hd * (H + 2 * G) + (backward ? N * hd * H + 2 * N * H : 0)));
    q = buf.data();
    k = q + N * H * hd;
    v = k + N * G * hd;
    split_heads(q_in, N, H, hd, q);
    split_heads(k_in, N, G, hd, k);
    split_heads(v_in, N, G, hd, v);
    if (backward) {
      dout = v + N * G * hd;
      d = dout + N * H * hd;
      lse = d + N * H;
    }
    seg_end.resize(static_cast<size_t>(N));
    for (int64_t t = N - 1; t >= 0; --t) {
      assert(seg_start[t] <= t && (t == 0 || seg_start[t] >= seg_start[t - 1]));
      seg_end[t] = (t + 1 < N && seg_start[t + 1] == seg_start[t]) ? seg_end[t + 1] : t + 1;
    }
  }
};

template <class T>
struct BlockScratch {
  std::vector<T> s, dp, o, dk, dv;
  std::vector<T> inv;
};

template <class T>
BlockScratch<T>& block_scratch() {
  thread_local BlockScratch<T> scratch;
  return scratch;
}

// One (head h, query block) of the forward.
template <class T>
void forward_block(const HeadMajor<T>& hm, const int32_t* seg_start, const AttentionShape& s, int64_t h, int64_t b,
                   T* out, T* lse) {
  const int64_t N = s.N, H = s.n_head, hd = s.head_dim, g = h / (H / s.n_head_kv);
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  const int64_t q0 = b * kBlock, q1 = std::min(N, q0 + kBlock), nr = q1 - q0;
  const int64_t j0 = seg_start[q0], nc = q1 - j0;
  BlockScratch<T>& w = block_scratch<T>();
  w.s.resize(static_cast<size_t>(nr * nc));
  w.o.resize(static_cast<size_t>(nr * hd));
  w.inv.resize(static_cast<size_t>(nr));
  gemm_nt(nr, nc, hd, hm.q + (h * N + q0) * hd, hm.k + (g * N + j0) * hd, w.s.data(), false, nullptr);
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t t = q0 + r, lo = seg_start[t] - j0, hi = t - j0 + 1;
    T* row = w.s.data() + r * nc;
    const T mx = *std::max_element(row + lo, row + hi);
    const T sum = exp_row(row + lo, hi - lo, scale, mx * scale);
    zero_outside(row, lo, hi, nc);
    w.inv[r] = T(1) / sum;
    lse[t * H + h] = mx * scale + std::log(sum);
  }
  gemm_nn(nr, hd, nc, w.s.data(), hm.v + (g * N + j0) * hd, w.o.data(), false, nullptr);
  for (int64_t r = 0; r < nr; ++r) {
    T* dst = out + ((q0 + r) * H + h) * hd;
    for (int64_t i = 0; i < hd; ++i) dst[i] = w.o[r * hd + i] * w.inv[r];
  }
}

// Pass A: one (head h, query block): dq rows of the block.
template <class T>
void backward_query_block(const HeadMajor<T>& hm, const int32_t* seg_start, const AttentionShape& s, int64_t h,
                          int64_t b, T* dq) {
  const int64_t N = s.N, H = s.n_head, hd = s.head_dim, g = h / (H / s.n_head_kv);
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  const int64_t q0 = b * kBlock, q1 = std::min(N, q0 + kBlock), nr = q1 - q0;
  const int64_t j0 = seg_start[q0], nc = q1 - j0;
  const T* K = hm.k + (g * N + j0) * hd;
  BlockScratch<T>& w = block_scratch<T>();
  w.s.resize(static_cast<size_t>(nr * nc));
  w.dp.resize(static_cast<size_t>(nr * nc));
  w.o.resize(static_cast<size_t>(nr * hd));
  gemm_nt(nr, nc, hd, hm.q + (h * N + q0) * hd, K, w.s.data(), false, nullptr);
  gemm_nt(nr, nc, hd, hm.dout + (h * N + q0) * hd, hm.v + (g * N + j0) * hd, w.dp.data(), false, nullptr);
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t t = q0 + r, lo = seg_start[t] - j0, hi = t - j0 + 1;
    T* p = w.s.data() + r * nc;
    T* dp = w.dp.data() + r * nc;
    exp_row(p + lo, hi - lo, scale, hm.lse[h * N + t]);
    grad_row(p + lo, dp + lo, hi - lo, scale, hm.d[h * N + t]);
    zero_outside(dp, lo, hi, nc);
  }
  gemm_nn(nr, hd, nc, w.dp.data(), K, w.o.data(), false, nullptr);
  for (int64_t r = 0; r < nr; ++r) {
    T* dst = dq + ((q0 + r) * H + h) * hd;
    for (int64_t i = 0; i < hd; ++i) dst[i] += w.o[r * hd + i];
  }
}

// Pass B: one (KV head g, key block): dk, dv rows of the block, summed over g's query heads
// in order. Rows are keys j, columns the queries t in [k0, end of the last key's segment);
// (j, t) is live when j <= t < seg_end[j].
template <class T>
void backward_key_block(const HeadMajor<T>& hm, const AttentionShape& s, int64_t g, int64_t b, T* dk, T* dv) {
  const int64_t N = s.N, G = s.n_head_kv, hd = s.head_dim, group = s.n_head / G;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  const int64_t k0 = b * kBlock, k1 = std::min(N, k0 + kBlock), nk = k1 - k0;
  const int64_t nt = hm.seg_end[k1 - 1] - k0;
  const T* Kb = hm.k + (g * N + k0) * hd;
  const T* Vb = hm.v + (g * N + k0) * hd;
  BlockScratch<T>& w = block_scratch<T>();
  w.s.resize(static_cast<size_t>(nk * nt));
  w.dp.resize(static_cast<size_t>(nk * nt));
  w.dk.assign(static_cast<size_t>(nk * hd), T(0));
  w.dv.assign(static_cast<size_t>(nk * hd), T(0));
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    const T* Q = hm.q + (h * N + k0) * hd;
    const T* dO = hm.dout + (h * N + k0) * hd;
    gemm_nt(nk, nt, hd, Kb, Q, w.s.data(), false, nullptr);
    gemm_nt(nk, nt, hd, Vb, dO, w.dp.data(), false, nullptr);
    for (int64_t r = 0; r < nk; ++r) {
      const int64_t j = k0 + r, lo = r, hi = hm.seg_end[j] - k0;
      T* p = w.s.data() + r * nt;
      T* dp = w.dp.data() + r * nt;
      exp_row_cols(p + lo, hi - lo, scale, hm.lse + h * N + k0 + lo);
      zero_outside(p, lo, hi, nt);
      grad_row_cols(p + lo, dp + lo, hi - lo, scale, hm.d + h * N + k0 + lo);
      zero_outside(dp, lo, hi, nt);
    }
    gemm_nn(nk, hd, nt, w.s.data(), dO, w.dv.data(), true, nullptr);
    gemm_nn(nk, hd, nt, w.dp.data(), Q, w.dk.data(), true, nullptr);
  }
  for (int64_t r = 0; r < nk; ++r) {
    T* dkr = dk + ((k0 + r) * G + g) * hd;
    T* dvr = dv + ((k0 + r) * G + g) * hd;
    for (int64_t i = 0; i < hd; ++i) {
      dkr[i] += w.dk[r * hd + i];
      dvr[i] += w.dv[r * hd + i];
    }
  }
}

}  // namespace

template <class T>
void attention_forward(const T* q, const T* k, const T* v, const int32_t* seg_start, const AttentionShape& s, T* out,
                       T* lse, ThreadPool* pool) {
  if (s.N <= 0) return;
  thread_local HeadMajor<T> hm;
  hm.fill(q, k, v, seg_start, s, false);
  const int64_t nb = (s.N + kBlock - 1) / kBlock, H = s.n_head;
  const HeadMajor<T>* m = &hm;  // a worker's thread_local would be its own, empty one
  // Later query blocks see more keys: handed out first so the last items are the short ones.
  run_items(H * nb, pool, [&](int64_t i, int) { forward_block(*m, seg_start, s, i % H, nb - 1 - i / H, out, lse); });
}

template <class T>
void attention_backward(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse,
                        const int32_t* seg_start, const AttentionShape& s, T* dq, T* dk, T* dv, ThreadPool* pool) {
  if (s.N <= 0) return;
  const int64_t N = s.N, H = s.n_head, G = s.n_head_kv, hd = s.head_dim;
  thread_local HeadMajor<T> hm;
  hm.fill(q, k, v, seg_start, s, true);
  split_heads(dout, N, H, hd, hm.dout);
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const T* a = dout + (t * H + h) * hd;
      const T* o = out + (t * H + h) * hd;
      T d = 0;
      for (int64_t i = 0; i < hd; ++i) d += a[i] * o[i];
      hm.d[h * N + t] = d;
      hm.lse[h * N + t] = lse[t * H + h];
    }
  }
  const int64_t nb = (N + kBlock - 1) / kBlock;
  const HeadMajor<T>* m = &hm;
  run_items(H * nb, pool, [&](int64_t i, int) { backward_query_block(*m, seg_start, s, i % H, nb - 1 - i / H, dq); });
  // Earlier key blocks see more queries: first.
  run_items(G * nb, pool, [&](int64_t i, int) { backward_key_block(*m, s, i % G, i / G, dk, dv); });
}

#define TRELLIS_ATTENTION_INSTANTIATE(T)                                                                             \
  template void attention_forward<T>(const T*, const T*, const T*, const int32_t*, const AttentionShape&, T*, T*,   \
                                     ThreadPool*);                                                                    \
  template void attention_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, const int32_t*,   \
                                      const AttentionShape&, T*, T*, T*, ThreadPool*);
TRELLIS_ATTENTION_INSTANTIATE(float)
TRELLIS_ATTENTION_INSTANTIATE(double)

}  // namespace trellis
