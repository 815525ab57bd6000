// The {"messages": [...]} training path end to end with real published chat templates:
//  - Qwen2.5's template (tests/data/templates/qwen2_5.jinja, the one the jinja2 goldens come
//    from) over the real Qwen2 vocabulary (../shared/vocab/qwen2), on a tiny random qwen2 model
//    with Qwen2.5's vocabulary size;
//  - Phi-3's template as it ships inside a GGUF (../shared/vocab/ggml-vocab-phi-3.gguf, copied
//    into a tiny random model by gen-model --tokenizer-from), with its SentencePiece vocabulary.
// The expected conversation text and label mask are written here by hand from each format's
// definition (ChatML; Phi-3's <|user|>/<|assistant|>/<|end|>), anchored to the jinja2 golden,
// never taken from the engine's own rendering: labels are exactly the assistant contents and
// their end-of-turn token.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "model/model.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "train/dataset.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;
using Messages = std::vector<std::pair<std::string, std::string>>;  // (role, content)

const char* kQwenVocab = "vocab/qwen2/vocab.json";
const char* kPhi3Vocab = "vocab/ggml-vocab-phi-3.gguf";
const char* kQwenSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

const Messages kChat = {
    {"user", "Hi there."},
    {"assistant", "Hello! How can I help you today?"},
    {"user", "Write a haiku about the sea."},
    {"assistant", "Waves fold into foam,\nsalt wind carries gull voices,\nthe tide keeps its time."},
};

std::string jsonl_line(const Messages& m) {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const auto& [role, content] : m) msgs.push_back({{"role", role}, {"content", content}});
  return nlohmann::ordered_json{{"messages", msgs}}.dump();
}

// ChatML as Qwen2.5 renders it (default system message when none is given), no generation prompt.
std::string qwen_chatml(const Messages& m) {
  std::string s;
  if (m.empty() || m[0].first != "system") s += std::string("<|im_start|>system\n") + kQwenSystem + "<|im_end|>\n";
  for (const auto& [role, content] : m) s += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
  return s;
}

// Phi-3's GGUF template: BOS, user turns followed by the assistant header, assistant turns
// ended by <|end|>; other roles are dropped.
std::string phi3_text(const Messages& m) {
  std::string s = "<s>";
  for (const auto& [role, content] : m) {
    if (role == "user") s += "<|user|>\n" + content + "<|end|>\n<|assistant|>\n";
    if (role == "assistant") s += content + "<|end|>\n";
  }
  return s;
}

// The text of each run of label tokens (SentencePiece word starts as spaces).
std::vector<std::string> label_runs(const Example& e, const Tokenizer& tok) {
  std::vector<std::string> runs;
  for (size_t i = 1; i < e.tokens.size(); ++i) {
    if (!e.labels[i]) continue;
    if (!e.labels[i - 1] || i == 1) runs.emplace_back();
    std::string piece = tok.token_to_piece(e.tokens[i]);
    for (size_t at; (at = piece.find("\xe2\x96\x81")) != std::string::npos;) piece.replace(at, 3, " ");
    runs.back() += piece;
  }
  return runs;
}

int32_t single_token(const Tokenizer& tok, const std::string& text) {
  const auto ids = tok.encode(text, false, true);
  EXPECT_EQ(ids.size(), 1u) << text;
  return ids.empty() ? -1 : ids[0];
}

