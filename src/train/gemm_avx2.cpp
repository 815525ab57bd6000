// The gemm kernel compiled with AVX2 + FMA (see gemm_kernel.h); chosen at run time by gemm.cpp.
#include "train/gemm_kernel.h"

namespace trellis::gemm_detail {

template <class T>
void nn_block_avx2(int64_t N, int64_t K, const T* A, const T* B, T* C, bool acc, int64_t m0, int64_t mc, int64_t n0,
                   int64_t nc) {
  gemm_nn_block(N, K, A, B, C, acc, m0, mc, n0, nc);
}
template void nn_block_avx2<float>(int64_t, int64_t, const float*, const float*, float*, bool, int64_t, int64_t,
                                   int64_t, int64_t);
template void nn_block_avx2<double>(int64_t, int64_t, const double*, const double*, double*, bool, int64_t, int64_t,
                                    int64_t, int64_t);

}  // namespace trellis::gemm_detail
