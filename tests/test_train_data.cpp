// Training data: loss masks per format, packing isolation, masked tokens give no gradient.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "train/adapter_export.h"
#include "train/dataset.h"
#include "train/train_model.h"

namespace trellis {
namespace {

const char* kStories = "models/stories260K/stories260K.gguf";

const Model& stories() {
  static std::unique_ptr<Model> m = Model::load(test::shared_path(kStories));
  return *m;
}

TEST(TrainData, PromptCompletionLabelsOnlyCompletion) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const Tokenizer& tok = stories().require_tokenizer();
  const Example e = example_from_json(R"({"prompt": "Tom had a ball.", "completion": " He was happy."})", tok, false);
  const auto prompt = tok.encode("Tom had a ball.", true, false);
  ASSERT_GT(e.tokens.size(), prompt.size());
  for (size_t i = 0; i < e.tokens.size(); ++i) EXPECT_EQ(e.labels[i], i >= prompt.size() ? 1 : 0) << i;
  EXPECT_EQ(e.tokens.back(), tok.eos_id());  // EOS is learned too: the model learns to stop
  const Example all = example_from_json(R"({"prompt": "Tom had a ball.", "completion": " He was happy."})", tok, true);
  EXPECT_EQ(all.n_labels(), static_cast<int64_t>(all.tokens.size()) - 1);
  EXPECT_EQ(show_example(e, tok).find("[<s> Tom had a ball.]"), 0u) << show_example(e, tok);
}

TEST(TrainData, BadExamplesAreRejectedWithReasons) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const Tokenizer& tok = stories().require_tokenizer();
  auto reason = [&](const std::string& line) {
    try {
      example_from_json(line, tok, false);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(reason("{\"text\": 3}").find("must be a string"), std::string::npos);
  EXPECT_NE(reason("{oops").find("malformed JSON"), std::string::npos);
  EXPECT_NE(reason(R"({"messages": [{"role": "user", "content": "hi"}]})").find("no assistant turn"), std::string::npos);
  EXPECT_NE(reason(R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})")
                .find("no chat template"),
            std::string::npos);
  EXPECT_NE(reason(R"({"foo": 1})").find("expected a \"text\""), std::string::npos);
}

TEST(TrainData, PackingKeepsExamplesApart) {
  std::vector<Example> ex(5);
  for (size_t i = 0; i < ex.size(); ++i) {
    ex[i].tokens.assign(3 + i, 1);
    ex[i].labels.assign(3 + i, 1);
  }
  const auto w = pack_examples(ex, 10, true);  // sizes 3,4,5,6,7 -> {3,4} {5} {6} {7}
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(pack_examples(ex, 10, false).size(), 5u);
  TrainBatch b;
  append_window(ex, w[0], b);
  EXPECT_EQ(b.pos, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 3}));
  EXPECT_EQ(b.seg_start, (std::vector<int32_t>{0, 0, 0, 3, 3, 3, 3}));
  EXPECT_EQ(b.targets[2], -1);  // the last token of an example predicts nothing
}

// An example's loss is the same alone and packed between two others.
TEST(TrainData, PackedLossEqualsAlone) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const Tokenizer& tok = stories().require_tokenizer();
  std::vector<Example> ex;
  for (const char* t : {"The cat sat on the mat.", "Lily went to the park with her mom and saw a big dog.",
                        "Tom liked to run."}) {
    ex.push_back(example_from_json(std::string("{\"text\": \"") + t + "\"}", tok, false));
  }
  LoraParams params(stories(), LoraSpec{});
  params.init(7);
  for (size_t i = 0; i < params.values.size(); ++i) params.values[i] += 0.01f * std::sin(static_cast<float>(i));
  ThreadPool pool(1);
  TrainModel tm(stories(), params, pool, {256, false});
  TrainBatch alone, packed;
  append_window(ex, {1}, alone);
  append_window(ex, {0, 1, 2}, packed);
  TrainBatch others;
  append_window(ex, {0, 2}, others);
  const double a = tm.forward_loss(alone), p = tm.forward_loss(packed), o = tm.forward_loss(others);
  EXPECT_NEAR(p - o, a, 1e-5 * a);
}

