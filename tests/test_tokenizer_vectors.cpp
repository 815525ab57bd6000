// Golden token ids for every vocabulary in ../shared/vocab (GGUF and Hugging Face forms).
#include <gtest/gtest.h>

#include "formats/gguf.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_model.h"
#include "tokenizer_test_util.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// Encodes every case (no BOS, no special parsing) and compares; returns the number passed.
int check_vectors(const Tokenizer& tok, const std::string& inp, const std::string& out) {
  const auto cases = test::read_vocab_inputs(inp);
  const auto expected = test::read_vocab_outputs(out);
  EXPECT_EQ(cases.size(), expected.size()) << inp;
  int passed = 0;
  for (size_t i = 0; i < cases.size() && i < expected.size(); ++i) {
    const auto ids = tok.encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(show(ids), show(expected[i])) << inp << " case " << i << ": '" << cases[i] << "'";
    passed += ids == expected[i];
  }
  return passed;
}

// Round trip: decode(encode(s)) == s where the tokenizer is lossless (clean-up of spaces is
// not, so those vocabs are checked on the raw pieces).
void check_round_trip(const Tokenizer& tok, const std::string& inp) {
  for (const std::string& s : test::read_vocab_inputs(inp)) {
    const auto ids = tok.encode(s, false, false);
    std::string raw;
    for (int32_t id : ids) raw += tok.token_to_piece(id);
    std::string expect = s;
    if (tok.model().algorithm == TokenizerAlgorithm::Spm && !s.empty()) expect = " " + s;
    if (!tok.model().normalizer.empty() && tok.model().piece_style == PieceStyle::Spm && !s.empty()) expect = " " + s;
    EXPECT_EQ(raw, expect) << inp;
    if (!tok.model().clean_spaces) {
      EXPECT_EQ(tok.decode(ids), s) << inp;
    }
  }
}

class GgufVocab : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufVocab, MatchesReferenceIds) {
  const std::string base = std::string("vocab/ggml-vocab-") + GetParam() + ".gguf";
  TRELLIS_REQUIRE_SHARED(base);
  auto f = GgufFile::open(shared_path(base));
  auto tok = Tokenizer::from_gguf(*f);
  const int passed = check_vectors(*tok, shared_path(base + ".inp"), shared_path(base + ".out"));
  std::cout << GetParam() << ": " << passed << " cases pass\n";
  check_round_trip(*tok, shared_path(base + ".inp"));
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, GgufVocab,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm", "falcon", "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

TEST(TokenizerHf, Qwen2VocabJsonMatchesReferenceIds) {
  TRELLIS_REQUIRE_SHARED("vocab/qwen2/vocab.json");
  auto tok = Tokenizer::from_hf_dir(shared_path("vocab/qwen2"));
  const int passed = check_vectors(*tok, shared_path("vocab/qwen2/qwen2.inp"), shared_path("vocab/qwen2/qwen2.out"));
  std::cout << "qwen2: " << passed << " cases pass\n";
  check_round_trip(*tok, shared_path("vocab/qwen2/qwen2.inp"));
}

TEST(TokenizerHf, Llama2TokenizerJsonMatchesReferenceIds) {
  TRELLIS_REQUIRE_SHARED("vocab/llama2-hf/tokenizer.json");
  auto tok = Tokenizer::from_hf_dir(shared_path("vocab/llama2-hf"));
  const int passed = check_vectors(*tok, shared_path("vocab/llama2-hf/llama2.inp"), shared_path("vocab/llama2-hf/llama2.out"));
  std::cout << "llama2-hf: " << passed << " cases pass\n";
  check_round_trip(*tok, shared_path("vocab/llama2-hf/llama2.inp"));
}

}  // namespace
