// An adapter written by `trellis train` is a real PEFT adapter: the inference loader reads
// it through --lora and the learned behaviour shows in greedy output.
#include <gtest/gtest.h>

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
