// Trained LoRA parameters written as PEFT and as GGUF-LoRA (train/adapter_export through
// lora/adapter_writer) load through the inference path (LoraAdapter::load_for + AdapterSet)
// and reproduce the training forward's loss, for a base that stores q/k rows permuted (llama
// GGUF) and one that does not (the same model in Hugging Face layout).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "cli_util.h"
#include "core/thread_pool.h"
#include "lora/adapter_set.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "train/adapter_export.h"
#include "train/train_model.h"

namespace trellis {
namespace {

const char* kStories = "models/stories260K/stories260K.gguf";
const char* kStoriesHf = "models/stories260K/hf/model.safetensors";

// Every projection adapted, B far from zero, so q/k rows in the wrong order change the loss.
LoraParams random_params(const Model& m) {
  LoraSpec spec;
  spec.rank = 4;
  spec.alpha = 8.0f;
  LoraParams p(m, spec);
  p.init(11);
  for (size_t i = 0; i < p.values.size(); ++i) p.values[i] += 0.08f * std::sin(0.61f * static_cast<float>(i) + 0.3f);
  return p;
}

double inference_sum_nll(const Model& base, const std::vector<int32_t>& seq, std::shared_ptr<const LoraAdapter> a,
                         ThreadPool& pool) {
  AdapterSet set;
  const bool adapted = a != nullptr;
  if (adapted) set.add(std::move(a));
  return sequence_nll(base, seq, pool, DType::F32, adapted ? &set : nullptr).sum_nll;
}

struct Forms {
  double peft = 0, gguf = 0;
};

// Writes `params` (trained on `trained_on`) both ways and scores `seq` on `apply_to` with each.
Forms score_both_forms(const LoraParams& params, const Model& trained_on, const Model& apply_to,
                       const std::vector<int32_t>& seq, ThreadPool& pool) {
  test::TempDir tmp;
  const std::string dir = tmp.file("adapter");
  write_trained_adapter(params, trained_on, dir, true);
  EXPECT_TRUE(std::filesystem::exists(dir + "/adapter_config.json"));
  const std::string gguf = dir + "/" + kGgufLoraFileName;
  EXPECT_EQ(LoraAdapter::load(gguf)->meta().format, AdapterFormat::GgufLora);
  Forms f;
  f.peft = inference_sum_nll(apply_to, seq, LoraAdapter::load_for(dir, apply_to), pool);
  f.gguf = inference_sum_nll(apply_to, seq, LoraAdapter::load_for(gguf, apply_to), pool);
  return f;
}

class TrainAdapterExport : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test::shared_path(kStories)) || !std::filesystem::exists(test::shared_path(kStoriesHf))) {
      GTEST_SKIP() << "missing ../shared/" << kStories << " or its hf/ form (shared test material absent)";
    }
    gguf_ = Model::load(test::shared_path(kStories));
    hf_ = Model::load(test::shared_path("models/stories260K/hf"), test::shared_path(kStories));
    seq_ = gguf_->require_tokenizer().encode("Lily and Tom went to the park. They saw a big red ball and played.", true, false);
  }
  // Σ NLL of every token after the first under the training forward with `params` applied.
  double train_sum_nll(const Model& m, LoraParams& params) {
    ThreadPool pool(1);
    TrainModel tm(m, params, pool, {static_cast<int64_t>(seq_.size()), false});
    TrainBatch b;
    std::vector<uint8_t> labels(seq_.size(), 1);
    b.add_segment(seq_, labels);
    return tm.forward_loss(b);
  }

  std::unique_ptr<Model> gguf_, hf_;
  std::vector<int32_t> seq_;
};

