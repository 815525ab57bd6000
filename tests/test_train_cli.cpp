// `trellis train` end to end: outputs, reproducibility, resume exactness, bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_paths.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;
const char* kStories = "models/stories260K/stories260K.gguf";

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("trellis_train_cli_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

struct CliRun {
  int rc = -1;
  std::string out;
};

CliRun train(const std::string& args) {
  const std::string cmd = test::cli_path() + " train -m " + test::shared_path(kStories) + " -t 1 " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Losses and eval losses in order, as logged in metrics.jsonl.
std::vector<double> losses(const std::string& metrics) {
  std::vector<double> out;
  std::istringstream in(slurp(metrics));
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    out.push_back(j.contains("loss") ? j["loss"].get<double>() : -j["eval_loss"].get<double>());
  }
  return out;
}

std::string data_file() { return test::data_path("train/trellis_stories_train.jsonl"); }
std::string eval_file() { return test::data_path("train/trellis_stories_heldout.jsonl"); }
const std::string kCommon = " --ctx 128 --lr 5e-3 --warmup 2 --seed 11 --dropout 0.1 --grad-accum 2 --eval-every 2";

TEST(TrainCli, WritesPeftAdapterAndLogs) {
  TRELLIS_REQUIRE_SHARED(kStories);
  Scratch s;
  const CliRun r = train("--data " + data_file() + " --eval-data " + eval_file() + " --steps 3 --rank 4 --alpha 8 " +
                      "--targets q,v,down -o " + (s / "out") + kCommon);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("MFU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory plan"), std::string::npos);
  const auto cfg = nlohmann::json::parse(slurp(s / "out/adapter_config.json"));
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 8.0);
  EXPECT_EQ(cfg["target_modules"], nlohmann::json::parse(R"(["q_proj","v_proj","down_proj"])"));
  EXPECT_EQ(cfg["use_rslora"], false);
  const std::string st = slurp(s / "out/adapter_model.safetensors");
  EXPECT_NE(st.find("base_model.model.model.layers.4.self_attn.q_proj.lora_A.weight"), std::string::npos);
  EXPECT_NE(st.find("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"), std::string::npos);
  EXPECT_EQ(st.find("k_proj"), std::string::npos);
  EXPECT_TRUE(fs::exists(s / "out/best/adapter_model.safetensors"));
  EXPECT_EQ(slurp(s / "out/loss.png").substr(1, 3), "PNG");
  EXPECT_EQ(losses(s / "out/metrics.jsonl").size(), 3u + 3u);  // 3 steps, evals at 0, 2, 3
}

TEST(TrainCli, SameSeedSameBits) {
  TRELLIS_REQUIRE_SHARED(kStories);
  Scratch s;
  for (const char* o : {"a", "b"}) {
    const CliRun r = train("--data " + data_file() + " --steps 3 -o " + (s / o) + kCommon);
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  EXPECT_EQ(slurp(s / "a/adapter_model.safetensors"), slurp(s / "b/adapter_model.safetensors"));
}

TEST(TrainCli, ResumeContinuesExactly) {
  TRELLIS_REQUIRE_SHARED(kStories);
  Scratch s;
  const std::string base = "--data " + data_file() + " --eval-data " + eval_file() + " --steps 6" + kCommon;
  ASSERT_EQ(train(base + " -o " + (s / "full")).rc, 0);
  const CliRun first = train(base + " -o " + (s / "cut") + " --stop-after 3");
  ASSERT_EQ(first.rc, 130) << first.out;
  EXPECT_NE(first.out.find("--resume"), std::string::npos);
  EXPECT_FALSE(fs::exists(s / "cut/adapter_config.json"));  // no final adapter yet
  const CliRun again = train(base + " -o " + (s / "cut"));  // forgetting --resume is refused
  EXPECT_EQ(again.rc, 1);
  EXPECT_NE(again.out.find("--resume"), std::string::npos);
  const CliRun second = train(base + " -o " + (s / "cut") + " --resume");
  ASSERT_EQ(second.rc, 0) << second.out;
  const auto want = losses(s / "full/metrics.jsonl"), got = losses(s / "cut/metrics.jsonl");
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(want[i], got[i]) << "entry " << i;  // bit for bit
  EXPECT_EQ(slurp(s / "full/adapter_model.safetensors"), slurp(s / "cut/adapter_model.safetensors"));
  const CliRun changed = train("--data " + data_file() + " --steps 6 --ctx 128 --lr 1e-3 -o " + (s / "cut") + " --resume");
  EXPECT_EQ(changed.rc, 1);
  EXPECT_NE(changed.out.find("cannot resume: setting"), std::string::npos) << changed.out;
}

TEST(TrainCli, BadInputIsReportedNeverCrashes) {
  TRELLIS_REQUIRE_SHARED(kStories);
  Scratch s;
  CliRun r = train("--data " + s.write("empty.jsonl", "\n\n") + " -o " + (s / "o1"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("empty"), std::string::npos) << r.out;
  const std::string bad = s.write("bad.jsonl", "{\"text\": \"A cat.\"}\n{\"text\": oops}\n{\"text\": \"A dog.\"}\n");
  r = train("--data " + bad + " -o " + (s / "o2"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("bad.jsonl:2"), std::string::npos) << r.out;
  r = train("--data " + bad + " --on-bad-line skip --steps 1 -o " + (s / "o3"));
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("1 bad lines skipped"), std::string::npos) << r.out;
  r = train("--data " + s.write("chat.jsonl", R"({"messages": [{"role": "user", "content": "hi"}]})" "\n") + " -o " + (s / "o4"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no assistant turn"), std::string::npos) << r.out;
  r = train("--data " + data_file() + " --ctx 16 --on-too-long error -o " + (s / "o5"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("longer than --ctx 16"), std::string::npos) << r.out;
  r = train("--data " + data_file() + " --ctx 16 --steps 1 -o " + (s / "o6"));
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("48 examples truncated"), std::string::npos) << r.out;
  r = train("--data " + data_file() + " --ctx 64 --steps 4 --lr 1e30 --save-every 1 -o " + (s / "o7"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("NaN"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(s / "o7/adapter_config.json"));
  r = train("--data " + data_file() + " --targets q,x -o " + (s / "o8"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("unknown projection 'x'"), std::string::npos) << r.out;
  r = train("--data " + data_file() + " --max-memory 0.001 -o " + (s / "o9"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("does not fit --max-memory"), std::string::npos) << r.out;
}

TEST(TrainCli, DryRunShowsMask) {
  TRELLIS_REQUIRE_SHARED(kStories);
  Scratch s;
  const std::string f = s.write("pc.jsonl", R"({"prompt": "Q: Who is the hero?", "completion": " Trellis."})" "\n");
  const CliRun r = train("--data " + f + " --dry-run -o " + (s / "o"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("[<s> Q: Who is the hero?] Trellis.</s>"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(s / "o"));
}

}  // namespace
}  // namespace trellis
