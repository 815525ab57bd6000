// "It learns something real": a LoRA on stories260K trained on stories whose hero is always
// Trellis and which end with Trellis planting a seed. Held-out NLL on that style must drop
// clearly, and greedy text from a plain story opening must show the new hero with the
// adapter and not without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/thread_pool.h"
#include "model/model.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/trainer.h"
#include "train/train_model.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;
const char* kStories = "models/stories260K/stories260K.gguf";

double heldout_nll(TrainModel& tm, const std::vector<Example>& ex) {
  double nll = 0;
  int64_t n = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    TrainBatch b;
    append_window(ex, {static_cast<int32_t>(i)}, b);
    nll += tm.forward_loss(b);
    n += b.scored();
  }
  return nll / static_cast<double>(n);
}

std::string greedy(TrainModel& tm, const Tokenizer& tok, const std::string& prompt, int n_new) {
  std::vector<int32_t> ids = tok.encode(prompt, true, false);
  const size_t n_prompt = ids.size();
  const int64_t V = tok.n_vocab();
  for (int i = 0; i < n_new; ++i) {
    TrainBatch b;
    b.add_segment(ids, std::vector<uint8_t>(ids.size(), 0));
    const std::vector<float>& logits = tm.forward_logits(b);
    const float* last = logits.data() + (b.size() - 1) * V;
    const int32_t next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    if (next == tok.eos_id()) break;
    ids.push_back(next);
  }
  return tok.decode(std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(n_prompt), ids.end()));
}

TEST(TrainLearns, StoriesHeroBecomesTrellis) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const auto model = Model::load(test::shared_path(kStories));
  const Tokenizer& tok = model->require_tokenizer();
  const fs::path out = fs::temp_directory_path() / ("trellis_learns_" + std::to_string(::getpid()));
  fs::remove_all(out);
  TrainerConfig c;
  c.data_path = test::data_path("train/trellis_stories_train.jsonl");
  c.out_dir = out.string();
  c.data.ctx = 256;
  c.lr = 5e-3;
  c.warmup = 2;
  c.steps = 24;
  c.seed = 5;
  c.plot = false;
  ThreadPool pool(1);
  Trainer trainer(*model, c, pool, [](const std::string&) {});
  const TrainResult r = trainer.run();
  ASSERT_EQ(r.steps, 24);

  LoraParams base(*model, c.lora), trained(*model, c.lora);  // base: B = 0, exactly the base model
  base.init(1);
  AdamW opt(trained.values.size(), {});
  load_checkpoint((out / "checkpoint.safetensors").string(), trained.values, opt, nlohmann::json::object());
  DatasetStats st;
  const auto heldout = load_examples(test::data_path("train/trellis_stories_heldout.jsonl"), tok, c.data, st);
  TrainModel tm_base(*model, base, pool, {256, false}), tm_lora(*model, trained, pool, {256, false});
  const double nll_base = heldout_nll(tm_base, heldout), nll_lora = heldout_nll(tm_lora, heldout);
  std::printf("held-out NLL: base %.4f, with adapter %.4f nats/token\n", nll_base, nll_lora);
  EXPECT_LT(nll_lora, 0.5 * nll_base);

  const std::string prompt = "Once upon a time, there was a little";
  const std::string without = greedy(tm_base, tok, prompt, 90), with = greedy(tm_lora, tok, prompt, 90);
  std::printf("without adapter: %s%s\nwith adapter:    %s%s\n", prompt.c_str(), without.c_str(), prompt.c_str(), with.c_str());
  EXPECT_NE(with.find("named Trellis"), std::string::npos);
  EXPECT_NE(with.find("planted a seed"), std::string::npos);
  EXPECT_EQ(without.find("Trellis"), std::string::npos);
  EXPECT_EQ(without.find("planted a seed"), std::string::npos);
  fs::remove_all(out);
}

}  // namespace
}  // namespace trellis
