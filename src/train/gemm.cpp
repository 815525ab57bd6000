#include "train/gemm.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "train/gemm_kernel.h"

namespace trellis {
namespace gemm_detail {
template <class T>
void gemm_block_avx512(int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc, bool accumulate,
                       int64_t m0, int64_t mc, int64_t n0, int64_t nc);
template <class T>
void gemm_block_avx2(int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc, bool accumulate,
                     int64_t m0, int64_t mc, int64_t n0, int64_t nc);
}  // namespace gemm_detail

namespace {

template <class T>
using BlockFn = void (*)(int64_t, const GemmOperand<T>&, const GemmOperand<T>&, T*, int64_t, bool, int64_t, int64_t,
                         int64_t, int64_t);

template <class T>
BlockFn<T> block_fn() {
  switch (active_isa()) {
    case Isa::Avx512: return &gemm_detail::gemm_block_avx512<T>;
    case Isa::Avx2: return &gemm_detail::gemm_block_avx2<T>;
    default: return &gemm_detail::gemm_block<T>;
  }
}

constexpr int64_t kMaxJobCols = 256;  // columns of C per work item: its packed B slice stays in L2
constexpr int64_t kMaxJobRows = 768;  // rows per work item: its A slice (768 × 256) stays in L2
// Work items are cut at multiples of every instruction set's micro-tile (6 or 8 rows, 16 or
// 32 columns), so only the last item of a row or column has a partial tile.
constexpr int64_t kRowGrain = 24, kColGrain = 32;

}  // namespace

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc,
          bool accumulate, ThreadPool* pool) {
  if (M <= 0 || N <= 0) return;
  const BlockFn<T> fn = block_fn<T>();
  // Work items are column blocks over all rows (up to kMaxJobRows), so the B operand
  // (usually a weight matrix streamed from memory) is packed once per call; their count is
  // rounded up to a multiple of the thread count so equal items keep every thread busy to
  // the end. Only when C is too narrow for that (LoRA's rank-wide products) are rows split.
  const bool parallel = pool && pool->size() > 1 && M * N * K >= (int64_t{1} << 18);
  const int64_t threads = parallel ? pool->size() : 1;
  const int64_t n_strips = (N + kColGrain - 1) / kColGrain, m_tiles = (M + kRowGrain - 1) / kRowGrain;
  int64_t nb = (N + kMaxJobCols - 1) / kMaxJobCols;
  nb = std::min((nb + threads - 1) / threads * threads, n_strips);
  int64_t mb = (M + kMaxJobRows - 1) / kMaxJobRows;
  if (nb < threads) mb = std::max(mb, std::min<int64_t>(4 * threads, m_tiles));
  mb = std::min(mb, m_tiles);
  // Item j covers strips [j·n_strips/nb, (j+1)·n_strips/nb): sizes differ by at most one strip.
  auto item = [&](int64_t j, int) {
    const int64_t bm = j / nb, bn = j % nb;
    const int64_t m0 = bm * m_tiles / mb * kRowGrain, m1 = std::min(M, (bm + 1) * m_tiles / mb * kRowGrain);
    const int64_t n0 = bn * n_strips / nb * kColGrain, n1 = std::min(N, (bn + 1) * n_strips / nb * kColGrain);
    if (m0 >= m1 || n0 >= n1) return;
    fn(K, A, B, C, ldc, accumulate, m0, m1 - m0, n0, n1 - n0);
  };
  if (parallel) {
    pool->parallel_for(mb * nb, item);
  } else {
    for (int64_t j = 0; j < mb * nb; ++j) item(j, 0);
  }
}

template <class T>
void gemm_nt(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  gemm<T>(M, N, K, {A, K, false}, {B, K, true}, C, N, accumulate, pool);
}

template <class T>
void gemm_nn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  gemm<T>(M, N, K, {A, K, false}, {B, N, false}, C, N, accumulate, pool);
}

template <class T>
void gemm_tn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool) {
  gemm<T>(M, N, K, {A, M, true}, {B, N, false}, C, N, accumulate, pool);
}

#define TRELLIS_GEMM_INSTANTIATE(T)                                                                              \
  template void gemm<T>(int64_t, int64_t, int64_t, const GemmOperand<T>&, const GemmOperand<T>&, T*, int64_t,  \
                        bool, ThreadPool*);                                                                      \
  template void gemm_nn<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*);              \
  template void gemm_nt<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*);              \
  template void gemm_tn<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, bool, ThreadPool*);
TRELLIS_GEMM_INSTANTIATE(float)
TRELLIS_GEMM_INSTANTIATE(double)

}  // namespace trellis
