// LoRA at inference against the independent PyTorch reference (gen_lora_fixtures.py: base
// weights + Σ s·B·A, float64): PEFT and GGUF-LoRA adapters on Hugging Face and GGUF bases of
// llama, qwen2 and qwen3; unmerged vs merged; heterogeneous batches; KV-cache keys.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "lora/adapter.h"
#include "lora/adapter_set.h"
#include "lora/merge.h"
#include "lora_test_util.h"
#include "model/evaluate.h"
#include "model/session.h"

using namespace trellis;
using namespace trellis::test;
using nlohmann::json;

namespace {

TempDir& shared_tmp() {
  static TempDir dir("lora_bases");
  return dir;
}

std::unique_ptr<Model> load_base(const std::string& name, bool gguf) {
  return Model::load(gguf ? gguf_base(name, shared_tmp()) : model_dir(name));
}

AdapterSet set_for_case(const json& c, const Model& base) {
  AdapterSet set;
  for (const auto& a : c["adapters"]) {
    const std::string file = lora_goldens()["adapters"][a[0].get<std::string>()];
    set.add(LoraAdapter::load_for(lora_path(file), base), a[1].get<float>());
  }
  return set;
}

struct RefCase {
  std::string name;
  bool gguf_base;
};

class LoraReference : public ::testing::TestWithParam<RefCase> {};

TEST_P(LoraReference, NllAndLogitsMatchTorch) {
  const json& c = lora_goldens()["cases"][GetParam().name];
  auto base = load_base(c["base"], GetParam().gguf_base);
  const AdapterSet set = set_for_case(c, *base);
  ThreadPool pool(1);
  for (const auto& s : c["sequences"]) {
    const auto tokens = s["tokens"].get<std::vector<int32_t>>();
    const EvalResult r = sequence_nll(*base, tokens, pool, DType::F32, &set);
    EXPECT_EQ(r.tokens, s["n_scored"].get<int64_t>());
    EXPECT_NEAR(r.nll, s["mean_nll"].get<double>(), 1e-4 * s["mean_nll"].get<double>()) << GetParam().name;
    // The base alone must be far from the adapted golden, or the check above proves nothing.
    const EvalResult plain = sequence_nll(*base, tokens, pool);
    EXPECT_NEAR(plain.nll, s["base_mean_nll"].get<double>(), 1e-4 * plain.nll);
    const auto logits = logits_of(*base, tokens, &set, pool);
    const auto want = s["last_logits"].get<std::vector<float>>();
    expect_close(logits.data() + (tokens.size() - 1) * want.size(), want.data(), want.size(), 1e-4, GetParam().name);
  }
}

std::vector<RefCase> ref_cases() {
  std::vector<RefCase> out;
  for (auto& [k, v] : lora_goldens()["cases"].items()) {
    out.push_back({k, false});
    out.push_back({k, true});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Lora, LoraReference, ::testing::ValuesIn(ref_cases()), [](const auto& info) {
  return info.param.name + (info.param.gguf_base ? "_on_gguf" : "_on_hf");
});

// Unmerged application equals the F32 merge of the same set, on both base formats.
TEST(LoraRuntime, UnmergedEqualsMerged) {
  for (bool gguf : {false, true}) {
    const json& c = lora_goldens()["cases"]["llama_two"];
    auto base = load_base("llama_untied", gguf);
    const AdapterSet set = set_for_case(c, *base);
    TempDir tmp("lora_merge");
    write_merged_gguf(*base, set, tmp.file("merged.gguf"), MergeOptions{DType::F32});
    auto merged = Model::load(tmp.file("merged.gguf"));
    ThreadPool pool(1);
    const auto tokens = c["sequences"][1]["tokens"].get<std::vector<int32_t>>();
    const auto a = logits_of(*base, tokens, &set, pool);
    const auto b = logits_of(*merged, tokens, nullptr, pool);
    expect_close(a.data(), b.data(), a.size(), 1e-4, gguf ? "gguf base" : "hf base");
    EXPECT_NEAR(sequence_nll(*base, tokens, pool, DType::F32, &set).nll, sequence_nll(*merged, tokens, pool).nll, 1e-4);
  }
}

// Changing a scale takes effect on the next call; scale 0 is the base.
TEST(LoraRuntime, ScalesChangeBetweenCalls) {
  auto base = load_base("llama_untied", false);
  AdapterSet set;
  set.add(LoraAdapter::load_for(lora_path("llama_peft"), *base), 1.0f);
  ThreadPool pool(1);
  const json& half = lora_goldens()["cases"]["llama_peft_half"]["sequences"][0];
  const auto tokens = half["tokens"].get<std::vector<int32_t>>();
  set.set_scale(0, 0.5f);
  EXPECT_NEAR(sequence_nll(*base, tokens, pool, DType::F32, &set).nll, half["mean_nll"].get<double>(), 1e-4 * 8);
  set.set_scale(0, 0.0f);
  const auto zero = logits_of(*base, tokens, &set, pool);
  const auto plain = logits_of(*base, tokens, nullptr, pool);
  EXPECT_EQ(zero, plain);
  EXPECT_EQ(set.key(), "");
}

// 8 sequences, each with its own adapter set (one with none, one with two), in one batch:
// the same logits as 8 separate runs.
TEST(LoraRuntime, HeterogeneousBatchEqualsSeparateRuns) {
  auto base = load_base("llama_untied", true);
  auto a1 = std::shared_ptr<const LoraAdapter>(LoraAdapter::load_for(lora_path("llama_peft"), *base));
  auto a2 = std::shared_ptr<const LoraAdapter>(LoraAdapter::load_for(lora_path("llama_peft_rslora"), *base));
  auto a3 = std::shared_ptr<const LoraAdapter>(LoraAdapter::load_for(lora_path("llama_lora.gguf"), *base));
  std::vector<AdapterSet> sets(8);
  const float scales[8] = {1.0f, 0.5f, 1.0f, 2.0f, 0.25f, 1.0f, 0.0f, 1.0f};
  const std::shared_ptr<const LoraAdapter> which[8] = {a1, a1, a2, a2, a3, a3, a1, nullptr};
  for (int i = 0; i < 8; ++i) {
    if (which[i]) sets[i].add(which[i], scales[i]);
  }
  sets[5].add(a1, 0.3f);  // a sequence with two adapters
  ThreadPool pool(2);
  const int64_t vocab = base->hparams().n_vocab;
  std::vector<std::vector<int32_t>> prompts(8);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 3 + i; ++j) prompts[i].push_back((17 * i + 5 * j + 1) % static_cast<int32_t>(vocab));
  }
  // Prefill every sequence in one batch, then two decode steps in one batch each.
  std::vector<std::unique_ptr<KVCache>> caches, solo_caches;
  for (int i = 0; i < 8; ++i) {
    caches.push_back(std::make_unique<KVCache>(base->hparams(), 32));
    solo_caches.push_back(std::make_unique<KVCache>(base->hparams(), 32));
  }
  Forward batch(*base, pool, 128, 128), solo(*base, pool, 32, 32);
  for (int step = 0; step < 3; ++step) {
    std::vector<std::vector<int32_t>> toks(8);
    std::vector<SequenceInput> in;
    for (int i = 0; i < 8; ++i) {
      toks[i] = step == 0 ? prompts[i] : std::vector<int32_t>{(11 * i + step) % static_cast<int32_t>(vocab)};
      in.push_back({caches[i].get(), toks[i], false, sets[i].empty() ? nullptr : &sets[i]});
    }
    batch.run(in);
    for (int i = 0; i < 8; ++i) {
      SequenceInput one{solo_caches[i].get(), toks[i], false, in[i].adapters};
      solo.run({&one, 1});
      expect_close(batch.logits(i), solo.logits(0), static_cast<size_t>(vocab), 1e-5, cat("seq ", i, " step ", step));
    }
  }
  // And the adapters really differ from each other.
  EXPECT_GT(std::abs(batch.logits(0)[0] - batch.logits(7)[0]) + std::abs(batch.logits(2)[1] - batch.logits(4)[1]), 1e-3);
}

