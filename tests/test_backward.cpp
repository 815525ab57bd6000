// Every backward kernel against F64 central finite differences of its paired forward, on
// small random inputs. The scalar checked is L = Σ out ⊙ R for a fixed random R, so every
// output element contributes with a different weight.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "train/backward.h"
#include "train/gemm.h"

namespace trellis {
namespace {

using Vec = std::vector<double>;

Vec random_vec(size_t n, std::mt19937& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double weighted_sum(const Vec& out, const Vec& r) {
  double s = 0;
  for (size_t i = 0; i < out.size(); ++i) s += out[i] * r[i];
  return s;
}

// Checks analytic d loss / d param against central differences, element by element.
// The tolerance is relative to the gradient's largest magnitude: FD in F64 with h = 1e-5
// has truncation error ~h² and rounding ~1e-16/h, so ~1e-9 relative is expected; 1e-6 still
// catches any wrong term (those show up at O(1)).
void expect_gradient(Vec& param, const Vec& analytic, const std::function<double()>& loss, const char* what) {
  ASSERT_EQ(param.size(), analytic.size());
  double gmax = 1e-12;
  for (double g : analytic) gmax = std::max(gmax, std::fabs(g));
  const double h = 1e-5;
  for (size_t i = 0; i < param.size(); ++i) {
    const double keep = param[i];
    param[i] = keep + h;
    const double lp = loss();
    param[i] = keep - h;
    const double lm = loss();
    param[i] = keep;
    const double fd = (lp - lm) / (2 * h);
    EXPECT_NEAR(analytic[i], fd, 1e-6 * gmax) << what << "[" << i << "]";
  }
}

TEST(Backward, RmsNorm) {
  std::mt19937 rng(1);
  const int64_t N = 3, C = 8;
  Vec x = random_vec(N * C, rng), w = random_vec(C, rng), R = random_vec(N * C, rng);
  const double eps = 1e-5;
  auto loss = [&] {
    Vec out(N * C), rstd(N);
    rmsnorm_forward(x.data(), w.data(), out.data(), rstd.data(), N, C, eps);
    return weighted_sum(out, R);
  };
  Vec out(N * C), rstd(N), dx(N * C, 0.0), dw(C, 0.0);
  rmsnorm_forward(x.data(), w.data(), out.data(), rstd.data(), N, C, eps);
  rmsnorm_backward(R.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), N, C);
  expect_gradient(x, dx, loss, "dx");
  expect_gradient(w, dw, loss, "dw");
}

void check_rope(RopeStyle style, int64_t rope_dim) {
  std::mt19937 rng(2);
  const int64_t N = 4, H = 2, hd = 8;
  Vec x = random_vec(N * H * hd, rng), R = random_vec(N * H * hd, rng);
  const std::vector<int32_t> pos = {0, 1, 5, 2};
  std::vector<float> inv(rope_dim / 2);
  for (int64_t i = 0; i < rope_dim / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / rope_dim);
  auto loss = [&] {
    Vec y = x;
    rope_forward(y.data(), pos.data(), N, H, hd, rope_dim, inv.data(), style);
    return weighted_sum(y, R);
  };
  Vec dx = R;
  rope_backward(dx.data(), pos.data(), N, H, hd, rope_dim, inv.data(), style);
  expect_gradient(x, dx, loss, "dx");
}

TEST(Backward, RopeRotateHalf) { check_rope(RopeStyle::RotateHalf, 8); }
TEST(Backward, RopeInterleaved) { check_rope(RopeStyle::Interleaved, 8); }
TEST(Backward, RopePartialDims) { check_rope(RopeStyle::RotateHalf, 4); }

// Naive reference: explicit masked score matrix, softmax, weighted sum.
Vec attention_naive(const Vec& q, const Vec& k, const Vec& v, const std::vector<int32_t>& seg, const AttentionShape& s) {
  const int64_t hd = s.head_dim, g = s.n_head / s.n_head_kv;
  Vec out(s.N * s.n_head * hd, 0.0);
  for (int64_t t = 0; t < s.N; ++t) {
    for (int64_t h = 0; h < s.n_head; ++h) {
      std::vector<double> p(s.N, 0.0);
      double mx = -1e300, sum = 0;
      for (int64_t j = seg[t]; j <= t; ++j) {
        double d = 0;
        for (int64_t i = 0; i < hd; ++i) d += q[(t * s.n_head + h) * hd + i] * k[(j * s.n_head_kv + h / g) * hd + i];
        p[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, p[j]);
      }
      for (int64_t j = seg[t]; j <= t; ++j) sum += (p[j] = std::exp(p[j] - mx));
      for (int64_t j = seg[t]; j <= t; ++j) {
        for (int64_t i = 0; i < hd; ++i) out[(t * s.n_head + h) * hd + i] += p[j] / sum * v[(j * s.n_head_kv + h / g) * hd + i];
      }
    }
  }
  return out;
}

TEST(Backward, AttentionGqaSegments) {
  std::mt19937 rng(3);
  const AttentionShape s{7, 4, 2, 4};
  const std::vector<int32_t> seg = {0, 0, 0, 3, 3, 3, 3};  // two packed examples
  Vec q = random_vec(s.N * 16, rng), k = random_vec(s.N * 8, rng), v = random_vec(s.N * 8, rng);
  Vec R = random_vec(s.N * 16, rng);
  ThreadPool pool(2);
  auto forward = [&](Vec& out, Vec& lse) {
    out.assign(s.N * 16, 0.0);
    lse.assign(s.N * 4, 0.0);
    attention_forward(q.data(), k.data(), v.data(), seg.data(), s, out.data(), lse.data(), &pool);
  };
  auto loss = [&] {
    Vec out, lse;
    forward(out, lse);
    return weighted_sum(out, R);
  };
  Vec out, lse;
  forward(out, lse);
  const Vec ref = attention_naive(q, k, v, seg, s);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref[i], 1e-12);
  Vec dq(q.size(), 0.0), dk(k.size(), 0.0), dv(v.size(), 0.0);
  attention_backward(R.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), seg.data(), s, dq.data(),
                     dk.data(), dv.data(), &pool);
  expect_gradient(q, dq, loss, "dq");
  expect_gradient(k, dk, loss, "dk");
  expect_gradient(v, dv, loss, "dv");
}