// Tiny random models (2 layers, width 64) carrying the real vocabularies, made once.
class TrainChat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(test::shared_path(kQwenVocab)) || !fs::exists(test::shared_path(kPhi3Vocab))) return;
    dir_ = new test::TempDir;
    // Qwen2 vocabulary files plus Qwen2.5's published template as chat_template.jinja.
    const fs::path tokdir = dir_->file("qwen_tokenizer");
    fs::create_directories(tokdir);
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
      fs::create_symlink(test::shared_path(std::string("vocab/qwen2/") + f), tokdir / f);
    }
    fs::copy_file(test::data_path("templates/qwen2_5.jinja"), tokdir / "chat_template.jinja");
    const std::vector<std::string> tiny = {"--shape", "custom", "--dim", "64", "--layers", "2", "--heads", "4",
                                           "--kv-heads", "2", "--ff", "128", "-t", "1"};
    auto gen = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "gen-model");
      args.insert(args.end(), tiny.begin(), tiny.end());
      const test::CliResult r = test::run_cli(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    };
    gen({"--arch", "qwen2", "--vocab", "151936", "-o", dir_->file("qwen.gguf")});
    gen({"--arch", "llama", "--vocab", "32064", "--tokenizer-from", test::shared_path(kPhi3Vocab), "-o",
         dir_->file("phi3.gguf")});
    qwen_ = Model::load(dir_->file("qwen.gguf"), tokdir.string()).release();
    phi3_ = Model::load(dir_->file("phi3.gguf")).release();
  }
  static void TearDownTestSuite() {
    delete qwen_;
    delete phi3_;
    delete dir_;
  }
  void SetUp() override {
    if (!qwen_ || !phi3_) GTEST_SKIP() << "missing ../shared/" << kQwenVocab << " or ../shared/" << kPhi3Vocab;
  }
  static std::string qwen_tokdir() { return dir_->file("qwen_tokenizer"); }
  static std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_->file(name)) << text;
    return dir_->file(name);
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline Model* qwen_ = nullptr;
  static inline Model* phi3_ = nullptr;
};

// The hand-written ChatML is what jinja2 renders from Qwen2.5's template (the golden).
TEST_F(TrainChat, HandWrittenChatmlMatchesTheJinja2Golden) {
  const Messages multi = {{"user", "Hi there."}, {"assistant", "Hello! How can I help you today?"},
                          {"user", "Write a haiku about the sea."}};
  EXPECT_EQ(qwen_chatml(multi), test::read_text_file(test::data_path("templates/qwen2_5.multi_nogen.golden")));
}

// Tokens: the whole rendered conversation. Labels: exactly each assistant content and its
// <|im_end|>; the newline after <|im_end|>, the headers, the system and user turns are context.
TEST_F(TrainChat, QwenLabelsAreAssistantContentsAndImEnd) {
  const Tokenizer& tok = qwen_->require_tokenizer();
  const int32_t im_end = single_token(tok, "<|im_end|>");
  std::vector<int32_t> want_tokens;
  std::vector<uint8_t> want_labels;
  auto add = [&](const std::vector<int32_t>& ids, bool label) {
    want_tokens.insert(want_tokens.end(), ids.begin(), ids.end());
    want_labels.insert(want_labels.end(), ids.size(), label ? 1 : 0);
  };
  std::string context = std::string("<|im_start|>system\n") + kQwenSystem + "<|im_end|>\n";
  for (const auto& [role, content] : kChat) {
    if (role != "assistant") {
      context += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
      continue;
    }
    add(tok.encode(context + "<|im_start|>assistant\n", false, true), false);
    add(tok.encode(content, false, false), true);
    add({im_end}, true);
    context = "\n";
  }
  add(tok.encode(context, false, true), false);
  ASSERT_EQ(want_tokens, tok.encode(qwen_chatml(kChat), false, true)) << "pieces must tokenize like the whole";

  const Example e = example_from_json(jsonl_line(kChat), tok, false);
  EXPECT_EQ(e.tokens, want_tokens);
  EXPECT_EQ(e.labels, want_labels);
  EXPECT_EQ(label_runs(e, tok), (std::vector<std::string>{kChat[1].second + "<|im_end|>", kChat[3].second + "<|im_end|>"}));
  const Example all = example_from_json(jsonl_line(kChat), tok, true);
  EXPECT_EQ(all.tokens, want_tokens);
  EXPECT_EQ(all.n_labels(), static_cast<int64_t>(want_tokens.size()) - 1);
}

// An assistant turn that starts with a newline: byte-level BPE merges it with the header's
// newline into one token, so no token boundary falls where the turn starts. The turn is then
// tokenized on its own, and the labels are still exactly its content and <|im_end|>.
TEST_F(TrainChat, QwenTurnWhoseFirstTokenWouldStraddleTheHeader) {
  const Tokenizer& tok = qwen_->require_tokenizer();
  const Messages chat = {{"user", "List one thing."}, {"assistant", "\n- a kite"}};
  const std::string full = qwen_chatml(chat);
  const std::string header = full.substr(0, full.find("<|im_start|>assistant\n") + 22);
  const auto whole = tok.encode(full, false, true), head = tok.encode(header, false, true);
  ASSERT_FALSE(std::equal(head.begin(), head.end(), whole.begin())) << "the case this test is about";
  const Example e = example_from_json(jsonl_line(chat), tok, false);
  EXPECT_EQ(label_runs(e, tok), (std::vector<std::string>{chat[1].second + "<|im_end|>"}));
  EXPECT_EQ(std::vector<int32_t>(e.tokens.begin(), e.tokens.begin() + static_cast<std::ptrdiff_t>(head.size())), head);
}

