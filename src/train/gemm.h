// Dense products for training (F32 in the trainer, F64 in the finite-difference tests).
// Every output element is computed by exactly one work item, summing its K products in a
// fixed order, so results do not depend on how the pool schedules work or how many threads
// it has (bit-reproducible runs).
#pragma once
#include <cstdint>

namespace trellis {

class ThreadPool;

// A matrix operand as the product sees it, op(X) [rows, cols]: element (r, c) is
// data[r·ld + c], or data[c·ld + r] when trans (a row-major matrix read transposed in place).
template <class T>
struct GemmOperand {
  const T* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

// C[M,N] (+)= op(A)[M,K] · op(B)[K,N], C row-major with leading dimension ldc.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc,
          bool accumulate, ThreadPool* pool);

// The three layouts of the trainer, all row-major and contiguous:
// C[M,N] (+)= A[M,K] · B[N,K]ᵀ      (forward linear: Y = X·Wᵀ with W [out,in])
template <class T>
void gemm_nt(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool);

// C[M,N] (+)= A[M,K] · B[K,N]       (input gradient: dX = dY·W)
template <class T>
void gemm_nn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool);

// C[M,N] (+)= A[K,M]ᵀ · B[K,N]      (weight gradient: dW = dYᵀ·X, summed over K tokens)
template <class T>
void gemm_tn(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, bool accumulate, ThreadPool* pool);

}  // namespace trellis
