#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/thread_pool.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/model.h"
#include "test_paths.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {
std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % vocab);
  t[0] = 1;
  return t;
}
}  // namespace

// The llama GGUF stores Q/K permuted for interleaved RoPE, the HF twin uses rotate-half:
// both must compute the same function.
TEST(Model, Stories260KGgufMatchesHf) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  auto gguf = Model::load(shared_path("models/stories260K/stories260K.gguf"));
  auto hf = Model::load(shared_path("models/stories260K/hf"));
  ThreadPool pool(2);
  const auto seq = random_tokens(100, 512, 7);
  const EvalResult a = sequence_nll(*gguf, seq, pool);
  const EvalResult b = sequence_nll(*hf, seq, pool);
  EXPECT_EQ(a.tokens, 99);
  EXPECT_NEAR(a.nll, b.nll, 1e-4 * b.nll);
}

TEST(Model, BatchedSequencesMatchSingleRuns) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  auto model = Model::load(shared_path("models/stories260K/stories260K.gguf"));
  ThreadPool pool(2);
  const int64_t vocab = model->hparams().n_vocab;
  std::vector<std::vector<int32_t>> seqs = {random_tokens(5, 512, 1), random_tokens(17, 512, 2), random_tokens(1, 512, 3)};
  std::vector<std::vector<float>> single;
  for (const auto& s : seqs) {
    KVCache cache(model->hparams(), 64);
    Forward fwd(*model, pool, 64, 64);
    SequenceInput in{&cache, s, true};
    fwd.run({&in, 1});
    single.emplace_back(fwd.logits(0), fwd.logits(0) + vocab * static_cast<int64_t>(s.size()));
  }
  std::vector<KVCache> caches;
  for (size_t i = 0; i < seqs.size(); ++i) caches.emplace_back(model->hparams(), 64);
  std::vector<SequenceInput> batch;
  for (size_t i = 0; i < seqs.size(); ++i) batch.push_back({&caches[i], seqs[i], true});
  Forward fwd(*model, pool, 64, 64);
  fwd.run(batch);
  int64_t row = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (size_t t = 0; t < seqs[i].size(); ++t, ++row) {
      for (int64_t v = 0; v < vocab; ++v) {
        ASSERT_NEAR(fwd.logits(row)[v], single[i][t * vocab + v], 1e-5f) << i << " " << t;
      }
    }
  }
}
