// Full training (`trellis train --full`): gradients of every weight and ten AdamW steps
// against the float64 autograd reference (scripts/reference/gen_full_train_goldens.py), and
// the command end to end: it learns, writes a loadable model, resumes exactly.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/thread_pool.h"
#include "formats/safetensors.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "cli_util.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "train/full_params.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/train_model.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;

const nlohmann::json& goldens() {
  static const nlohmann::json j = [] {
    std::ifstream f(test::data_path("train/full_goldens.json"));
    return nlohmann::json::parse(f);
  }();
  return j;
}

TrainBatch make_batch(const nlohmann::json& seqs) {
  TrainBatch b;
  for (const auto& s : seqs) {
    const auto mask = s["mask"].get<std::vector<int>>();
    b.add_segment(s["tokens"].get<std::vector<int32_t>>(), std::vector<uint8_t>(mask.begin(), mask.end()));
  }
  return b;
}

class TrainFullGrad : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainFullGrad, EveryWeightGradientMatchesAutograd) {
  const std::string name = GetParam();
  const auto& g = goldens()["models"][name];
  const auto ref = SafetensorsFile::open(test::data_path("train/full_grads_" + name + ".safetensors"));
  const auto model = Model::load(test::data_path("models/" + name));
  for (bool checkpointing : {false, true}) {
    ThreadPool pool(2);
    FullParams full(*model, pool);
    TrainModel tm(*model, full, pool, {64, checkpointing});
    const TrainBatch batch = make_batch(g["batch"]);
    ASSERT_EQ(batch.scored(), g["n_scored"].get<int64_t>());
    const double nll = tm.forward_backward(batch, 1.0f / static_cast<float>(batch.scored()), 0);
    EXPECT_NEAR(nll / batch.scored(), g["loss"].get<double>(), 1e-5 * g["loss"].get<double>());
    double worst = 0;
    size_t checked = 0;
    for (const TensorView* t : model->all_tensors()) {
      const TensorView* want = ref->find_tensor(t->name);
      ASSERT_NE(want, nullptr) << t->name << " has no reference gradient";
      ASSERT_EQ(want->n_elements(), t->n_elements()) << t->name;
      const float* got = full.grad(*t);
      ASSERT_NE(got, nullptr) << t->name;
      const auto* w = reinterpret_cast<const float*>(want->data);
      double num = 0, den = 0;
      for (int64_t i = 0; i < t->n_elements(); ++i) {
        num += (static_cast<double>(got[i]) - w[i]) * (static_cast<double>(got[i]) - w[i]);
        den += static_cast<double>(w[i]) * w[i];
      }
      const double rel = std::sqrt(num / std::max(den, 1e-300));
      EXPECT_LT(rel, 1e-4) << t->name;
      worst = std::max(worst, rel);
      ++checked;
    }
    EXPECT_EQ(checked, ref->tensors().size()) << "every reference gradient is compared";
    std::printf("%s checkpointing=%d: %zu tensors, worst relative gradient error %.2e\n", name.c_str(), checkpointing,
                checked, worst);
  }
}

TEST_P(TrainFullGrad, TenAdamWStepsFollowReferenceLossCurve) {
  const std::string name = GetParam();
  const auto& g = goldens()["models"][name];
  const auto& c = goldens()["step_config"];
  const auto model = Model::load(test::data_path("models/" + name));
  ThreadPool pool(2);
  FullParams full(*model, pool);
  TrainModel tm(*model, full, pool, {64, false});
  const TrainBatch a = make_batch(g["batch_a"]), b = make_batch(g["batch_b"]);
  AdamW opt(full.values.size(), {c["beta1"].get<double>(), c["beta2"].get<double>(), c["eps"].get<double>(),
                                 c["weight_decay"].get<double>()});
  LrSchedule sched{c["lr"].get<double>(), c["warmup"].get<int64_t>(), c["steps"].get<int64_t>(),
                   LrSchedule::parse(c["schedule"].get<std::string>()), c["min_lr_ratio"].get<double>()};
  const auto want = g["step_losses"].get<std::vector<double>>();
  const auto want_norm = g["step_grad_norms"].get<std::vector<double>>();
  const float w = 1.0f / static_cast<float>(a.scored() + b.scored());
  for (size_t s = 0; s < want.size(); ++s) {
    full.zero_grads();
    const double loss = (tm.forward_backward(a, w, s) + tm.forward_backward(b, w, s)) * w;
    const double norm = clip_grad_norm(full.grads, c["clip"].get<double>());
    opt.step(full.values, full.grads, sched.at(static_cast<int64_t>(s)));
    EXPECT_NEAR(loss, want[s], 1e-3 * want[s]) << "step " << s;
    EXPECT_NEAR(norm, want_norm[s], 1e-3 * want_norm[s]) << "step " << s;
    std::printf("step %zu: loss %.7f ref %.7f (rel %.1e)\n", s, loss, want[s], std::fabs(loss - want[s]) / want[s]);
  }
}

INSTANTIATE_TEST_SUITE_P(Train, TrainFullGrad, ::testing::Values("llama_tied", "qwen2_tied", "qwen3_untied"));