// Inference with either file reproduces the training forward (F32 kernels of two different
// implementations: agreement to 1e-4 relative), and the two files are the same adapter.
TEST_F(TrainAdapterExport, PeftAndGgufLoraReproduceTheTrainingLossOnAGgufLlamaBase) {
  ASSERT_EQ(gguf_->rope_style(), RopeStyle::Interleaved);
  LoraParams p = random_params(*gguf_);
  const double trained = train_sum_nll(*gguf_, p);
  ThreadPool pool(1);
  const double plain = inference_sum_nll(*gguf_, seq_, nullptr, pool);
  ASSERT_GT(std::fabs(plain - trained), 0.05 * trained) << "the adapter must matter for this test to mean anything";
  const Forms f = score_both_forms(p, *gguf_, *gguf_, seq_, pool);
  EXPECT_NEAR(f.peft, trained, 1e-4 * trained);
  EXPECT_EQ(f.peft, f.gguf);  // the same F32 values reach the same kernels
}

TEST_F(TrainAdapterExport, PeftAndGgufLoraReproduceTheTrainingLossOnAnHfBase) {
  ASSERT_EQ(hf_->rope_style(), RopeStyle::RotateHalf);
  LoraParams p = random_params(*hf_);
  const double trained = train_sum_nll(*hf_, p);
  ThreadPool pool(1);
  const Forms f = score_both_forms(p, *hf_, *hf_, seq_, pool);
  EXPECT_NEAR(f.peft, trained, 1e-4 * trained);
  EXPECT_EQ(f.peft, f.gguf);
  // The same files on the GGUF form of the base (q/k rows permuted) give the same model.
  const Forms g = score_both_forms(p, *hf_, *gguf_, seq_, pool);
  EXPECT_NEAR(g.peft, trained, 1e-4 * trained);
  EXPECT_NEAR(g.gguf, trained, 1e-4 * trained);
}

// The check can fail: the GGUF-LoRA file with its q/k B rows read in the other layout (what
// a writer that forgot the permutation would produce) gives a clearly different loss.
TEST_F(TrainAdapterExport, QkRowsInTheWrongLayoutAreDetected) {
  LoraParams p = random_params(*gguf_);
  const double trained = train_sum_nll(*gguf_, p);
  test::TempDir tmp;
  write_trained_adapter(p, *gguf_, tmp.path(), true);
  auto wrong = LoraAdapter::load(tmp.file(kGgufLoraFileName));
  const Hparams& h = gguf_->hparams();
  wrong->convert_qk_layout(RopeStyle::RotateHalf, h.n_head, h.n_head_kv, h.head_dim);  // rows moved, layout then lied about
  AdapterMeta meta = wrong->meta();
  meta.qk_layout = RopeStyle::Interleaved;
  const LoraAdapter mislabelled(meta, wrong->targets());
  ThreadPool pool(1);
  const double bad = inference_sum_nll(*gguf_, seq_, std::make_shared<LoraAdapter>(mislabelled), pool);
  EXPECT_GT(std::fabs(bad - trained), 1e-3 * trained);
}

// The GGUF-LoRA file follows llama.cpp's conventions: general.type adapter, alpha, lora_a
// with ne {in, rank} and lora_b with ne {rank, out} for every trained projection.
TEST_F(TrainAdapterExport, GgufLoraFileLayout) {
  LoraParams p = random_params(*gguf_);
  test::TempDir tmp;
  write_trained_adapter(p, *gguf_, tmp.path(), true);
  const auto a = LoraAdapter::load(tmp.file(kGgufLoraFileName));
  EXPECT_EQ(a->meta().arch, "llama");
  EXPECT_EQ(a->meta().base_model, gguf_->name());
  ASSERT_EQ(a->targets().size(), p.slots().size());
  for (const LoraTarget& t : a->targets()) {
    EXPECT_EQ(t.rank, 4);
    EXPECT_FLOAT_EQ(t.alpha, 8.0f);
    EXPECT_FLOAT_EQ(t.scale, 2.0f);
    const LoraSlot* s = p.slot(t.ref.layer, t.ref.proj);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(t.in, s->in);
    EXPECT_EQ(t.out, s->out);
    // A is never permuted: byte-identical to the trained values.
    EXPECT_TRUE(std::equal(t.a.begin(), t.a.end(), p.values.begin() + s->a_offset));
  }
}

}  // namespace
}  // namespace trellis
