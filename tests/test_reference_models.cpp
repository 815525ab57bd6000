// The engine against the independent PyTorch reference (scripts/reference/gen_fixtures.py):
// NLL, first/last logits and greedy continuations of small random models of every family.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/model.h"
#include "test_paths.h"

using namespace trellis;
using nlohmann::json;
using trellis::test::data_path;

namespace {

const json& goldens() {
  static const json g = [] {
    std::ifstream in(data_path("models/goldens.json"));
    return json::parse(in);
  }();
  return g;
}

// Logits of every position of `tokens` in one prefill.
std::vector<float> all_logits(const Model& m, const std::vector<int32_t>& tokens, ThreadPool& pool) {
  KVCache cache(m.hparams(), static_cast<int64_t>(tokens.size()));
  Forward fwd(m, pool, static_cast<int64_t>(tokens.size()), static_cast<int64_t>(tokens.size()));
  SequenceInput in{&cache, tokens, true};
  fwd.run({&in, 1});
  return std::vector<float>(fwd.logits(0), fwd.logits(0) + tokens.size() * m.hparams().n_vocab);
}

void expect_logits_near(const float* got, const json& want, double rel, const std::string& what) {
  double max_abs = 0.0;
  for (const auto& w : want) max_abs = std::max(max_abs, std::abs(w.get<double>()));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i].get<double>(), rel * max_abs) << what << " logit " << i;
  }
}

class ReferenceModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceModel, NllAndLogitsMatchTorch) {
  const json& g = goldens()["models"][GetParam()];
  auto model = Model::load(data_path("models/" + g["dir"].get<std::string>().substr(g["dir"].get<std::string>().rfind('/') + 1)));
  ThreadPool pool(2);
  const int64_t vocab = model->hparams().n_vocab;
  for (const auto& s : g["sequences"]) {
    const auto tokens = s["tokens"].get<std::vector<int32_t>>();
    const auto logits = all_logits(*model, tokens, pool);
    expect_logits_near(logits.data(), s["first_logits"], 1e-4, GetParam() + " first");
    expect_logits_near(logits.data() + (tokens.size() - 1) * vocab, s["last_logits"], 1e-4, GetParam() + " last");
    if (s["n_scored"].get<int>() > 0) {
      const EvalResult r = sequence_nll(*model, tokens, pool);
      EXPECT_EQ(r.tokens, s["n_scored"].get<int64_t>());
      EXPECT_NEAR(r.nll, s["mean_nll"].get<double>(), 1e-4 * s["mean_nll"].get<double>()) << GetParam();
    }
  }
}

TEST_P(ReferenceModel, GreedyMatchesTorch) {
  const json& g = goldens()["models"][GetParam()];
  auto model = Model::load(data_path("models/" + g["dir"].get<std::string>().substr(g["dir"].get<std::string>().rfind('/') + 1)));
  ThreadPool pool(1);
  auto prompt = g["greedy"]["prompt"].get<std::vector<int32_t>>();
  const auto want = g["greedy"]["tokens"].get<std::vector<int32_t>>();
  KVCache cache(model->hparams(), 64);
  Forward fwd(*model, pool, 64, 1);
  std::vector<int32_t> got;
  std::vector<int32_t> next = prompt;
  for (size_t i = 0; i < want.size(); ++i) {
    SequenceInput in{&cache, next, false};
    fwd.run({&in, 1});
    const float* l = fwd.logits(0);
    const int32_t best = static_cast<int32_t>(std::max_element(l, l + model->hparams().n_vocab) - l);
    got.push_back(best);
    next = {best};
  }
  EXPECT_EQ(got, want) << GetParam();
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (auto& [k, v] : goldens()["models"].items()) names.push_back(k);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceModel, ::testing::ValuesIn(model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