// ---- the command ---------------------------------------------------------------------

// Runs the CLI with whitespace-separated arguments (the paths here contain no spaces).
test::CliResult cli(const std::string& args) {
  std::istringstream in(args);
  std::vector<std::string> argv;
  for (std::string a; in >> a;) argv.push_back(a);
  return test::run_cli(argv);
}

struct Scratch : test::TempDir {
  std::string operator/(const std::string& name) const { return file(name); }
};

const auto slurp = test::read_text_file;

// Training losses in order, as logged in metrics.jsonl (timings differ between runs).
std::vector<double> losses(const std::string& metrics) {
  std::vector<double> out;
  std::istringstream in(slurp(metrics));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  return out;
}

double text_nll(const std::string& model_path, const std::string& text) {
  const auto m = Model::load(model_path);
  const std::vector<int32_t> ids = m->require_tokenizer().encode(text, true, false);
  ThreadPool pool(1);
  return sequence_nll(*m, ids, pool).nll;
}

// A random byte-vocabulary model pre-trained from scratch on one repeated sentence must learn
// it; the written model loads and scores the text far better than the random start.
TEST(TrainFullCli, PretrainsRandomModelAndResumesExactly) {
  Scratch s;
  const std::string base = s / "random.gguf";
  ASSERT_EQ(cli("gen-model --shape custom --dim 64 --layers 2 --heads 4 --ff 128 --byte-vocab --type F32 --seed 3 -o " +
                base).exit_code, 0);
  const std::string text = "the seed grows into a tree. ";
  {
    std::ofstream f(s / "data.txt");
    for (int i = 0; i < 40; ++i) f << text;
  }
  const std::string common = "train --full -m " + base + " --data " + (s / "data.txt") +
                             " --ctx 64 --lr 3e-3 --warmup 2 --seed 4 -t 1 --no-plot --name tiny-test";
  const std::string args = common + " --steps 24";
  const test::CliResult full = cli(args + " -o " + (s / "a"));
  ASSERT_EQ(full.exit_code, 0) << full.all();
  EXPECT_NE(full.all().find("full training"), std::string::npos) << full.all();
  EXPECT_NE(full.all().find("trained-weight state"), std::string::npos) << full.all();
  ASSERT_TRUE(fs::exists(s / "a/model.gguf"));
  EXPECT_FALSE(fs::exists(s / "a/adapter_config.json"));
  const double before = text_nll(base, text + text), after = text_nll(s / "a/model.gguf", text + text);
  std::printf("NLL of the training sentence: random %.3f, trained %.3f nats/token\n", before, after);
  EXPECT_LT(after, 0.5 * before);
  EXPECT_EQ(Model::load(s / "a/model.gguf")->name(), "tiny-test");

  const test::CliResult cut = cli(args + " -o " + (s / "b") + " --stop-after 10");
  ASSERT_EQ(cut.exit_code, 130) << cut.all();
  const test::CliResult resumed = cli(args + " -o " + (s / "b") + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
  EXPECT_EQ(losses(s / "a/metrics.jsonl"), losses(s / "b/metrics.jsonl"));
  EXPECT_EQ(slurp(s / "a/model.gguf"), slurp(s / "b/model.gguf"));  // bit for bit

  const test::CliResult lora_resume = cli("train -m " + base + " --data " + (s / "data.txt") +
                                 " --ctx 64 --steps 24 --seed 4 -t 1 -o " + (s / "b") + " --resume");
  EXPECT_EQ(lora_resume.exit_code, 1);
  EXPECT_NE(lora_resume.all().find("cannot resume: setting"), std::string::npos) << lora_resume.all();

  const test::CliResult f16 = cli(common + " --steps 2 --save-type F16 -o " + (s / "c"));
  ASSERT_EQ(f16.exit_code, 0) << f16.all();
  EXPECT_NE(cli("inspect " + (s / "c/model.gguf")).out.find("F16"), std::string::npos);
}

TEST(TrainFullCli, BadOptionsAreRefusedBeforeTraining) {
  Scratch s;
  const std::string base = s / "random.gguf";
  ASSERT_EQ(cli("gen-model --shape custom --dim 32 --layers 1 --heads 2 --ff 64 --byte-vocab --type F32 -o " + base).exit_code, 0);
  std::ofstream(s / "data.txt") << "some text to train on, some text to train on.";
  const test::CliResult dropout = cli("train --full --dropout 0.1 -m " + base + " --data " + (s / "data.txt") + " -o " + (s / "o"));
  EXPECT_EQ(dropout.exit_code, 1);
  EXPECT_NE(dropout.all().find("--dropout"), std::string::npos) << dropout.all();
  const test::CliResult type = cli("train --full --save-type Q9 -m " + base + " --data " + (s / "data.txt") + " -o " + (s / "o"));
  EXPECT_EQ(type.exit_code, 1);
  EXPECT_NE(type.all().find("unknown quantization type"), std::string::npos) << type.all();
  EXPECT_FALSE(fs::exists(s / "o/model.gguf"));
}

}  // namespace
}  // namespace trellis
