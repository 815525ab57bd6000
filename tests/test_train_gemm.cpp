// train/gemm's packed products against a plain triple loop in double, on fresh random
// inputs: all four transpose combinations, leading dimensions wider than the operands,
// sizes around the micro-tiles (6 × 16, 8 × 32), the column block (256) and the K slice (256),
// accumulate on and off, the baseline, AVX2 and AVX-512 kernels (each clamped to what the
// CPU has), and 1-3 threads (which must give bit-identical results: each element sums its
// products in one fixed order).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "train/gemm.h"

namespace trellis {
namespace {

template <class T>
struct Problem {
  int64_t M, N, K;
  bool ta, tb;
  int64_t pad;  // extra columns in each stored row (ld = width + pad)
  std::vector<T> A, B, C0;
  int64_t lda, ldb, ldc;

  Problem(int64_t m, int64_t n, int64_t k, bool ta_, bool tb_, int64_t pad_, std::mt19937& rng)
      : M(m), N(n), K(k), ta(ta_), tb(tb_), pad(pad_) {
    std::normal_distribution<double> d;
    lda = (ta ? M : K) + pad;
    ldb = (tb ? K : N) + pad;
    ldc = N + pad;
    A.resize(static_cast<size_t>((ta ? K : M) * lda));
    B.resize(static_cast<size_t>((tb ? N : K) * ldb));
    C0.resize(static_cast<size_t>(M * ldc));
    for (auto* v : {&A, &B, &C0})
      for (auto& e : *v) e = static_cast<T>(d(rng));
  }
  double a(int64_t m, int64_t k) const { return ta ? A[k * lda + m] : A[m * lda + k]; }
  double b(int64_t k, int64_t n) const { return tb ? B[n * ldb + k] : B[k * ldb + n]; }

  std::vector<T> run(bool accumulate, ThreadPool* pool) const {
    std::vector<T> C = C0;
    gemm<T>(M, N, K, {A.data(), lda, ta}, {B.data(), ldb, tb}, C.data(), ldc, accumulate, pool);
    return C;
  }

  void check(const std::vector<T>& C, bool accumulate) const {
    const double tol = (sizeof(T) == 4 ? 2e-6 : 1e-14) * std::sqrt(static_cast<double>(K) + 1) * 8;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < ldc; ++n) {
        if (n >= N) {  // padding columns are never written
          ASSERT_EQ(C[m * ldc + n], C0[m * ldc + n]);
          continue;
        }
        double ref = accumulate ? static_cast<double>(C0[m * ldc + n]) : 0.0;
        for (int64_t k = 0; k < K; ++k) ref += a(m, k) * b(k, n);
        ASSERT_NEAR(C[m * ldc + n], ref, tol) << M << "x" << N << "x" << K << " ta=" << ta << " tb=" << tb;
      }
    }
  }
};

template <class T>
void check_all(Isa isa) {
  const Isa keep = set_isa_override(isa);
  std::mt19937 rng(11);
  ThreadPool one(1), two(2), three(3);
  const std::tuple<int64_t, int64_t, int64_t> sizes[] = {{1, 1, 1},     {5, 19, 7},    {6, 16, 256}, {7, 17, 257},
                                                         {70, 150, 33}, {130, 40, 300}, {64, 300, 64}, {100, 513, 600},
                                                         {16, 576, 512}, {300, 16, 512}, {13, 1, 40}, {1, 40, 13}};
  for (const auto& [M, N, K] : sizes) {
    for (int combo = 0; combo < 4; ++combo) {
      const Problem<T> p(M, N, K, combo & 1, combo & 2, combo == 3 ? 3 : 0, rng);
      for (bool accumulate : {false, true}) {
        const std::vector<T> c1 = p.run(accumulate, &one);
        p.check(c1, accumulate);
        EXPECT_EQ(p.run(accumulate, &two), c1);
        EXPECT_EQ(p.run(accumulate, &three), c1);
        EXPECT_EQ(p.run(accumulate, nullptr), c1);
      }
    }
  }
  set_isa_override(keep);
}

TEST(TrainGemm, MatchesTripleLoopF32Scalar) { check_all<float>(Isa::Scalar); }
TEST(TrainGemm, MatchesTripleLoopF32Avx2) { check_all<float>(Isa::Avx2); }
TEST(TrainGemm, MatchesTripleLoopF32Avx512) { check_all<float>(Isa::Avx512); }
TEST(TrainGemm, MatchesTripleLoopF64) {
  check_all<double>(Isa::Avx2);
  check_all<double>(Isa::Avx512);
}

// K = 0: the product is zero (C is cleared, or left as is when accumulating).
TEST(TrainGemm, EmptyInnerDimension) {
  std::vector<float> C(6, 5.0f);
  gemm<float>(2, 3, 0, {nullptr, 0, false}, {nullptr, 3, false}, C.data(), 3, true, nullptr);
  EXPECT_EQ(C, std::vector<float>(6, 5.0f));
  gemm<float>(2, 3, 0, {nullptr, 0, false}, {nullptr, 3, false}, C.data(), 3, false, nullptr);
  EXPECT_EQ(C, std::vector<float>(6, 0.0f));
}

}  // namespace
}  // namespace trellis
