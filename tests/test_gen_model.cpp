// `trellis gen-model`: random-weight models at real shapes load, run and are deterministic.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "model/random_model.h"
#include "test_paths.h"

using namespace trellis;
using namespace trellis::test;

namespace {

CliResult must_run(const std::vector<std::string>& args) {
  CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  return r;
}

std::vector<int32_t> some_tokens(int n, int vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 1) % vocab);
  return t;
}

TEST(GenModel, GaussianHasRequestedMoments) {
  std::vector<float> v(1 << 16);
  fill_gaussian(42, 0.5f, 0.02f, v.data(), static_cast<int64_t>(v.size()));
  double sum = 0, sq = 0;
  for (float x : v) sum += x;
  const double mean = sum / v.size();
  for (float x : v) sq += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 0.5, 0.001);
  EXPECT_NEAR(std::sqrt(sq / v.size()), 0.02, 0.0005);
}

TEST(GenModel, TinyLoadsAndRuns) {
  TempDir tmp;
  const std::string out = tmp.file("tiny.gguf");
  must_run({"gen-model", "--shape", "tiny", "--type", "Q8_0", "-o", out});
  auto m = Model::load(out);
  const Hparams& h = m->hparams();
  EXPECT_EQ(m->arch().gguf_name, "llama");
  EXPECT_EQ(h.n_embd, 256);
  EXPECT_EQ(h.n_layer, 4);
  EXPECT_EQ(h.n_head, 4);
  EXPECT_EQ(h.n_head_kv, 2);
  EXPECT_EQ(h.n_ff, 768);
  EXPECT_EQ(h.n_vocab, 1024);
  EXPECT_TRUE(h.tied_embeddings);
  EXPECT_EQ(m->layer(0).wq.type, DType::Q8_0);
  ThreadPool pool(2);
  const EvalResult r = sequence_nll(*m, some_tokens(32, 1024), pool);
  ASSERT_TRUE(std::isfinite(r.nll));
  // Small random weights give nearly uniform predictions.
  EXPECT_NEAR(r.nll, std::log(1024.0), 0.1 * std::log(1024.0));
}

TEST(GenModel, Qwen25ShapeWithBiases) {
  TempDir tmp;
  const std::string out = tmp.file("q.gguf");
  // The real shape with fewer layers and a smaller vocabulary, to keep the test quick.
  must_run({"gen-model", "--shape", "qwen2.5-0.5b", "--layers", "2", "--vocab", "2048", "--type", "F16", "-o", out});
  auto m = Model::load(out);
  const Hparams& h = m->hparams();
  EXPECT_EQ(m->arch().gguf_name, "qwen2");
  EXPECT_EQ(h.n_embd, 896);
  EXPECT_EQ(h.n_head, 14);
  EXPECT_EQ(h.n_head_kv, 2);
  EXPECT_EQ(h.head_dim, 64);
  EXPECT_EQ(h.n_ff, 4864);
  EXPECT_TRUE(m->layer(1).bq.valid());
  EXPECT_EQ(m->layer(1).bk.ne[0], 128);
  ThreadPool pool(2);
  EXPECT_TRUE(std::isfinite(sequence_nll(*m, some_tokens(16, 2048), pool).nll));
}

TEST(GenModel, SmolLM2ShapeHeader) {
  // Full SmolLM2-135M shape as a plan (nothing written): tensor count and sizes.
  RandomModelSpec spec;
  spec.arch = find_arch_by_gguf_name("llama");
  spec.hp = shape_preset("smollm2-135m").hp;
  spec.scheme = parse_quant_scheme("F16");
  const ConvertPlan plan = plan_random_model(spec);
  EXPECT_EQ(plan.tensors.size(), 2u + 30u * 9u);
  int64_t params = 0;
  for (const auto& t : plan.tensors) params += t.ne[0] * t.n_rows();
  EXPECT_EQ(params, 134515008);  // SmolLM2-135M's parameter count
}

TEST(GenModel, Qwen3UntiedWithHeadDim) {
  TempDir tmp;
  const std::string out = tmp.file("q3.gguf");
  must_run({"gen-model", "--arch", "qwen3", "--shape", "custom", "--dim", "128", "--layers", "2", "--heads", "4",
            "--kv-heads", "2", "--head-dim", "64", "--ff", "256", "--vocab", "300", "--untied", "--type", "F32", "-o", out});
  auto m = Model::load(out);
  EXPECT_EQ(m->hparams().head_dim, 64);
  EXPECT_FALSE(m->hparams().tied_embeddings);
  EXPECT_TRUE(m->layer(0).q_norm.valid());
  ThreadPool pool(1);
  EXPECT_TRUE(std::isfinite(sequence_nll(*m, some_tokens(10, 300), pool).nll));
}

TEST(GenModel, DeterministicPerSeedAndThreadCount) {
  TempDir tmp;
  must_run({"gen-model", "--shape", "tiny", "--layers", "1", "--type", "Q4_K_M", "--seed", "5", "-t", "1", "-o", tmp.file("a")});
  must_run({"gen-model", "--shape", "tiny", "--layers", "1", "--type", "Q4_K_M", "--seed", "5", "-t", "2", "-o", tmp.file("b")});
  must_run({"gen-model", "--shape", "tiny", "--layers", "1", "--type", "Q4_K_M", "--seed", "6", "-o", tmp.file("c")});
  EXPECT_EQ(read_text_file(tmp.file("a")), read_text_file(tmp.file("b")));
  EXPECT_NE(read_text_file(tmp.file("a")), read_text_file(tmp.file("c")));
}

TEST(GenModel, TokenizerFrom) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  TempDir tmp;
  const std::string vocab = shared_path("vocab/ggml-vocab-gpt-2.gguf");
  const CliResult small = run_cli({"gen-model", "--shape", "tiny", "--tokenizer-from", vocab, "-o", tmp.file("x")});
  EXPECT_NE(small.exit_code, 0);
  EXPECT_NE(small.err.find("--vocab 50257"), std::string::npos) << small.err;
  must_run({"gen-model", "--shape", "tiny", "--layers", "1", "--vocab", "50304", "--tokenizer-from", vocab, "-o", tmp.file("m")});
  auto f = GgufFile::open(tmp.file("m"));
  auto src = GgufFile::open(vocab);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"), src->get_string_array("tokenizer.ggml.tokens"));
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges").size(), src->get_string_array("tokenizer.ggml.merges").size());
  EXPECT_NO_THROW(Model::load(tmp.file("m")));
}

TEST(GenModel, BadArguments) {
  TempDir tmp;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"gen-model", "--shape", "gpt5", "-o", tmp.file("x")},
           {"gen-model", "--shape", "custom", "--dim", "64", "-o", tmp.file("x")},
           {"gen-model", "--arch", "mamba", "-o", tmp.file("x")},
           {"gen-model", "--type", "Q2_K", "-o", tmp.file("x")},
           {"gen-model", "--shape", "custom", "--dim", "100", "--layers", "1", "--heads", "3", "--ff", "64",
            "--vocab", "64", "-o", tmp.file("x")},
       }) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args[2];
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.file("x")));
}

}  // namespace
