// End-to-end tests of the run / eval / chat / tokenize / template commands through the
// real `trellis` binary.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "test_paths.h"

using namespace trellis::test;
using nlohmann::json;

namespace {

const std::string kStories = "models/stories260K/stories260K.gguf";

json stories_goldens() {
  std::ifstream in(data_path("models/stories260K_goldens.json"));
  return json::parse(in);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

// Greedy decoding from BOS + "Once upon a time" reproduces the PyTorch reference's story.
TEST(Cli, RunGreedyStoryMatchesReference) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const json g = stories_goldens();
  const int n = static_cast<int>(g["greedy_ids"].size());
  const CliResult r = run_cli({"run", "-m", shared_path(kStories), "-p", "Once upon a time", "-n", std::to_string(n),
                               "--temp", "0", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string want = g["decoded_full"].get<std::string>();
  if (!want.empty() && want[0] == ' ') want.erase(0, 1);  // SentencePiece's leading space
  EXPECT_EQ(r.out, want + "\n");
}

// The GGUF and its HF twin score the same text the same (the HF directory has no tokenizer:
// --tokenizer takes the GGUF's).
TEST(Cli, EvalJsonGgufEqualsHf) {
  TRELLIS_REQUIRE_SHARED(kStories);
  TempDir tmp;
  const std::string text = tmp.file("text.txt");
  write_file(text, stories_goldens()["decoded_full"].get<std::string>() + " The end. Tom and Sue went home.");
  const CliResult a = run_cli({"eval", "-m", shared_path(kStories), "--text", text, "--ctx", "32", "--json"});
  const CliResult b = run_cli({"eval", "-m", shared_path("models/stories260K/hf"), "--tokenizer", shared_path(kStories),
                               "--text", text, "--ctx", "32", "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const json ja = json::parse(a.out), jb = json::parse(b.out);
  EXPECT_EQ(ja["tokens"], jb["tokens"]);
  EXPECT_GT(ja["tokens"].get<int>(), 100);
  EXPECT_NEAR(ja["nll"].get<double>(), jb["nll"].get<double>(), 1e-4 * jb["nll"].get<double>());
  EXPECT_NEAR(ja["ppl"].get<double>(), std::exp(ja["nll"].get<double>()), 1e-9 * ja["ppl"].get<double>());
}

// The HF directory without a tokenizer says what to do.
TEST(Cli, EvalWithoutTokenizerExplains) {
  TRELLIS_REQUIRE_SHARED(kStories);
  TempDir tmp;
  write_file(tmp.file("t.txt"), "hello");
  const CliResult r = run_cli({"eval", "-m", shared_path("models/stories260K/hf"), "--text", tmp.file("t.txt")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(Cli, TokenizeIdsFromVocabOnlyGguf) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  const CliResult r = run_cli({"tokenize", "-m", shared_path("vocab/ggml-vocab-llama-spm.gguf"), "--ids", "--no-bos",
                               "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Llama 2's SentencePiece ids for "▁Hello" and "▁world".
  EXPECT_EQ(r.out, "15043 3186\n");
}

TEST(Cli, BadInputsGiveOneLineErrors) {
  TempDir tmp;
  write_file(tmp.file("junk.gguf"), "GGUF\x03\x00\x00\x00 not really");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "-m", tmp.file("missing.gguf"), "-p", "x"},
           {"run", "-m", tmp.file("junk.gguf"), "-p", "x"},
           {"eval", "-m", tmp.file("junk.gguf"), "--text", tmp.file("missing.txt")},
           {"tokenize", "-m", tmp.file("junk.gguf"), "x"},
           {"run", "-p", "x"},
           {"frobnicate"}}) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
}

TEST(Cli, ContextLimitIsReported) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"run", "-m", shared_path(kStories), "-p", "Once upon a time there was a dog", "-c", "4"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

// A chat over stdin on a model the project generates itself (byte vocabulary + template):
// two turns, /reset, /exit.
TEST(Cli, ChatSessionOverStdin) {
  TempDir tmp;
  const std::string model = tmp.file("m.gguf");
  ASSERT_EQ(run_cli({"gen-model", "--shape", "tiny", "--layers", "2", "--byte-vocab", "-o", model}).exit_code, 0);
  write_file(tmp.file("in.txt"), "hello\nhow are you\n/reset\nagain\n/exit\n");
  const CliResult r = run_cli({"chat", "-m", model, "-n", "4", "--seed", "3"}, {}, tmp.file("in.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(conversation cleared)"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '>'), 5) << r.out;  // one prompt per line read
}

// The same seed gives the same sampled text.
TEST(Cli, SeedMakesSamplingReproducible) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const std::vector<std::string> args = {"run", "-m", shared_path(kStories), "-p", "Once", "-n", "40",
                                         "--temp", "1.0", "--seed", "42", "-q"};
  const CliResult a = run_cli(args), b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}
