// The blocked training attention (attention_blocked.cpp: 64-row blocks through train/gemm,
// vector exp) against its per-row scalar reference (attention_*_reference), forward and
// backward, on fresh random inputs: GQA groups 1-9, head sizes 1-80, lengths around the
// block size, one or many packed segments (including one-token segments). The reference
// itself is checked against finite differences and a naive softmax in test_backward.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "train/backward.h"

namespace trellis {
namespace {

// Segment starts for N tokens split into examples of random lengths in [1, max_len].
std::vector<int32_t> random_segments(int64_t N, int64_t max_len, std::mt19937& rng) {
  std::vector<int32_t> seg(static_cast<size_t>(N));
  int64_t t = 0;
  while (t < N) {
    const int64_t len = std::min<int64_t>(N - t, 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(max_len)));
    for (int64_t i = 0; i < len; ++i) seg[t + i] = static_cast<int32_t>(t);
    t += len;
  }
  return seg;
}

template <class T>
std::vector<T> random_values(int64_t n, std::mt19937& rng, double scale) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// Largest |a - b| relative to the largest |b| (gradients span orders of magnitude).
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double diff = 0, ref = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    ref = std::max(ref, std::fabs(static_cast<double>(b[i])));
  }
  return diff / ref;
}

template <class T>
void check(const AttentionShape& s, const std::vector<int32_t>& seg, uint32_t seed, double tol, ThreadPool* pool) {
  std::mt19937 rng(seed);
  const int64_t qn = s.N * s.n_head * s.head_dim, kn = s.N * s.n_head_kv * s.head_dim;
  // Score scale ~3: peaked and flat rows both occur.
  const auto q = random_values<T>(qn, rng, 1.7), k = random_values<T>(kn, rng, 1.7), v = random_values<T>(kn, rng, 1.0);
  const auto dout = random_values<T>(qn, rng, 1.0);
  std::vector<T> out(qn), lse(s.N * s.n_head), out_ref(qn), lse_ref(s.N * s.n_head);
  attention_forward(q.data(), k.data(), v.data(), seg.data(), s, out.data(), lse.data(), pool);
  attention_forward_reference(q.data(), k.data(), v.data(), seg.data(), s, out_ref.data(), lse_ref.data(), pool);
  EXPECT_LT(max_rel_diff(out, out_ref), tol) << "out N=" << s.N << " hd=" << s.head_dim;
  EXPECT_LT(max_rel_diff(lse, lse_ref), tol) << "lse N=" << s.N;
  // Gradients accumulate (+=): start both from the same non-zero values.
  auto dq = random_values<T>(qn, rng, 1.0), dk = random_values<T>(kn, rng, 1.0), dv = random_values<T>(kn, rng, 1.0);
  auto dq_ref = dq, dk_ref = dk, dv_ref = dv;
  attention_backward(dout.data(), q.data(), k.data(), v.data(), out_ref.data(), lse_ref.data(), seg.data(), s,
                     dq.data(), dk.data(), dv.data(), pool);
  attention_backward_reference(dout.data(), q.data(), k.data(), v.data(), out_ref.data(), lse_ref.data(), seg.data(),
                               s, dq_ref.data(), dk_ref.data(), dv_ref.data(), pool);
  EXPECT_LT(max_rel_diff(dq, dq_ref), tol) << "dq N=" << s.N << " hd=" << s.head_dim;
  EXPECT_LT(max_rel_diff(dk, dk_ref), tol) << "dk N=" << s.N << " hd=" << s.head_dim;
  EXPECT_LT(max_rel_diff(dv, dv_ref), tol) << "dv N=" << s.N << " hd=" << s.head_dim;
}

struct Case {
  int64_t N, n_head, n_head_kv, head_dim, max_segment;
};
const Case kCases[] = {
    {1, 1, 1, 1, 1},      {7, 4, 2, 5, 7},       {63, 2, 2, 16, 63},  {64, 3, 1, 8, 64},   {65, 4, 2, 64, 65},
    {130, 9, 3, 64, 130}, {130, 9, 3, 64, 20},   {200, 6, 2, 80, 1},  {257, 8, 1, 32, 90}, {300, 2, 1, 64, 300},
    {129, 14, 2, 64, 50}, {96, 4, 4, 33, 3},
};

template <class T>
void check_all(double tol, ThreadPool* pool) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    std::mt19937 rng(seed * 7919);
    const auto seg = random_segments(c.N, c.max_segment, rng);
    check<T>({c.N, c.n_head, c.n_head_kv, c.head_dim}, seg, seed++, tol, pool);
  }
}

TEST(TrainAttention, BlockedMatchesReferenceF64) {
  ThreadPool pool(2);
  check_all<double>(1e-12, &pool);
}

TEST(TrainAttention, BlockedMatchesReferenceF32) {
  ThreadPool pool(2);
  check_all<float>(2e-5, &pool);
  check_all<float>(2e-5, nullptr);
}

TEST(TrainAttention, BlockedMatchesReferenceF32Scalar) {
  const Isa keep = set_isa_override(Isa::Scalar);
  ThreadPool pool(2);
  check_all<float>(2e-5, &pool);
  set_isa_override(keep);
}

// The same inputs give bit-identical results with 1, 2 and 3 threads (fixed summation order).
TEST(TrainAttention, BlockedIsIndependentOfThreadCount) {
  const AttentionShape s{300, 6, 2, 64};
  std::mt19937 rng(5);
  const auto seg = random_segments(s.N, 120, rng);
  const int64_t qn = s.N * s.n_head * s.head_dim, kn = s.N * s.n_head_kv * s.head_dim;
  const auto q = random_values<float>(qn, rng, 1.5), k = random_values<float>(kn, rng, 1.5);
  const auto v = random_values<float>(kn, rng, 1.0), dout = random_values<float>(qn, rng, 1.0);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> out(qn), lse(s.N * s.n_head), dq(qn, 0.f), dk(kn, 0.f), dv(kn, 0.f);
    attention_forward(q.data(), k.data(), v.data(), seg.data(), s, out.data(), lse.data(), &pool);
    attention_backward(dout.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), seg.data(), s, dq.data(),
                       dk.data(), dv.data(), &pool);
    std::vector<float> all = out;
    for (const auto* part : {&lse, &dq, &dk, &dv}) all.insert(all.end(), part->begin(), part->end());
    results.push_back(all);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

}  // namespace
}  // namespace trellis
