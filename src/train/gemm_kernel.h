// The register-blocked C[M,N] (+)= A[M,K]·B[K,N] kernel, written once with GCC vector
// extensions and compiled twice: gemm.cpp (baseline x86-64) and gemm_avx2.cpp (AVX2+FMA),
// chosen at run time. Included only by those two files.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace trellis::gemm_detail {
// Internal linkage: each including file (one per instruction set) keeps its own copy.
namespace {

// Micro-tile: kMr rows of A times one vector-width column strip of width kNr.
constexpr int64_t kMr = 6;
constexpr int64_t kJobCols = 128;  // columns of C per work item (B panel packed per item)

template <class T>
struct Vec {
  static constexpr int64_t kWidth = 32 / sizeof(T);
  typedef T type __attribute__((vector_size(32), aligned(sizeof(T))));
};

// Packs B[K, n0:n0+nc] into strips of kNr columns: strip s holds K rows of kNr values
// (zero-padded on the right), so the micro-kernel reads it contiguously.
template <class T>
void pack_b(const T* B, int64_t N, int64_t K, int64_t n0, int64_t nc, T* out) {
  constexpr int64_t kNr = Vec<T>::kWidth * 2;
  for (int64_t s = 0; s * kNr < nc; ++s) {
    const int64_t w = std::min(kNr, nc - s * kNr);
    T* dst = out + s * K * kNr;
    for (int64_t k = 0; k < K; ++k) {
      const T* src = B + k * N + n0 + s * kNr;
      for (int64_t j = 0; j < w; ++j) dst[k * kNr + j] = src[j];
      for (int64_t j = w; j < kNr; ++j) dst[k * kNr + j] = T(0);
    }
  }
}

// rows (<= kMr) rows of A times one packed strip; writes w (<= kNr) columns of C.
// Accumulators are only ever indexed with constants after unrolling and never have their
// address taken, so they stay in registers.
template <class T>
void micro_kernel(int64_t rows, int64_t w, int64_t K, const T* A, int64_t lda, const T* Bp, T* C, int64_t ldc,
                  bool accumulate) {
  using V = typename Vec<T>::type;
  constexpr int64_t kW = Vec<T>::kWidth, kNr = 2 * kW;
  V acc0[kMr], acc1[kMr];
  const T* a[kMr];
#pragma GCC unroll 8
  for (int64_t i = 0; i < kMr; ++i) {
    acc0[i] = acc1[i] = V{};
    a[i] = A + std::min(i, rows - 1) * lda;
  }
  for (int64_t k = 0; k < K; ++k) {
    const V b0 = *reinterpret_cast<const V*>(Bp + k * kNr);
    const V b1 = *reinterpret_cast<const V*>(Bp + k * kNr + kW);
#pragma GCC unroll 8
    for (int64_t i = 0; i < kMr; ++i) {
      const T s = a[i][k];
      acc0[i] += s * b0;
      acc1[i] += s * b1;
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < w; ++j) {
      const T v = j < kW ? acc0[i][j] : acc1[i][j - kW];
      c[j] = accumulate ? c[j] + v : v;
    }
  }
}

// One work item: C[m0:m0+mc, n0:n0+nc].
template <class T>
void gemm_nn_block(int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, int64_t m0, int64_t mc,
                   int64_t n0, int64_t nc) {
  constexpr int64_t kNr = Vec<T>::kWidth * 2;
  thread_local std::vector<T> packed;
  const int64_t strips = (nc + kNr - 1) / kNr;
  if (static_cast<int64_t>(packed.size()) < strips * K * kNr) packed.resize(static_cast<size_t>(strips * K * kNr));
  pack_b(B, N, K, n0, nc, packed.data());
  for (int64_t m = m0; m < m0 + mc; m += kMr) {
    const int64_t rows = std::min(kMr, m0 + mc - m);
    for (int64_t s = 0; s < strips; ++s) {
      const int64_t w = std::min(kNr, nc - s * kNr);
      micro_kernel(rows, w, K, A + m * K, K, packed.data() + s * K * kNr, C + m * N + n0 + s * kNr, N, accumulate);
    }
  }
}

}  // namespace
}  // namespace trellis::gemm_detail
