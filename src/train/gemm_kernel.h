// The packed, register-blocked C[M,N] (+)= op(A)[M,K]·op(B)[K,N] of train/gemm, written once
// with GCC vector extensions and compiled twice: gemm.cpp (baseline x86-64) and
// gemm_avx2.cpp (AVX2+FMA), chosen at run time. Included only by those two files.
//
// One work item computes a block of C. For each slice of kKc values of K it packs op(B)'s
// slice into strips of kNr columns and, when A is transposed, op(A)'s into panels of kMr
// rows (transposed operands are read in place while packing: no separate transpose pass),
// then runs the micro-kernel over strip × panel pairs. Every element of C sums its K products in the same
// order whatever the blocking of M and N, so results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "train/gemm.h"

namespace trellis::gemm_detail {
// Internal linkage: each including file (one per instruction set) keeps its own copy.
namespace {

// The including file may choose the vector size (bytes) and the micro-tile's rows.
#ifndef TRELLIS_GEMM_VECTOR_BYTES
#define TRELLIS_GEMM_VECTOR_BYTES 32
#endif
#ifndef TRELLIS_GEMM_MR
#define TRELLIS_GEMM_MR 6
#endif
constexpr int64_t kMr = TRELLIS_GEMM_MR;  // rows of a micro-tile
constexpr int64_t kKc = 256;  // K slice: a B strip (kKc × kNr) stays in L1/L2, A panels in L2

template <class T>
struct Vec {
  static constexpr int64_t kWidth = TRELLIS_GEMM_VECTOR_BYTES / sizeof(T);
  static constexpr int64_t kNr = 2 * kWidth;  // columns of a micro-tile
  typedef T type __attribute__((vector_size(TRELLIS_GEMM_VECTOR_BYTES), aligned(sizeof(T))));
};

// Rows [m0, m0+mc) × K slice [k0, k0+kc) of op(A) -> panels of kMr rows: panel p holds kc
// groups of kMr values (zero rows past mc), so the micro-kernel reads one stream.
template <class T>
void pack_a(const GemmOperand<T>& A, int64_t m0, int64_t mc, int64_t k0, int64_t kc, T* out) {
  for (int64_t p = 0; p * kMr < mc; ++p) {
    const int64_t rows = std::min(kMr, mc - p * kMr), r0 = m0 + p * kMr;
    T* dst = out + p * kc * kMr;
    if (!A.trans) {  // element (m, k) at p[m·ld + k]: each row is contiguous in k
      for (int64_t i = 0; i < rows; ++i) {
        const T* src = A.data + (r0 + i) * A.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * kMr + i] = src[k];
      }
    } else {  // element (m, k) at p[k·ld + m]: each k holds the panel's rows contiguously
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = A.data + (k0 + k) * A.ld + r0;
        if (rows == kMr) {  // fixed size: vector moves
          std::memcpy(dst + k * kMr, src, sizeof(T) * kMr);
          continue;
        }
        for (int64_t i = 0; i < rows; ++i) dst[k * kMr + i] = src[i];
      }
    }
    for (int64_t i = rows; i < kMr; ++i) {
      for (int64_t k = 0; k < kc; ++k) dst[k * kMr + i] = T(0);
    }
  }
}

// 8 rows of n floats (ld apart) -> n rows of 8 (ld_out apart): dst[k·ld_out + r] = src[r·ld + k].
// 8 × 8 blocks transposed in registers (the unpack / shuffle / lane-swap sequence), the
// tail of k one value at a time.
inline void transpose_rows_8(const float* src, int64_t ld, int64_t n, float* dst, int64_t ld_out) {
  typedef float V8 __attribute__((vector_size(32), aligned(4)));
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    V8 r[8];
    for (int i = 0; i < 8; ++i) std::memcpy(&r[i], src + i * ld + k, sizeof(V8));
    V8 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
      t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
      u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; ++i) {  // column i from u[i] (rows 0-3) and u[i + 4] (rows 4-7)
      const V8 lo = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
      const V8 hi = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
      std::memcpy(dst + (k + i) * ld_out, &lo, sizeof(V8));
      std::memcpy(dst + (k + i + 4) * ld_out, &hi, sizeof(V8));
    }
  }
  for (; k < n; ++k) {
    for (int i = 0; i < 8; ++i) dst[k * ld_out + i] = src[i * ld + k];
  }
}

