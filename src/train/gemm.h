// Dense products for training (F32 in the trainer, F64 in the finite-difference tests).
// All matrices are row-major. Every output element is computed by exactly one work item in a
// fixed order, so results do not depend on how the pool schedules work (bit-reproducible runs).
#pragma once
#include <cstdint>

namespace trellis {

class ThreadPool;

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
