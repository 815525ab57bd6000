// Whole-model LoRA gradients and ten optimizer steps against the float64 autograd reference
// (tests/data/train/goldens.json from scripts/reference/gen_train_goldens.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "model/model.h"
#include "test_paths.h"
#include "train/lora_params.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/train_model.h"

namespace trellis {
namespace {

const nlohmann::json& goldens() {
  static const nlohmann::json j = [] {
    std::ifstream f(test::data_path("train/goldens.json"));
    return nlohmann::json::parse(f);
  }();
  return j;
}

const char* kHfProj[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                         "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

std::string module_name(const LoraSlot& s) {
  return "model.layers." + std::to_string(s.layer) + "." + kHfProj[static_cast<int>(s.proj)];
}

struct Fixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<LoraParams> params;
};

Fixture load_fixture(const std::string& name) {
  const auto& g = goldens();
  Fixture f;
  f.model = Model::load(test::data_path("models/" + name));
  LoraSpec spec;
  spec.rank = g["rank"].get<int64_t>();
  spec.alpha = g["alpha"].get<float>();
  f.params = std::make_unique<LoraParams>(*f.model, spec);
  const auto& lora = g["models"][name]["lora"];
  for (const LoraSlot& s : f.params->slots()) {
    const auto& e = lora.at(module_name(s));
    const auto a = e["A"].get<std::vector<double>>(), b = e["B"].get<std::vector<double>>();
    EXPECT_EQ(static_cast<int64_t>(a.size()), spec.rank * s.in);
    EXPECT_EQ(static_cast<int64_t>(b.size()), spec.rank * s.out);
    for (size_t i = 0; i < a.size(); ++i) f.params->values[s.a_offset + i] = static_cast<float>(a[i]);
    for (size_t i = 0; i < b.size(); ++i) f.params->values[s.b_offset + i] = static_cast<float>(b[i]);
  }
  return f;
}

// Every sequence of a golden batch becomes one segment of a single packed micro-batch.
TrainBatch make_batch(const nlohmann::json& seqs) {
  TrainBatch b;
  for (const auto& s : seqs) {
    const auto mask = s["mask"].get<std::vector<int>>();
    b.add_segment(s["tokens"].get<std::vector<int32_t>>(), std::vector<uint8_t>(mask.begin(), mask.end()));
  }
  return b;
}

double rel_error(const float* got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

class TrainGrad : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainGrad, LoraGradientsMatchAutograd) {
  const std::string name = GetParam();
  const auto& g = goldens()["models"][name];
  for (bool checkpointing : {false, true}) {
    Fixture f = load_fixture(name);
    ThreadPool pool(2);
    TrainModel tm(*f.model, *f.params, pool, {64, checkpointing});
    const TrainBatch batch = make_batch(g["batch"]);
    ASSERT_EQ(batch.scored(), g["n_scored"].get<int64_t>());
    f.params->zero_grads();
    const double nll = tm.forward_backward(batch, 1.0f / static_cast<float>(batch.scored()), 0);
    EXPECT_NEAR(nll / batch.scored(), g["loss"].get<double>(), 1e-5 * g["loss"].get<double>());
    double worst = 0;
    for (const LoraSlot& s : f.params->slots()) {
      const auto& e = g["grads"].at(module_name(s));
      const double ea = rel_error(f.params->grads.data() + s.a_offset, e["A"].get<std::vector<double>>());
      const double eb = rel_error(f.params->grads.data() + s.b_offset, e["B"].get<std::vector<double>>());
      EXPECT_LT(ea, 1e-4) << module_name(s) << ".lora_A";
      EXPECT_LT(eb, 1e-4) << module_name(s) << ".lora_B";
      worst = std::max({worst, ea, eb});
    }
    std::printf("%s checkpointing=%d: loss %.9f (ref %.9f), worst relative gradient error %.2e\n", name.c_str(),
                checkpointing, nll / batch.scored(), g["loss"].get<double>(), worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Train, TrainGrad, ::testing::Values("llama_tied", "llama_untied", "qwen2_tied", "qwen3_tied"));

class TrainSteps : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainSteps, TenAdamWStepsFollowReferenceLossCurve) {
  const std::string name = GetParam();
  const auto& g = goldens()["models"][name];
  const auto& c = goldens()["step_config"];
  Fixture f = load_fixture(name);
  ThreadPool pool(2);
  TrainModel tm(*f.model, *f.params, pool, {64, false});
  const TrainBatch a = make_batch(g["batch_a"]), b = make_batch(g["batch_b"]);
  AdamW opt(f.params->values.size(), {c["beta1"].get<double>(), c["beta2"].get<double>(), c["eps"].get<double>(),
                                      c["weight_decay"].get<double>()});
  LrSchedule sched{c["lr"].get<double>(), c["warmup"].get<int64_t>(), c["steps"].get<int64_t>(),
                   LrSchedule::parse(c["schedule"].get<std::string>()), c["min_lr_ratio"].get<double>()};
  const auto want = g["step_losses"].get<std::vector<double>>();
  const auto want_lr = g["step_lrs"].get<std::vector<double>>();
  const auto want_norm = g["step_grad_norms"].get<std::vector<double>>();
  const float w = 1.0f / static_cast<float>(a.scored() + b.scored());  // normalised over both micro-batches
  for (size_t s = 0; s < want.size(); ++s) {
    f.params->zero_grads();
    const double loss = (tm.forward_backward(a, w, s) + tm.forward_backward(b, w, s)) * w;
    const double norm = clip_grad_norm(f.params->grads, c["clip"].get<double>());
    const double lr = sched.at(static_cast<int64_t>(s));
    opt.step(f.params->values, f.params->grads, lr);
    EXPECT_NEAR(loss, want[s], 1e-3 * want[s]) << "step " << s;
    EXPECT_NEAR(lr, want_lr[s], 1e-12) << "step " << s;
    EXPECT_NEAR(norm, want_norm[s], 1e-3 * want_norm[s]) << "step " << s;
    std::printf("step %zu: loss %.7f ref %.7f (rel %.1e)\n", s, loss, want[s], std::fabs(loss - want[s]) / want[s]);
  }
}

INSTANTIATE_TEST_SUITE_P(Train, TrainSteps, ::testing::Values("llama_tied", "qwen3_tied"));

}  // namespace
}  // namespace trellis
