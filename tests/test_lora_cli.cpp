// `trellis lora merge | convert | inspect` end to end, checked against the reference goldens.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "lora/adapter.h"
#include "lora_test_util.h"
#include "model/evaluate.h"

using namespace trellis;
using namespace trellis::test;

namespace {

struct CliRun {
  int rc;
  std::string out;  // stdout + stderr
};

CliRun trellis_cli(const std::string& args) {
  const std::string cmd = cli_path() + " " + args + " 2>&1";
  CliRun r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

double golden_nll(const std::string& c, int seq) {
  return lora_goldens()["cases"][c]["sequences"][seq]["mean_nll"].get<double>();
}

std::vector<int32_t> golden_tokens(const std::string& c, int seq) {
  return lora_goldens()["cases"][c]["sequences"][seq]["tokens"].get<std::vector<int32_t>>();
}

TEST(LoraCli, MergeTwoAdaptersMatchesReference) {
  TempDir tmp("lora_cli_merge");
  const CliRun r = trellis_cli("lora merge -m " + model_dir("llama_untied") + " --lora " + lora_path("llama_peft") +
                            ":0.5 --lora " + lora_path("llama_peft_rslora") + " -o " + tmp.file("m.gguf") + " --type F32");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto merged = Model::load(tmp.file("m.gguf"));
  ThreadPool pool(1);
  EXPECT_NEAR(sequence_nll(*merged, golden_tokens("llama_two", 1), pool).nll, golden_nll("llama_two", 1),
              1e-4 * golden_nll("llama_two", 1));
  // Quantized output: runs, and stays near the reference (Q8_0 error only).
  const CliRun q = trellis_cli("lora merge -m " + model_dir("qwen3_untied") + " --lora " + lora_path("qwen3_lora.gguf") +
                            " -o " + tmp.file("q.gguf") + " --type Q8_0");
  ASSERT_EQ(q.rc, 0) << q.out;
  auto mq = Model::load(tmp.file("q.gguf"));
  EXPECT_EQ(mq->layer(0).wq.type, DType::Q8_0);
  EXPECT_NEAR(sequence_nll(*mq, golden_tokens("qwen3_lora", 1), pool).nll, golden_nll("qwen3_lora", 1),
              2e-2 * golden_nll("qwen3_lora", 1));
}

TEST(LoraCli, ConvertBothWaysAndInspect) {
  TempDir tmp("lora_cli_conv");
  const CliRun to_gguf = trellis_cli("lora convert " + lora_path("llama_peft") + " " + tmp.file("a.gguf") + " -m " +
                                  model_dir("llama_untied"));
  ASSERT_EQ(to_gguf.rc, 0) << to_gguf.out;
  EXPECT_NE(to_gguf.out.find("folded"), std::string::npos) << to_gguf.out;  // alpha_pattern on gate_proj
  const CliRun to_peft = trellis_cli("lora convert " + tmp.file("a.gguf") + " " + tmp.file("p") + " -m " + model_dir("llama_untied"));
  ASSERT_EQ(to_peft.rc, 0) << to_peft.out;
  auto base = Model::load(model_dir("llama_untied"));
  ThreadPool pool(1);
  for (const std::string& p : {tmp.file("a.gguf"), tmp.file("p")}) {
    AdapterSet set;
    set.add(LoraAdapter::load_for(p, *base));
    EXPECT_NEAR(sequence_nll(*base, golden_tokens("llama_peft", 1), pool, DType::F32, &set).nll,
                golden_nll("llama_peft", 1), 1e-4 * golden_nll("llama_peft", 1)) << p;
  }
  const CliRun ins = trellis_cli("lora inspect " + tmp.file("a.gguf"));
  ASSERT_EQ(ins.rc, 0) << ins.out;
  for (const char* want : {"GGUF-LoRA", "llama", "down_proj", "rank 2", "14 matrices"}) {
    EXPECT_NE(ins.out.find(want), std::string::npos) << want << "\n" << ins.out;
  }
  // Without a base, a llama PEFT -> GGUF conversion cannot reorder q/k: a clear error.
  const CliRun no_base = trellis_cli("lora convert " + lora_path("llama_peft") + " " + tmp.file("x.gguf"));
  EXPECT_EQ(no_base.rc, 1);
  EXPECT_NE(no_base.out.find("-m BASE"), std::string::npos) << no_base.out;
}

TEST(LoraCli, BadAdapterIsOneLineError) {
  const CliRun r = trellis_cli("lora merge -m " + model_dir("qwen2_untied") + " --lora " + lora_path("llama_lora.gguf") +
                            " -o /tmp/never_written.gguf");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("error: "), std::string::npos);
  EXPECT_NE(r.out.find("llama_lora.gguf"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists("/tmp/never_written.gguf"));
  const CliRun inf = trellis_cli("lora merge -m " + model_dir("llama_untied") + " --lora " + lora_path("llama_peft") +
                              ":inf -o /tmp/never_written.gguf");
  EXPECT_EQ(inf.rc, 1);
  EXPECT_NE(inf.out.find("finite"), std::string::npos) << inf.out;
}

}  // namespace
