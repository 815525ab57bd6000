// The register-blocked C[M,N] (+)= A[M,K]·B[K,N] kernel, written once with GCC vector
// extensions and compiled twice: gemm.cpp (baseline x86-64) and gemm_avx2.cpp (AVX2+FMA),
// chosen at run time. Included only by those two files.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace trellis::gemm_detail {

// Micro-tile: kMr rows of A times one vector-width column strip of width kNr.
constexpr int64_t kMr = 4;
constexpr int64_t kJobRows = 64;   // rows of C per work item
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
template <class T>
void micro_kernel(int64_t rows, int64_t w, int64_t K, const T* A, int64_t lda, const T* Bp, T* C, int64_t ldc,
                  bool accumulate) {
  using V = typename Vec<T>::type;
  constexpr int64_t kW = Vec<T>::kWidth, kNr = 2 * kW;
  V acc[kMr][2];
  for (int64_t i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = V{};
  const T* a[kMr];
  for (int64_t i = 0; i < kMr; ++i) a[i] = A + std::min(i, rows - 1) * lda;
  for (int64_t k = 0; k < K; ++k) {
    V b0, b1;
    std::memcpy(&b0, Bp + k * kNr, sizeof(V));
    std::memcpy(&b1, Bp + k * kNr + kW, sizeof(V));
    for (int64_t i = 0; i < kMr; ++i) {
      const T s = a[i][k];
      acc[i][0] += s * b0;
      acc[i][1] += s * b1;
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    T tmp[kNr];
    std::memcpy(tmp, &acc[i][0], sizeof(V));
    std::memcpy(tmp + kW, &acc[i][1], sizeof(V));
    T* c = C + i * ldc;
    if (accumulate) {
      for (int64_t j = 0; j < w; ++j) c[j] += tmp[j];
    } else {
      for (int64_t j = 0; j < w; ++j) c[j] = tmp[j];
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

}  // namespace trellis::gemm_detail
