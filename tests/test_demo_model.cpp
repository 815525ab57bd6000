// The project's own demo base model (models/trellis-kjv-3m/model.gguf) against the
// independent reference of scripts/reference/gen_demo_model_goldens.py: a Python byte-level
// BPE encoder and the float64 PyTorch model (tests/data/demo_model/goldens.json).
// TRELLIS_DEMO_MODEL / TRELLIS_DEMO_GOLDENS override both paths (the script reads the same
// variables), so the machinery can be checked on any model of the same kind.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/thread_pool.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/generator.h"
#include "model/model.h"
#include "model/session.h"
#include "sha256_test_util.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

using namespace trellis;
using nlohmann::json;

namespace {

constexpr const char* kRegenerate = "regenerate with /usr/bin/python3 scripts/reference/gen_demo_model_goldens.py";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string model_path() {
  return env_or("TRELLIS_DEMO_MODEL", test::source_dir() + "/models/trellis-kjv-3m/model.gguf");
}
std::string goldens_path() { return env_or("TRELLIS_DEMO_GOLDENS", test::data_path("demo_model/goldens.json")); }

class DemoModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(model_path())) return;
    std::ifstream in(goldens_path());
    if (in) goldens_ = std::make_unique<json>(json::parse(in));
    model_ = Model::load(model_path());
    sha256_ = test::sha256_file(model_path());
  }
  static void TearDownTestSuite() {
    model_.reset();
    goldens_.reset();
    sha256_.clear();
  }
  void SetUp() override {
    if (!std::filesystem::exists(model_path()))
      GTEST_SKIP() << "no demo model at " << model_path() << " (it comes with the trained demo model; "
                   << "TRELLIS_DEMO_MODEL=FILE checks another)";
    ASSERT_NE(model_, nullptr) << "could not load " << model_path();
    ASSERT_NE(goldens_, nullptr) << "cannot read " << goldens_path() << "; " << kRegenerate;
    // Goldens of another file would only produce a flood of differences: every test stops here.
    ASSERT_EQ(g()["model_sha256"].get<std::string>(), sha256_)
        << goldens_path() << " was made from another model file than " << model_path() << "; " << kRegenerate;
  }
  const json& g() const { return *goldens_; }
  const Model& model() const { return *model_; }

  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<json> goldens_;
  static inline std::string sha256_;
};

// Whether reference ranks r and r+1 of the top-5 (rank 5 = the sixth logit) are closer than tol,
// so that a float32 engine may order them either way.
bool near_tie(const std::vector<double>& want6, size_t r, double tol) {
  return r + 1 < want6.size() && std::abs(want6[r] - want6[r + 1]) < tol;
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(test::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(test::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks (56 bytes: the length no longer fits the first block).
  EXPECT_EQ(test::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(test::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// SetUp already refuses goldens of another file; this names the check on its own line.
TEST_F(DemoModel, GoldensBelongToThisModelFile) {
  EXPECT_EQ(sha256_.size(), 64u);
  EXPECT_EQ(g()["model_sha256"].get<std::string>(), sha256_);
}

TEST_F(DemoModel, TokenizerMatchesPythonBpe) {
  const Tokenizer& tok = model().require_tokenizer();
  for (const auto& t : g()["texts"]) {
    const std::string text = t["text"].get<std::string>();
    EXPECT_EQ(tok.encode(text, true, false), t["ids"].get<std::vector<int32_t>>()) << text;
  }
  const auto& gr = g()["greedy"];
  EXPECT_EQ(tok.encode(gr["prompt"].get<std::string>(), true, false), gr["prompt_ids"].get<std::vector<int32_t>>());
}

TEST_F(DemoModel, NllMatchesTorch) {
  ThreadPool pool(2);
  for (const auto& t : g()["texts"]) {
    const auto ids = t["ids"].get<std::vector<int32_t>>();
    const double want = t["mean_nll"].get<double>();
    const EvalResult r = sequence_nll(model(), ids, pool);
    EXPECT_EQ(r.tokens, t["n_scored"].get<int64_t>());
    EXPECT_NEAR(r.nll, want, 1e-4 * want) << t["text"].get<std::string>() << ": relative difference "
                                          << std::abs(r.nll - want) / want;
  }
}

TEST_F(DemoModel, LastLogitsTop5MatchTorch) {
  ThreadPool pool(2);
  const int64_t vocab = model().hparams().n_vocab;
  for (const auto& t : g()["texts"]) {
    const auto ids = t["ids"].get<std::vector<int32_t>>();
    const auto n = static_cast<int64_t>(ids.size());
    KVCache cache(model().hparams(), n);
    Forward fwd(model(), pool, n, n);
    SequenceInput in{&cache, ids, false};
    fwd.run({&in, 1});
    const float* l = fwd.logits(0);
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    const auto want_ids = t["last_top5"]["ids"].get<std::vector<int32_t>>();
    auto want6 = t["last_top5"]["logits"].get<std::vector<double>>();
    want6.push_back(t["last_top6_logit"].get<double>());
    const double tol = 1e-4 * std::max(std::abs(want6.front()), std::abs(want6.back()));
    const std::string& text = t["text"].get_ref<const std::string&>();
    for (size_t r = 0; r < 5; ++r) {
      EXPECT_NEAR(l[order[r]], want6[r], tol) << text << " rank " << r;
      if (order[r] != want_ids[r]) {
        EXPECT_TRUE(near_tie(want6, r, tol) || (r > 0 && near_tie(want6, r - 1, tol)))
            << text << " rank " << r << ": id " << order[r] << ", reference " << want_ids[r]
            << " (reference logits " << want6[r] << " / next " << want6[r + 1] << ")";
      }
    }
  }
}

TEST_F(DemoModel, GreedyContinuationMatchesTorch) {
  const auto& gr = g()["greedy"];
  ThreadPool pool(2);
  SessionOptions so;
  so.sampling.temperature = 0.0f;
  Session session(model(), pool, so);
  GenerateOptions go;
  go.max_new_tokens = gr["n_new"].get<int64_t>();
  go.stop_at_end_of_generation = false;
  const auto prompt = gr["prompt_ids"].get<std::vector<int32_t>>();
  const GenerateResult r = generate(session, model().require_tokenizer(), prompt, go);
  EXPECT_EQ(r.tokens, gr["tokens"].get<std::vector<int32_t>>())
      << "smallest top-1/top-2 reference logit gap over the steps: " << gr["min_margin"].get<double>();
}

}  // namespace