// Masked (prompt) positions contribute nothing: the gradient of the masked mean loss equals
// the sum of the gradients of each completion position alone; and scoring one prompt
// position changes it (so the check can fail).
TEST(TrainData, OnlyLabelTokensContributeGradients) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const Tokenizer& tok = stories().require_tokenizer();
  const Example e = example_from_json(R"({"prompt": "Once upon a time there was a girl.", "completion": " She had a red hat."})", tok, false);
  LoraParams params(stories(), LoraSpec{});
  params.init(3);
  for (size_t i = 0; i < params.values.size(); ++i) params.values[i] += 0.02f * std::cos(static_cast<float>(i));
  ThreadPool pool(1);
  TrainModel tm(stories(), params, pool, {256, false});
  TrainBatch full;
  append_window({e}, {0}, full);
  const int64_t n = full.scored();
  params.zero_grads();
  tm.forward_backward(full, 1.0f / static_cast<float>(n), 0);
  const std::vector<float> g = params.grads;
  params.zero_grads();
  for (int64_t t = 0; t < full.size(); ++t) {
    if (full.targets[t] < 0) continue;
    TrainBatch one = full;
    for (int64_t j = 0; j < one.size(); ++j) one.targets[j] = j == t ? full.targets[j] : -1;
    tm.forward_backward(one, 1.0f / static_cast<float>(n), 0);
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    num += (g[i] - params.grads[i]) * (g[i] - params.grads[i]);
    den += g[i] * g[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
  TrainBatch leaky = full;
  leaky.targets[1] = leaky.tokens[2];  // a prompt position scored
  params.zero_grads();
  tm.forward_backward(leaky, 1.0f / static_cast<float>(n), 0);
  double diff = 0;
  for (size_t i = 0; i < g.size(); ++i) diff += std::fabs(g[i] - params.grads[i]);
  EXPECT_GT(diff, 1e-3);
}

}  // namespace
}  // namespace trellis

namespace trellis {
namespace {

// The GGUF llama base stores q/k rows permuted for interleaved RoPE; the HF base does not.
// The same LoRA (B rows of q/k permuted the same way for the GGUF base) must give the same
// loss on both, and both must export the same PEFT tensors (HF order).
TEST(TrainData, GgufAndHfBasesAgreeAndExportHfOrder) {
  TRELLIS_REQUIRE_SHARED(kStories);
  TRELLIS_REQUIRE_SHARED("models/stories260K/hf/model.safetensors");
  const auto hf = Model::load(test::shared_path("models/stories260K/hf"), test::shared_path(kStories));
  const Model& gg = stories();
  ASSERT_EQ(gg.rope_style(), RopeStyle::Interleaved);
  LoraParams ph(*hf, LoraSpec{}), pg(gg, LoraSpec{});
  ph.init(9);
  for (size_t i = 0; i < ph.values.size(); ++i) ph.values[i] += 0.05f * std::sin(0.37f * static_cast<float>(i));
  pg.values = ph.values;
  const int64_t hd = gg.hparams().head_dim, half = hd / 2, r = ph.spec().rank;
  for (const LoraSlot& s : pg.slots()) {
    if (s.proj != Projection::Q && s.proj != Projection::K) continue;
    for (int64_t row = 0; row < s.out; ++row) {  // interleaved row 2i+j <- HF row j*half+i
      const int64_t head = row / hd, k = row % hd, src = head * hd + (k % 2) * half + k / 2;
      for (int64_t c = 0; c < r; ++c) pg.values[s.b_offset + row * r + c] = ph.values[s.b_offset + src * r + c];
    }
  }
  ThreadPool pool(1);
  TrainModel th(*hf, ph, pool, {64, false}), tg(gg, pg, pool, {64, false});
  const Tokenizer& tok = gg.require_tokenizer();
  std::vector<Example> ex = {example_from_json(R"({"text": "Lily and Tom went to the park to play."})", tok, false)};
  TrainBatch b;
  append_window(ex, {0}, b);
  const double lh = th.forward_loss(b), lg = tg.forward_loss(b);
  EXPECT_NEAR(lh, lg, 1e-4 * lh);
  const auto dir = std::filesystem::temp_directory_path() / ("trellis_peft_" + std::to_string(::getpid()));
  write_trained_adapter(ph, *hf, (dir / "hf").string(), false);
  write_trained_adapter(pg, gg, (dir / "gguf").string(), false);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(slurp(dir / "hf/adapter_model.safetensors"), slurp(dir / "gguf/adapter_model.safetensors"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace trellis
