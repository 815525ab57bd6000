// Pre-tokenizer splits against goldens from Python's `regex` module running llama.cpp's exact
// pattern lists (scripts/gen_pretok_goldens.py), plus properties and a linear-time check.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_paths.h"
#include "tokenizer/pretokenize.h"

using namespace trellis;
using trellis::test::data_path;
using trellis::test::shared_path;

namespace {

using K = PreTokenizerKind;

const K kAllKinds[] = {K::Gpt2,        K::Llama3,    K::Qwen2,  K::Smollm,
                       K::DeepseekLlm, K::Starcoder, K::Falcon, K::Default};

// Golden kind names -> the kinds that must split that way.
const std::map<std::string, std::vector<K>>& golden_kinds() {
  static const std::map<std::string, std::vector<K>> m = {
      {"gpt2", {K::Gpt2}},           {"llama3", {K::Llama3}},
      {"qwen2", {K::Qwen2}},         {"starcoder", {K::Starcoder, K::Smollm}},
      {"deepseek-llm", {K::DeepseekLlm}}, {"falcon", {K::Falcon}},
      {"default", {K::Default}},
  };
  return m;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<size_t> lengths(const std::vector<std::string_view>& pieces) {
  std::vector<size_t> out;
  for (auto p : pieces) out.push_back(p.size());
  return out;
}

std::vector<std::string> split_as_text(K kind, std::string_view text) {
  std::vector<std::string> out;
  for (auto p : pre_tokenize(kind, text)) out.emplace_back(p);
  return out;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f) << "cannot open " << path;
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Compares every kind of one golden record; returns the number of mismatches.
int check_record(const std::string& text, const nlohmann::json& pieces, const std::string& label) {
  int bad = 0;
  for (const auto& [name, kinds] : golden_kinds()) {
    const auto want = pieces.at(name).get<std::vector<size_t>>();
    for (K kind : kinds) {
      const auto got = lengths(pre_tokenize(kind, text));
      if (got != want) {
        ++bad;
        ADD_FAILURE() << label << " kind " << name << ": got " << nlohmann::json(got).dump()
                      << " want " << nlohmann::json(want).dump();
      }
    }
  }
  return bad;
}

// Pieces are consecutive, non-empty views into the input that cover it exactly.
void expect_exact_cover(std::string_view text, const std::vector<std::string_view>& pieces) {
  const char* at = text.data();
  for (auto p : pieces) {
    ASSERT_FALSE(p.empty());
    ASSERT_EQ(p.data(), at);
    at += p.size();
  }
  ASSERT_EQ(at, text.data() + text.size());
}

}  // namespace

TEST(PreTok, GoldenCorpus) {
  const auto records = read_jsonl(data_path("pretok/corpus.jsonl"));
  ASSERT_GT(records.size(), 500u);
  int bad = 0;
  for (const auto& rec : records) {
    bad += check_record(from_hex(rec.at("hex")), rec.at("pieces"), rec.at("text").dump());
    if (bad > 20) FAIL() << "stopping after 20 mismatches";
  }
}

// The tokenizer test inputs from ../shared (only piece lengths are stored in the repository).
TEST(PreTok, GoldenSharedVocabInputs) {
  const auto records = read_jsonl(data_path("pretok/shared_inp.jsonl"));
  ASSERT_FALSE(records.empty());
  const std::string rel = records[0].at("file");
  TRELLIS_REQUIRE_SHARED(rel);
  std::ifstream f(shared_path(rel), std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> cases;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < data.size();) {
    size_t next = data.find(sep, pos);
    if (next == std::string::npos) next = data.size();
    cases.push_back(data.substr(pos, next - pos));
    pos = next + sep.size();
  }
  for (const auto& rec : records) {
    ASSERT_EQ(rec.at("file").get<std::string>(), rel);
    const size_t i = rec.at("case");
    ASSERT_LT(i, cases.size());
    ASSERT_EQ(cases[i].size(), rec.at("bytes").get<size_t>()) << "case " << i;
    check_record(cases[i], rec.at("pieces"), rel + " case " + std::to_string(i));
  }
}

TEST(PreTok, ReadableExamples) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_as_text(K::Gpt2, "Hello  world's 12345!!"),
            (V{"Hello", " ", " world", "'s", " 12345", "!!"}));
  EXPECT_EQ(split_as_text(K::Gpt2, "a\n\tb  "), (V{"a", "\n", "\t", "b", "  "}));
  EXPECT_EQ(split_as_text(K::Llama3, "I'M 12345 \n\n  hi"),
            (V{"I", "'M", " ", "123", "45", " \n\n", " ", " hi"}));
  EXPECT_EQ(split_as_text(K::Qwen2, "x 123"), (V{"x", " ", "1", "2", "3"}));
  EXPECT_EQ(split_as_text(K::Starcoder, "ab12 c"), (V{"ab", "1", "2", " c"}));
  EXPECT_EQ(split_as_text(K::Falcon, "1234567 x"), (V{"123", "456", "7", " x"}));
  EXPECT_EQ(split_as_text(K::DeepseekLlm, "Hi 你好 123\n"), (V{"Hi", " ", "你好", " ", "123", "\n"}));
  // an invalid byte is one code point of class "other": it joins a punctuation run
  EXPECT_EQ(split_as_text(K::Gpt2, "a\xff!b"), (V{"a", "\xff!", "b"}));
  EXPECT_TRUE(pre_tokenize(K::Gpt2, "").empty());
}

