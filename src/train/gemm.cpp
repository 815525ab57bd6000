#include "train/gemm.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "train/gemm_kernel.h"

namespace trellis {
namespace gemm_detail {
template <class T>
void nn_block_avx2(int64_t N, int64_t K, const T* A, const T* B, T* C, bool acc, int64_t m0, int64_t mc, int64_t n0,
                   int64_t nc);
}  // namespace gemm_detail

namespace {

template <class T>
using BlockFn = void (*)(int64_t, int64_t, const T*, const T*, T*, bool, int64_t, int64_t, int64_t, int64_t);

bool have_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

template <class T>
BlockFn<T> block_fn() {
  return have_avx2_fma() ? &gemm_detail::nn_block_avx2<T> : &gemm_detail::gemm_nn_block<T>;
}

template <class T>
void transpose(int64_t rows, int64_t cols, const T* src, std::vector<T>& dst) {
  dst.resize(static_cast<size_t>(rows * cols));
  constexpr int64_t kB = 32;  // blocked so both sides stay in cache
  for (int64_t r0 = 0; r0 < rows; r0 += kB) {
    for (int64_t c0 = 0; c0 < cols; c0 += kB) {
      for (int64_t r = r0; r < std::min(rows, r0 + kB); ++r) {
        for (int64_t c = c0; c < std::min(cols, c0 + kB); ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

}  // namespace

template <class T>
void gemm_nn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  using namespace gemm_detail;
  if (M <= 0 || N <= 0) return;
  const BlockFn<T> fn = block_fn<T>();
  // Work items are column blocks (each packs its B panel once) over as few row blocks as
  // give every thread work: repacking B for every row block was the main cost.
  const int64_t nb = (N + kJobCols - 1) / kJobCols;
  const int threads = pool ? pool->size() : 1;
  const int64_t m_tiles = (M + kMr - 1) / kMr;
  const int64_t mb = std::clamp<int64_t>((2 * threads + nb - 1) / nb, 1, m_tiles);
  const int64_t rows_per = (m_tiles + mb - 1) / mb * kMr;
  auto job = [&](int64_t j, int) {
    const int64_t bm = j / nb, bn = j % nb;
    const int64_t m0 = bm * rows_per, n0 = bn * kJobCols;
    if (m0 >= M) return;
    fn(N, K, A, B, C, accumulate, m0, std::min(rows_per, M - m0), n0, std::min(kJobCols, N - n0));
  };
  if (!pool || mb * nb == 1 || M * N * K < (1 << 16)) {
    for (int64_t j = 0; j < mb * nb; ++j) job(j, 0);
  } else {
    pool->parallel_for(mb * nb, job);
  }
}

template <class T>
void gemm_nt(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  thread_local std::vector<T> bt;
  transpose(N, K, B, bt);
  gemm_nn(M, N, K, A, bt.data(), C, accumulate, pool);
}

template <class T>
void gemm_tn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  thread_local std::vector<T> at;
  transpose(K, M, A, at);
  gemm_nn(M, N, K, at.data(), B, C, accumulate, pool);
}

#define TRELLIS_GEMM_INSTANTIATE(T)                                                                 \
  template void gemm_nn<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*); \
  template void gemm_nt<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*); \
  template void gemm_tn<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*);
TRELLIS_GEMM_INSTANTIATE(float)
TRELLIS_GEMM_INSTANTIATE(double)

}  // namespace trellis