// A cache filled under one adapter set is refused under another until cleared.
TEST(LoraRuntime, KvCacheKeyedByAdapterSet) {
  auto base = load_base("llama_untied", false);
  AdapterSet set;
  set.add(LoraAdapter::load_for(lora_path("llama_peft"), *base), 1.0f);
  ThreadPool pool(1);
  KVCache cache(base->hparams(), 16);
  Forward fwd(*base, pool, 8, 8);
  const std::vector<int32_t> t{1, 5, 9};
  SequenceInput in{&cache, t, false, &set};
  fwd.run({&in, 1});
  EXPECT_EQ(cache.adapter_key(), set.key());
  SequenceInput plain{&cache, t, false, nullptr};
  EXPECT_THROW(fwd.run({&plain, 1}), Error);
  set.set_scale(0, 0.5f);
  EXPECT_THROW(fwd.run({&in, 1}), Error);  // a new scale is a new set
  cache.clear();
  EXPECT_NO_THROW(fwd.run({&in, 1}));
  set.set_scale(0, 1.0f);
  const std::string k1 = set.key();
  set.set_scale(0, 0.5f);
  EXPECT_NE(k1, set.key());
}

// Session keeps its cache only while the adapter set and scales stay the same.
TEST(LoraRuntime, SessionSwitchesAdapterSets) {
  auto base = load_base("llama_untied", false);
  AdapterSet set;
  set.add(LoraAdapter::load_for(lora_path("llama_peft"), *base), 1.0f);
  ThreadPool pool(1);
  SessionOptions so;
  so.n_ctx = 64;
  Session session(*base, pool, so);
  const std::vector<int32_t> t{1, 7, 42, 99};
  const int64_t vocab = base->hparams().n_vocab;
  session.set_adapters(&set, adapter_set_key(&set));
  const float* got = session.feed(t);
  auto want = logits_of(*base, t, &set, pool);
  expect_close(got, want.data() + 3 * vocab, static_cast<size_t>(vocab), 1e-5, "scale 1");
  set.set_scale(0, 0.5f);
  session.set_adapters(&set, adapter_set_key(&set));
  EXPECT_EQ(session.position(), 0);  // a new scale: the old cache is dropped
  got = session.feed(t);
  want = logits_of(*base, t, &set, pool);
  expect_close(got, want.data() + 3 * vocab, static_cast<size_t>(vocab), 1e-5, "scale 0.5");
  session.set_adapters(&set, adapter_set_key(&set));
  EXPECT_EQ(session.position(), 4);  // same set: the cache is kept
}

}  // namespace