TEST(Backward, SwiGlu) {
  std::mt19937 rng(4);
  const int64_t n = 12;
  Vec g = random_vec(n, rng, 2.0), u = random_vec(n, rng), R = random_vec(n, rng);
  auto loss = [&] {
    Vec h(n);
    swiglu_forward(g.data(), u.data(), h.data(), n);
    return weighted_sum(h, R);
  };
  Vec dg(n, 0.0), du(n, 0.0);
  swiglu_backward(R.data(), g.data(), u.data(), dg.data(), du.data(), n);
  expect_gradient(g, dg, loss, "dgate");
  expect_gradient(u, du, loss, "dup");
}

void check_lora_linear(bool separate_lora_input) {
  std::mt19937 rng(5);
  const LoraShape s{3, 5, 4, 2};
  Vec x = random_vec(s.N * s.in, rng), xl = random_vec(s.N * s.in, rng), W = random_vec(s.out * s.in, rng);
  Vec A = random_vec(s.rank * s.in, rng), B = random_vec(s.out * s.rank, rng), R = random_vec(s.N * s.out, rng);
  const double scale = 1.7;
  ThreadPool pool(2);
  const Vec& lora_in = separate_lora_input ? xl : x;
  auto loss = [&] {
    Vec u(s.N * s.rank), y(s.N * s.out);
    lora_linear_forward(x.data(), lora_in.data(), W.data(), A.data(), B.data(), scale, s, u.data(), y.data(), &pool);
    return weighted_sum(y, R);
  };
  Vec u(s.N * s.rank), y(s.N * s.out);
  lora_linear_forward(x.data(), lora_in.data(), W.data(), A.data(), B.data(), scale, s, u.data(), y.data(), &pool);
  Vec dx(x.size(), 0.0), dxl(x.size(), 0.0), dA(A.size(), 0.0), dB(B.size(), 0.0), scratch(2 * s.N * s.rank);
  lora_linear_backward(R.data(), lora_in.data(), W.data(), A.data(), B.data(), u.data(), scale, s, dx.data(),
                       separate_lora_input ? dxl.data() : nullptr, dA.data(), dB.data(), scratch.data(), &pool);
  expect_gradient(x, dx, loss, "dx");
  if (separate_lora_input) expect_gradient(xl, dxl, loss, "dxl");
  expect_gradient(A, dA, loss, "dA");
  expect_gradient(B, dB, loss, "dB");
  Vec dW(W.size(), 0.0);
  linear_weight_backward(R.data(), x.data(), s.N, s.in, s.out, dW.data(), &pool);
  expect_gradient(W, dW, loss, "dW");
}

