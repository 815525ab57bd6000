// The gemm kernel compiled with AVX2 + FMA (see gemm_kernel.h); chosen at run time by gemm.cpp.
#include "train/gemm_kernel.h"

namespace trellis::gemm_detail {

template <class T>
void gemm_block_avx2(int64_t K, const GemmOperand<T>& A, const GemmOperand<T>& B, T* C, int64_t ldc, bool accumulate,
                     int64_t m0, int64_t mc, int64_t n0, int64_t nc) {
  gemm_block(K, A, B, C, ldc, accumulate, m0, mc, n0, nc);
}
template void gemm_block_avx2<float>(int64_t, const GemmOperand<float>&, const GemmOperand<float>&, float*, int64_t,
                                     bool, int64_t, int64_t, int64_t, int64_t);
template void gemm_block_avx2<double>(int64_t, const GemmOperand<double>&, const GemmOperand<double>&, double*,
                                      int64_t, bool, int64_t, int64_t, int64_t, int64_t);

}  // namespace trellis::gemm_detail