// K slice [k0, k0+kc) × columns [n0, n0+nc) of op(B) -> strips of kNr columns (zero columns
// past nc): strip s holds kc rows of kNr values.
template <class T>
void pack_b(const GemmOperand<T>& B, int64_t k0, int64_t kc, int64_t n0, int64_t nc, T* out) {
  constexpr int64_t kNr = Vec<T>::kNr;
  for (int64_t s = 0; s * kNr < nc; ++s) {
    const int64_t w = std::min(kNr, nc - s * kNr), c0 = n0 + s * kNr;
    T* dst = out + s * kc * kNr;
    if (!B.trans) {  // element (k, n) at p[k·ld + n]
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = B.data + (k0 + k) * B.ld + c0;
        if (w == kNr) {  // a fixed-size copy the compiler turns into vector moves
          std::memcpy(dst + k * kNr, src, sizeof(T) * kNr);
          continue;
        }
        for (int64_t j = 0; j < w; ++j) dst[k * kNr + j] = src[j];
        for (int64_t j = w; j < kNr; ++j) dst[k * kNr + j] = T(0);
      }
    } else {  // element (k, n) at p[n·ld + k]: a weight row per column
      int64_t j = 0;
      if constexpr (std::is_same_v<T, float>) {
        for (; j + 8 <= w; j += 8) transpose_rows_8(B.data + (c0 + j) * B.ld + k0, B.ld, kc, dst + j, kNr);
      }
      for (; j < w; ++j) {
        const T* src = B.data + (c0 + j) * B.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = src[k];
      }
      for (; j < kNr; ++j) {
        for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = T(0);
      }
    }
  }
}

// One kMr × kNr tile over a K slice: C (+)= A·Bp; writes `rows` × `w` of it. A is a packed
// panel (kPackedA: kMr values per k) or, for an untransposed operand, its rows read in
// place (lda apart; rows past `rows` repeat the last one and are not stored).
// Accumulators are only indexed with constants after unrolling, so they stay in registers.
template <class T, bool kPackedA>
void micro_kernel(int64_t kc, const T* A, int64_t lda, const T* Bp, T* C, int64_t ldc, int64_t rows, int64_t w,
                  bool accumulate) {
  using V = typename Vec<T>::type;
  constexpr int64_t kW = Vec<T>::kWidth, kNr = Vec<T>::kNr;
  V acc0[kMr], acc1[kMr];
  const T* a_row[kMr];
#pragma GCC unroll 8
  for (int64_t i = 0; i < kMr; ++i) {
    acc0[i] = acc1[i] = V{};
    a_row[i] = A + std::min(i, rows - 1) * lda;
  }
  for (int64_t k = 0; k < kc; ++k) {
    const V b0 = *reinterpret_cast<const V*>(Bp + k * kNr);
    const V b1 = *reinterpret_cast<const V*>(Bp + k * kNr + kW);
#pragma GCC unroll 8
    for (int64_t i = 0; i < kMr; ++i) {
      const T a = kPackedA ? A[k * kMr + i] : a_row[i][k];
      acc0[i] += a * b0;
      acc1[i] += a * b1;
    }
  }
  if (rows == kMr && w == kNr) {
#pragma GCC unroll 8
    for (int64_t i = 0; i < kMr; ++i) {
      T* c = C + i * ldc;
      V c0 = acc0[i], c1 = acc1[i];
      if (accumulate) {
        V o0, o1;
        std::memcpy(&o0, c, sizeof o0);
        std::memcpy(&o1, c + kW, sizeof o1);
        c0 += o0;
        c1 += o1;
      }
      std::memcpy(c, &c0, sizeof c0);
      std::memcpy(c + kW, &c1, sizeof c1);
    }
    return;
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
void gemm_block(int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc, bool accumulate,
                int64_t m0, int64_t mc, int64_t n0, int64_t nc) {
  constexpr int64_t kNr = Vec<T>::kNr;
  thread_local std::vector<T> a_pack, b_pack;
  const int64_t panels = (mc + kMr - 1) / kMr, strips = (nc + kNr - 1) / kNr;
  const int64_t kc_max = std::min(kKc, K);
  if (A.trans) a_pack.resize(static_cast<size_t>(panels * kMr * kc_max));
  b_pack.resize(static_cast<size_t>(strips * kNr * kc_max));
  if (K == 0 && !accumulate) {
    for (int64_t i = m0; i < m0 + mc; ++i) std::fill(C + i * ldc + n0, C + i * ldc + n0 + nc, T(0));
  }
  for (int64_t k0 = 0; k0 < K; k0 += kKc) {
    const int64_t kc = std::min(kKc, K - k0);
    const bool acc = accumulate || k0 > 0;
    pack_b(B, k0, kc, n0, nc, b_pack.data());
    // An untransposed A is read in place (its rows are already contiguous in k); a
    // transposed one is packed so the micro-kernel still reads one stream.
    if (A.trans) pack_a(A, m0, mc, k0, kc, a_pack.data());
    for (int64_t s = 0; s < strips; ++s) {
      const int64_t w = std::min(kNr, nc - s * kNr);
      const T* bp = b_pack.data() + s * kc * kNr;
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t rows = std::min(kMr, mc - p * kMr);
        T* c = C + (m0 + p * kMr) * ldc + n0 + s * kNr;
        if (A.trans) {
          micro_kernel<T, true>(kc, a_pack.data() + p * kc * kMr, 0, bp, c, ldc, rows, w, acc);
        } else {
          micro_kernel<T, false>(kc, A.data + (m0 + p * kMr) * A.ld + k0, A.ld, bp, c, ldc, rows, w, acc);
        }
      }
    }
  }
}

}  // namespace
}  // namespace trellis::gemm_detail
