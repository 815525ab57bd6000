// An adapter written by `trellis train` is a real PEFT adapter: the inference loader reads
// it through --lora and the learned behaviour shows in greedy output.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "test_paths.h"

using namespace trellis::test;

TEST(TrainAdapter, LoadsThroughLoraAndChangesGreedyOutput) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  const std::string base = shared_path("models/stories260K/stories260K.gguf");
  TempDir tmp;
  const std::string out = tmp.file("adapter");
  const CliResult train = run_cli({"train", "-m", base, "--data", data_path("train/trellis_stories_train.jsonl"),
                                   "--eval-data", data_path("train/trellis_stories_heldout.jsonl"), "-o", out,
                                   "--steps", "24", "--lr", "3e-3", "--rank", "8", "--no-plot", "-t", "1"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::vector<std::string> gen = {"run", "-m", base, "-p", "Once upon a time", "--temp", "0", "-n", "40", "-q"};
  std::vector<std::string> with = gen;
  with.insert(with.end(), {"--lora", out});
  const CliResult plain = run_cli(gen), adapted = run_cli(with);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(adapted.exit_code, 0) << adapted.err;
  EXPECT_EQ(plain.out.find("Trellis"), std::string::npos) << plain.out;
  EXPECT_NE(adapted.out.find("Trellis"), std::string::npos) << adapted.out;
  const CliResult inspect = run_cli({"lora", "inspect", out});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
}

// --gguf-lora writes the same adapter as GGUF-LoRA (OUT/adapter.gguf, and OUT/best/ with the
// best eval): through `trellis eval --lora`, the PEFT directory and the GGUF-LoRA file give
// the same NLL, which differs from the base's. The base is a llama GGUF, so the q/k rows of
// the two files are in different orders (Hugging Face vs interleaved).
TEST(TrainAdapter, GgufLoraAndPeftOutputsGiveTheSameNll) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  const std::string base = shared_path("models/stories260K/stories260K.gguf");
  TempDir tmp;
  const std::string out = tmp.file("adapter");
  const CliResult train = run_cli({"train", "-m", base, "--data", data_path("train/trellis_stories_train.jsonl"),
                                   "--eval-data", data_path("train/trellis_stories_heldout.jsonl"), "-o", out,
                                   "--steps", "8", "--lr", "3e-3", "--rank", "4", "--targets", "all", "--gguf-lora",
                                   "--no-plot", "-t", "1"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  for (const std::string& f : {out + "/adapter.gguf", out + "/adapter_config.json", out + "/best/adapter.gguf",
                               out + "/best/adapter_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(f)) << f;
  }
  const std::string text = tmp.file("heldout.txt");
  std::ofstream(text) << "Once upon a time, there was a funny bird named Trellis. Trellis liked to help her mom. "
                         "One day, Trellis lost a toy. At the end of the day, Trellis planted a seed in the garden.\n";
  auto nll = [&](const std::vector<std::string>& lora) {
    std::vector<std::string> args = {"eval", "-m", base, "--text", text, "--json", "-t", "1"};
    args.insert(args.end(), lora.begin(), lora.end());
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("nll").get<double>();
  };
  const double plain = nll({}), peft = nll({"--lora", out}), gguf = nll({"--lora", out + "/adapter.gguf"});
  EXPECT_EQ(peft, gguf);
  EXPECT_GT(std::fabs(peft - plain), 1e-3) << "training changed nothing measurable";
  EXPECT_EQ(nll({"--lora", out + "/best"}), nll({"--lora", out + "/best/adapter.gguf"}));
  const CliResult inspect = run_cli({"lora", "inspect", out + "/adapter.gguf"});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
}