TEST(PreTok, GgufNames) {
  EXPECT_EQ(pre_tokenizer_from_gguf_name("gpt-2"), K::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("llama-bpe"), K::Llama3);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("smaug-bpe"), K::Llama3);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("qwen2"), K::Qwen2);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("smollm"), K::Smollm);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("deepseek-llm"), K::DeepseekLlm);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("starcoder"), K::Starcoder);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("falcon"), K::Falcon);
  EXPECT_EQ(pre_tokenizer_from_gguf_name("default"), K::Default);
  try {
    pre_tokenizer_from_gguf_name("no-such-pre");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos);
  }
}

// Random bytes (mostly invalid UTF-8) and random mixes of valid code points.
TEST(PreTok, RandomInputsCoverExactly) {
  std::mt19937 rng(1234);
  const std::vector<std::string> atoms = {" ", "  ", "\t", "\n", "\r\n", "a", "Z", "'s", "'LL",
                                          "7", "123", ".", "!?", "\xc2\xa0", "\xe3\x80\x80",
                                          "\xe4\xbd\xa0", "\xf0\x9f\xa6\x99", "\xcc\x81", "\xff"};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (iter % 2) s.push_back(static_cast<char>(rng() & 0xFF));
      else s += atoms[rng() % atoms.size()];
    }
    for (K kind : kAllKinds) expect_exact_cover(s, pre_tokenize(kind, s));
  }
}

// Long runs must not go quadratic (a backtracking regex engine does on several of these).
TEST(PreTok, LinearTimeOnLongRuns) {
  const size_t mb = 1 << 20;
  const std::vector<std::string> inputs = {
      std::string(mb, 'a'),  std::string(mb, ' '),         std::string(mb, ' ') + "x",
      std::string(mb, '7'),  std::string(mb, '\n'),        std::string(mb, '!'),
      std::string(mb, '\t') + "x", std::string(mb, '\xff'),
  };
  for (const auto& s : inputs) {
    for (K kind : kAllKinds) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto pieces = pre_tokenize(kind, s);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_LT(sec, 1.0) << "kind " << static_cast<int>(kind) << " on 1 MB of byte "
                          << int(static_cast<unsigned char>(s[0]));
      expect_exact_cover(s, pieces);
    }
  }
}

TEST(PreTok, SpeedOnEnglishText) {
  const std::string para =
      "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
      "the age of foolishness; we'd had 1,234 days of it.\n  Nobody's sure what they'll do "
      "next -- \"maybe\" (or maybe not)!\n\n";
  std::string text;
  while (text.size() < (1u << 20)) text += para;
  for (K kind : kAllKinds) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto pieces = pre_tokenize(kind, text);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("pre_tokenize kind %d: 1 MiB English in %.1f ms, %zu pieces\n",
                static_cast<int>(kind), sec * 1e3, pieces.size());
    EXPECT_LT(sec, 1.0);
  }
}
