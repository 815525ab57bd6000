// Attention over the KV cache: every ISA (and the forced position splits with their combine
// step) against the float64 reference, on fresh random inputs with odd head dims and lengths,
// GQA groups (including groups cut into several row tiles) and both cache types. The seed is
// printed so a failure can be replayed with TRELLIS_TEST_SEED.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "test_seed.h"
#include "kernels/attention.h"
#include "kernels/attention_kernels.h"
#include "kernels/cpu_features.h"

using namespace trellis;

namespace {

using test::test_seed;

std::vector<Isa> isas_here() {
  std::vector<Isa> v{Isa::Scalar};
  if (detected_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
  if (detected_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
  return v;
}

struct Shape {
  int64_t n_head, n_head_kv, head_dim;
};

// One layer of a cache with n_ctx positions, plus queries for the last n_query positions.
// Rows per position (stride kv_dim + 5), or head-major as KVCache lays them out (each head's
// rows head_dim + 3 apart, the heads n_ctx·(head_dim + 3) + 7 apart): padded either way, so
// the kernels cannot assume packed rows.
struct Case {
  Shape sh;
  DType type;
  int64_t n_ctx, n_query, stride;
  int64_t head_stride = 0;  // 0: the heads side by side in one row per position
  std::vector<float> k32, v32;     // F32 cache, or the exact values of the F16 one
  std::vector<uint16_t> k16, v16;  // F16 cache
  std::vector<float> q;            // [n_query, n_head, head_dim]

  KVLayerView view() const {
    if (type == DType::F16) return {k16.data(), v16.data(), stride, type, head_stride};
    return {k32.data(), v32.data(), stride, type, head_stride};
  }
  // Element i of KV head g's row at position p, in either layout.
  size_t at(int64_t p, int64_t g, int64_t i) const {
    return static_cast<size_t>(p * stride + view().head_offset(g, sh.head_dim) + i);
  }
  int64_t q_dim() const { return sh.n_head * sh.head_dim; }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(sh.head_dim)); }
  int64_t n_pos(int64_t t) const { return n_ctx - n_query + t + 1; }
};

// q_gain scales the queries: 1 gives spread-out softmax weights, 8 peaked ones.
Case make_case(std::mt19937_64& rng, Shape sh, DType type, int64_t n_ctx, int64_t n_query, float q_gain,
               bool head_major = false) {
  std::normal_distribution<float> g(0.f, 1.f);
  Case c{sh, type, n_ctx, n_query, sh.n_head_kv * sh.head_dim + 5, 0, {}, {}, {}, {}, {}};
  if (head_major) {
    c.stride = sh.head_dim + 3;
    c.head_stride = n_ctx * c.stride + 7;
  }
  const auto n = static_cast<size_t>(head_major ? sh.n_head_kv * c.head_stride : n_ctx * c.stride);
  c.k32.resize(n);
  c.v32.resize(n);
  for (size_t i = 0; i < n; ++i) {
    c.k32[i] = g(rng);
    c.v32[i] = g(rng) + 0.5f;
  }
  if (type == DType::F16) {
    c.k16.resize(n);
    c.v16.resize(n);
    for (size_t i = 0; i < n; ++i) {
      c.k16[i] = fp32_to_fp16(c.k32[i]);
      c.v16[i] = fp32_to_fp16(c.v32[i]);
      c.k32[i] = fp16_to_fp32(c.k16[i]);
      c.v32[i] = fp16_to_fp32(c.v16[i]);
    }
  }
  c.q.resize(static_cast<size_t>(n_query * c.q_dim()));
  for (auto& x : c.q) x = g(rng) * q_gain;
  return c;
}

constexpr double kEps = 1.2e-7;  // float epsilon, rounded up

// Per output element, the float error a correct kernel may make, from first-order analysis.
// A score's error (a dot of head_dim terms: ≤ head_dim·eps·scale·Σ|q·k|) and the exp's (a few
// ulp, plus eps·|s − m| from the subtraction) perturb each weight relatively by e_p, which
// moves the output by Σ_p ŵ_p·e_p·|v_p − o| (ŵ the exact normalised weights). Summing the
// weighted values and the weights in blocks of kAttnBlock positions adds at most
// (kAttnBlock + n/kAttnBlock + a few)·eps relative to Σ_p ŵ_p·|v_p| + |o| (the combine of
// position splits is one more level of the same sum). A factor 2 on top.
std::vector<double> tolerance(const Case& c, int64_t t, const std::vector<double>& ref) {
  const int64_t hd = c.sh.head_dim, group = c.sh.n_head / c.sh.n_head_kv, n = c.n_pos(t);
  const double scale = c.scale(), n_f = kAttnBlock + n / kAttnBlock + 8;
  std::vector<double> tol(static_cast<size_t>(c.q_dim()));
  std::vector<double> s(static_cast<size_t>(n)), sabs(s.size());
  for (int64_t h = 0; h < c.sh.n_head; ++h) {
    const float* q = c.q.data() + t * c.q_dim() + h * hd;
    const int64_t g = h / group;
    double mx = -INFINITY, total = 0;
    for (int64_t p = 0; p < n; ++p) {
      double d = 0, a = 0;
      for (int64_t i = 0; i < hd; ++i) {
        d += static_cast<double>(q[i]) * c.k32[c.at(p, g, i)];
        a += std::fabs(static_cast<double>(q[i]) * c.k32[c.at(p, g, i)]);
      }
      s[p] = d * scale;
      sabs[p] = a * scale;
      mx = std::max(mx, s[p]);
    }
    for (int64_t p = 0; p < n; ++p) total += std::exp(s[p] - mx);
    for (int64_t i = 0; i < hd; ++i) {
      const double o = ref[h * hd + i];
      double soft = 0, acc = 0;
      for (int64_t p = 0; p < n; ++p) {
        const double w = std::exp(s[p] - mx) / total, v = c.v32[c.at(p, g, i)];
        soft += w * (hd * sabs[p] + std::fabs(s[p] - mx) + 4) * std::fabs(v - o);
        acc += w * std::fabs(v);
      }
      tol[h * hd + i] = 2 * kEps * (soft + n_f * (acc + std::fabs(o)));
    }
  }
  return tol;
}

std::vector<double> reference(const Case& c, int64_t t, int64_t n_pos) {
  const int64_t hd = c.sh.head_dim, group = c.sh.n_head / c.sh.n_head_kv;
  std::vector<float> out(static_cast<size_t>(c.q_dim()));
  for (int64_t h = 0; h < c.sh.n_head; ++h) {
    attention_head_reference(c.q.data() + t * c.q_dim() + h * hd, c.view(), h / group, hd, n_pos, c.scale(),
                             out.data() + h * hd);
  }
  return {out.begin(), out.end()};
}

std::vector<float> run(const Case& c, ThreadPool& pool, const AttentionOptions& opt) {
  std::vector<float> out(static_cast<size_t>(c.n_query * c.q_dim()), std::nanf(""));
  std::vector<AttentionQuery> qs;
  for (int64_t t = 0; t < c.n_query; ++t) {
    qs.push_back({c.q.data() + t * c.q_dim(), c.view(), c.n_pos(t), out.data() + t * c.q_dim()});
  }
  attention(qs, {c.sh.n_head, c.sh.n_head_kv, c.sh.head_dim, c.scale()}, pool, opt);
  return out;
}

std::string describe(const Case& c, Isa isa, int64_t split_len, float gain) {
  return std::string(isa_name(isa)) + " " + dtype_name(c.type) + " heads=" + std::to_string(c.sh.n_head) + "/" +
         std::to_string(c.sh.n_head_kv) + " head_dim=" + std::to_string(c.sh.head_dim) +
         " n_ctx=" + std::to_string(c.n_ctx) + " queries=" + std::to_string(c.n_query) +
         " split_len=" + std::to_string(split_len) + " q_gain=" + std::to_string(gain);
}

// Largest error / tolerance seen, printed so the margin is visible.
double g_worst_ratio = 0;

void check_case(const Case& c, ThreadPool& pool, float gain) {
  std::vector<std::vector<double>> refs, tols;
  for (int64_t t = 0; t < c.n_query; ++t) {
    refs.push_back(reference(c, t, c.n_pos(t)));
    tols.push_back(tolerance(c, t, refs.back()));
  }
  for (Isa isa : isas_here()) {
    for (int64_t split_len : {int64_t{0}, int64_t{37}, int64_t{kAttnBlock}}) {
      const std::vector<float> out = run(c, pool, {isa, split_len});
      for (int64_t t = 0; t < c.n_query; ++t) {
        for (int64_t i = 0; i < c.q_dim(); ++i) {
          const double err = std::fabs(out[t * c.q_dim() + i] - refs[t][i]);
          g_worst_ratio = std::max(g_worst_ratio, err / tols[t][i]);
          ASSERT_LE(err, tols[t][i]) << describe(c, isa, split_len, gain) << " query " << t << " head "
                                     << i / c.sh.head_dim << " dim " << i % c.sh.head_dim << " got "
                                     << out[t * c.q_dim() + i] << " want " << refs[t][i];
        }
      }
    }
  }
}

class AttentionTypes : public ::testing::TestWithParam<DType> {};

TEST_P(AttentionTypes, EveryIsaAndSplitMatchesReference) {
  std::mt19937_64 rng(test_seed() ^ (GetParam() == DType::F16 ? 0x9E3779B97F4A7C15ull : 0));
  ThreadPool pool(2);
  // head_dim 32, 64, 128: the AVX2 multi-row score kernels. 130: more 16-wide chunks than the AVX-512 kernel keeps q in registers for; odd
  // ones leave the last pair of dims (AVX-512 rows-in-lanes scores) half empty.
  // (heads, KV heads): MHA, GQA groups of 2, 3 (the SIMD kernels' dot-in-lanes scores), 4,
  // 6, 7 (Qwen2.5-0.5B: 14/2), 8 (one full tile) (their rows-in-lanes scores), 9 (two tiles
  // of 5 and 4) and 16 (two full tiles).
  const Shape groups[] = {{2, 2, 0}, {4, 2, 0}, {3, 1, 0}, {8, 2, 0}, {6, 1, 0},
                          {14, 2, 0}, {16, 2, 0}, {9, 1, 0}, {32, 2, 0}};
  for (int64_t hd : {1, 7, 16, 32, 33, 64, 100, 128, 130}) {
    for (Shape sh : groups) {
      sh.head_dim = hd;
      for (int64_t n_ctx : {1, 2, 17, 63, 64, 65, 129, 300}) {
        const float gain = (n_ctx + hd) % 2 == 0 ? 8.0f : 1.0f;
        check_case(make_case(rng, sh, GetParam(), n_ctx, 1, gain), pool, gain);
      }
    }
  }
  // Prefill-like batches: many queries of one cache at consecutive positions; in row tiles of
  // kAttnMaxRows, groups of 1, 2, 3 run as query tiles of 8, 4, 2 tokens (a leftover token
  // alone: 33 and 35 queries).
  for (int64_t hd : {33, 64}) {
    check_case(make_case(rng, {14, 2, hd}, GetParam(), 150, 23, 1.0f), pool, 1.0f);
    check_case(make_case(rng, {9, 3, hd}, GetParam(), 90, 90, 8.0f), pool, 8.0f);
    check_case(make_case(rng, {9, 3, hd}, GetParam(), 100, 33, 1.0f), pool, 1.0f);
    check_case(make_case(rng, {4, 4, hd}, GetParam(), 70, 37, 8.0f), pool, 8.0f);
    check_case(make_case(rng, {4, 2, hd}, GetParam(), 35, 35, 1.0f), pool, 1.0f);
  }
  // Prefill tiles of the AVX2 tile kernel (up to kAttnTileRows = 48 rows: 48 tokens of MHA,
  // 16 of groups of 3, 6 of 7 or 8, 3 of 16; a group of 48 leaves one token per tile, so it
  // takes the row tiles of kAttnMaxRows instead):
  // head dims off the 8-lane transposes (7, 100) and on them, tiles whose causal limits span two
  // cache blocks (MHA), and rows padded up to the lanes.
  for (int64_t hd : {7, 32, 100, 128}) {
    check_case(make_case(rng, {2, 2, hd}, GetParam(), 130, 100, 8.0f), pool, 8.0f);
    check_case(make_case(rng, {14, 2, hd}, GetParam(), 70, 40, 1.0f), pool, 1.0f);
    check_case(make_case(rng, {16, 2, hd}, GetParam(), 40, 40, 8.0f), pool, 8.0f);
    check_case(make_case(rng, {32, 2, hd}, GetParam(), 66, 33, 1.0f), pool, 1.0f);
    check_case(make_case(rng, {48, 1, hd}, GetParam(), 33, 33, 1.0f), pool, 1.0f);
  }
  // Decode at depth: the automatic split into position ranges and their combine.
  check_case(make_case(rng, {14, 2, 64}, GetParam(), 2048, 1, 1.0f), pool, 1.0f);
  // The head-major layout of KVCache: decode (one block, a tail, split ranges at depth),
  // query tiles and row tiles.
  for (int64_t hd : {32, 33, 64, 128}) {
    for (Shape sh : {Shape{14, 2, hd}, Shape{9, 3, hd}, Shape{4, 4, hd}}) {
      for (int64_t n_ctx : {65, 300}) check_case(make_case(rng, sh, GetParam(), n_ctx, 1, 1.0f, true), pool, 1.0f);
      check_case(make_case(rng, sh, GetParam(), 90, 40, 8.0f, true), pool, 8.0f);
    }
  }
  check_case(make_case(rng, {14, 2, 64}, GetParam(), 2048, 1, 1.0f, true), pool, 1.0f);
  std::cout << "[attention] " << dtype_name(GetParam()) << ": worst error / tolerance " << g_worst_ratio << "\n";
}

INSTANTIATE_TEST_SUITE_P(Attention, AttentionTypes, ::testing::Values(DType::F32, DType::F16),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// The split into position ranges depends on the batch only: one thread and two give the
// same bits, for a decode step (split by positions at depth 1500, by KV head at 200) and a
// prefill batch (not split).
TEST(Attention, SameBitsForAnyThreadCount) {
  std::mt19937_64 rng(test_seed() + 1);
  ThreadPool one(1), two(2);
  for (int64_t n_ctx : {1500, 200}) {
    for (int64_t n_query : {1, 40}) {
      const Case c = make_case(rng, {9, 3, 64}, DType::F16, n_ctx, n_query, 1.0f);
      EXPECT_EQ(run(c, one, {}), run(c, two, {})) << "queries " << n_query << " depth " << n_ctx;
    }
  }
}

// A prefill batch of two sequences (two caches, as the forward pass gives for a batch of
// several): a query tile never spans both.
TEST(Attention, QueryTilesKeepSequencesApart) {
  std::mt19937_64 rng(test_seed() + 3);
  ThreadPool pool(2);
  const Case a = make_case(rng, {6, 2, 64}, DType::F32, 60, 41, 1.0f), b = make_case(rng, {6, 2, 64}, DType::F32, 90, 37, 1.0f);
  std::vector<float> out((a.n_query + b.n_query) * a.q_dim(), std::nanf(""));
  std::vector<AttentionQuery> qs;
  for (const Case* c : {&a, &b}) {
    for (int64_t t = 0; t < c->n_query; ++t) {
      qs.push_back({c->q.data() + t * c->q_dim(), c->view(), c->n_pos(t), out.data() + qs.size() * c->q_dim()});
    }
  }
  attention(qs, {6, 2, 64, a.scale()}, pool);
  int64_t row = 0;
  for (const Case* c : {&a, &b}) {
    for (int64_t t = 0; t < c->n_query; ++t, ++row) {
      const std::vector<double> ref = reference(*c, t, c->n_pos(t)), tol = tolerance(*c, t, ref);
      for (int64_t i = 0; i < c->q_dim(); ++i) {
        ASSERT_LE(std::fabs(out[row * c->q_dim() + i] - ref[i]), tol[i]) << "query " << row << " element " << i;
      }
    }
  }
}

// The tolerance still catches the classic mistakes: one position too few (an off-by-one in
// the causal limit) and a query head mapped to the wrong KV head.
TEST(Attention, ToleranceDetectsOffByOne) {
  std::mt19937_64 rng(test_seed() + 2);
  for (DType type : {DType::F32, DType::F16}) {
    const Case c = make_case(rng, {4, 2, 64}, type, 300, 1, 1.0f);
    const std::vector<double> ref = reference(c, 0, c.n_pos(0));
    const std::vector<double> tol = tolerance(c, 0, ref);
    const std::vector<double> short_by_one = reference(c, 0, c.n_pos(0) - 1);
    int64_t flagged = 0;
    for (size_t i = 0; i < ref.size(); ++i) flagged += std::fabs(short_by_one[i] - ref[i]) > tol[i];
    EXPECT_GT(flagged, static_cast<int64_t>(ref.size()) / 2) << dtype_name(type);
    // Head 0 attending through KV head 1 instead of 0.
    std::vector<float> wrong(64);
    attention_head_reference(c.q.data(), c.view(), 1, 64, c.n_pos(0), c.scale(), wrong.data());
    flagged = 0;
    for (int64_t i = 0; i < 64; ++i) flagged += std::fabs(wrong[i] - ref[i]) > tol[i];
    EXPECT_GT(flagged, 32) << dtype_name(type);
  }
}

}  // namespace