// The template inside the GGUF is Phi-3's; the conversation is tokenized whole, so the first
// label is "Hello" as the model would generate it after "<|assistant|>\n", not a separately
// tokenized " Hello" with a SentencePiece word-start space.
TEST_F(TrainChat, Phi3GgufTemplateLabelsAreAssistantContentsAndEnd) {
  const Tokenizer& tok = phi3_->require_tokenizer();
  ASSERT_EQ(tok.chat_template().rfind("{{ bos_token }}{% for message in messages %}", 0), 0u) << tok.chat_template();
  const int32_t end = single_token(tok, "<|end|>");
  const Example e = example_from_json(jsonl_line(kChat), tok, false);
  EXPECT_EQ(e.tokens, tok.encode(phi3_text(kChat), false, true));
  EXPECT_EQ(label_runs(e, tok), (std::vector<std::string>{kChat[1].second + "<|end|>", kChat[3].second + "<|end|>"}));
  // Each run ends on <|end|> and starts right after the assistant header "<|assistant|>\n".
  const auto header = tok.encode("<s><|user|>\nHi there.<|end|>\n<|assistant|>\n", false, true);
  ASSERT_LT(header.size(), e.labels.size());
  for (size_t i = 0; i < header.size(); ++i) EXPECT_EQ(e.labels[i], 0) << i;
  EXPECT_EQ(e.labels[header.size()], 1);
  for (size_t i = 1; i < e.tokens.size(); ++i) {
    if (e.labels[i] && (i + 1 == e.tokens.size() || !e.labels[i + 1])) {
      EXPECT_EQ(e.tokens[i], end) << i;
    }
  }
}

// trellis train --dry-run shows the rendered conversation with exactly the assistant turns
// outside [brackets]; --train-on-inputs labels every token; a few steps train and write an
// adapter; a conversation without an assistant turn stops the run or is skipped.
TEST_F(TrainChat, CliDryRunTrainAndBadConversation) {
  const std::string data = write("chat.jsonl", jsonl_line(kChat) + "\n");
  const std::vector<std::string> base = {"train", "-m", dir_->file("qwen.gguf"), "--tokenizer", qwen_tokdir(), "-t", "1"};
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_cli(args);
  };
  const std::string shown = std::string("[<|im_start|>system\n") + kQwenSystem +
                            "<|im_end|>\n<|im_start|>user\nHi there.<|im_end|>\n<|im_start|>assistant\n]" +
                            "Hello! How can I help you today?<|im_end|>[\n<|im_start|>user\nWrite a haiku about the "
                            "sea.<|im_end|>\n<|im_start|>assistant\n]" + kChat[3].second + "<|im_end|>[\n]";
  test::CliResult r = train({"--data", data, "--dry-run", "-o", dir_->file("dry")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(shown), std::string::npos) << r.err;
  const size_t n = qwen_->require_tokenizer().encode(qwen_chatml(kChat), false, true).size();
  r = train({"--data", data, "--dry-run", "--train-on-inputs", "-o", dir_->file("dry")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(std::to_string(n) + " tokens, " + std::to_string(n - 1) + " labels"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_->file("dry")));

  r = train({"--data", data, "--steps", "3", "--lr", "1e-3", "--rank", "4", "--no-plot", "-o", dir_->file("out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_->file("out/adapter_model.safetensors")));
  EXPECT_EQ(test::count_lines(test::read_text_file(dir_->file("out/metrics.jsonl"))), 3);
  const test::CliResult inspect = test::run_cli({"lora", "inspect", dir_->file("out")});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;

  const std::string bad = write("bad.jsonl", jsonl_line(kChat) + "\n" + jsonl_line({{"user", "Anyone there?"}}) + "\n");
  r = train({"--data", bad, "--dry-run", "-o", dir_->file("bad")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:2: conversation has no assistant turn"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--on-bad-line skip"), std::string::npos) << r.err;
  r = train({"--data", bad, "--dry-run", "--on-bad-line", "skip", "-o", dir_->file("bad")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 examples"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 bad lines skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:2: skipped: conversation has no assistant turn"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace trellis