TEST(Backward, LoraLinear) { check_lora_linear(false); }
TEST(Backward, LoraLinearDropoutInput) { check_lora_linear(true); }

TEST(Backward, CrossEntropyMasked) {
  std::mt19937 rng(6);
  const int64_t N = 4, V = 6;
  Vec logits = random_vec(N * V, rng, 2.0);
  const std::vector<int32_t> targets = {2, -1, 5, 0};
  const double weight = 1.0 / 3.0;
  auto loss = [&] { return weight * cross_entropy_forward(logits.data(), targets.data(), N, V); };
  Vec d(N * V);
  cross_entropy_backward(logits.data(), targets.data(), N, V, weight, d.data());
  expect_gradient(logits, d, loss, "dlogits");
  for (int64_t i = 0; i < V; ++i) EXPECT_EQ(d[V + i], 0.0);  // masked row: no gradient at all
}

// The fused forward+backward the trainer uses (vector exp for F32, rows over the pool)
// against the scalar pair above, at a vocabulary-sized row with a masked row in between.
void check_fused_cross_entropy(Isa isa) {
  const Isa keep = set_isa_override(isa);
  std::mt19937 rng(9);
  const int64_t N = 5, V = 5003;
  std::vector<float> logits(N * V);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (auto& x : logits) x = d(rng);
  const std::vector<int32_t> targets = {17, -1, 5002, 0, 2500};
  const float weight = 0.37f;
  std::vector<float> ref(N * V);
  const double loss_ref = cross_entropy_forward(logits.data(), targets.data(), N, V);
  cross_entropy_backward(logits.data(), targets.data(), N, V, weight, ref.data());
  ThreadPool pool(2);
  const double loss = cross_entropy_fused(logits.data(), targets.data(), N, V, weight, &pool);
  EXPECT_NEAR(loss, loss_ref, 1e-6 * std::fabs(loss_ref));
  for (int64_t i = 0; i < N * V; ++i) ASSERT_NEAR(logits[i], ref[i], 1e-6 * weight) << i;
  set_isa_override(keep);
}

TEST(Backward, CrossEntropyFusedMatchesPair) {
  check_fused_cross_entropy(Isa::Avx2);
  check_fused_cross_entropy(Isa::Scalar);
}

template <class T>
void check_gemms() {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {5, 19, 7}, {70, 150, 33}, {130, 40, 300}}) {
    std::vector<T> A(M * K), B(N * K), Bn(K * N), At(K * M), C(M * N, T(1));
    std::normal_distribution<double> d;
    for (auto* v : {&A, &B, &Bn, &At})
      for (auto& e : *v) e = static_cast<T>(d(rng));
    std::vector<T> nt(M * N, T(1)), nn(M * N), tn(M * N);
    gemm_nt(M, N, K, A.data(), B.data(), nt.data(), true, &pool);
    gemm_nn(M, N, K, A.data(), Bn.data(), nn.data(), false, &pool);
    gemm_tn(M, N, K, At.data(), Bn.data(), tn.data(), false, &pool);
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        double snt = 1, snn = 0, stn = 0;
        for (int64_t k = 0; k < K; ++k) {
          snt += static_cast<double>(A[m * K + k]) * B[n * K + k];
          snn += static_cast<double>(A[m * K + k]) * Bn[k * N + n];
          stn += static_cast<double>(At[k * M + m]) * Bn[k * N + n];
        }
        const double tol = (sizeof(T) == 4 ? 1e-5 : 1e-13) * std::sqrt(static_cast<double>(K)) * 4;
        ASSERT_NEAR(nt[m * N + n], snt, tol) << M << "x" << N << "x" << K;
        ASSERT_NEAR(nn[m * N + n], snn, tol);
        ASSERT_NEAR(tn[m * N + n], stn, tol);
      }
    }
  }
}

TEST(Backward, GemmF32) { check_gemms<float>(); }
TEST(Backward, GemmF64) { check_gemms<double>(); }

}  // namespace
}  // namespace trellis
