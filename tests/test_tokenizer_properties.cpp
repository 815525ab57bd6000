// Property tests over random text: no crash, lossless round trips, streaming decode equal to
// whole decode in valid UTF-8 chunks, and encoding time linear in the input length.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "formats/gguf.h"
#include "test_paths.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_model.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {

// Random text mixing the hard cases: ASCII words and punctuation, runs of spaces and digits,
// CJK, emoji (with ZWJ and skin tones), combining marks, control characters, special-token
// look-alikes and, when `valid_only` is false, invalid UTF-8 bytes.
std::string random_text(std::mt19937& rng, size_t pieces, bool valid_only) {
  static const char* const kChunks[] = {
      "the", " quick", "Brown", " fox", "'s", "'ll", " I'M", ",", ".", "!", "?", "...", " - ", "\"", "(", ")",
      "\n", "\r\n", "\t", "\n\n", "   ", "          ", "0", "42", "3.14", "1234567890", "日本", "語", "中文", "한국",
      "🦙", "🚀", "👍🏽", "😶‍🌫️", "e\xcc\x81", "a\xcc\x8a\xcc\x81", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", "ẞ",
      "Ω", "ﬁ", "\x01", "\x7f", "<s>", "</s>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "▁", "Ġ", "ø",
  };
  static const char* const kInvalid[] = {"\xff", "\xc3", "\xe2\x82", "\x80", "\xf0\x9f\x98", "\xed\xa0\x80"};
  std::uniform_int_distribution<size_t> pick(0, std::size(kChunks) - 1);
  std::uniform_int_distribution<size_t> pick_bad(0, std::size(kInvalid) - 1);
  std::uniform_int_distribution<int> cp(0x20, 0x2FFFF), coin(0, 19);
  std::string s;
  for (size_t i = 0; i < pieces; ++i) {
    const int c = coin(rng);
    if (c == 0 && !valid_only) {
      s += kInvalid[pick_bad(rng)];
    } else if (c == 1) {
      uint32_t code = cp(rng);
      if (code >= 0xD800 && code <= 0xDFFF) code = 0x4E00;
      utf8_append(s, code);
    } else {
      s += kChunks[pick(rng)];
    }
  }
  return s;
}

bool valid_utf8(const std::string& s) {
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp;
    const size_t n = utf8_decode(s, pos, &cp);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

struct Vocab {
  const char* name;
  std::unique_ptr<Tokenizer> (*load)();
};

std::unique_ptr<Tokenizer> gguf(const char* name) {
  const std::string rel = std::string("vocab/ggml-vocab-") + name + ".gguf";
  if (!std::filesystem::exists(shared_path(rel))) return nullptr;
  return Tokenizer::from_gguf(*GgufFile::open(shared_path(rel)));
}

std::unique_ptr<Tokenizer> hf(const char* dir) {
  const std::string rel = std::string("vocab/") + dir;
  if (!std::filesystem::exists(shared_path(rel))) return nullptr;
  return Tokenizer::from_hf_dir(shared_path(rel));
}

class TokenizerProperty : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<Tokenizer> load() {
    const std::string p = GetParam();
    return p == "qwen2" || p == "llama2-hf" ? hf(p.c_str()) : gguf(p.c_str());
  }
};

TEST_P(TokenizerProperty, RandomTextRoundTripsAndStreams) {
  auto tok = load();
  if (!tok) GTEST_SKIP() << "missing ../shared/vocab for " << GetParam();
  const TokenizerModel& m = tok->model();
  // NFC normalization (Qwen2) changes text by design; compare against the normalized text there.
  const bool normalizes = !m.normalizer.empty() && m.piece_style == PieceStyle::ByteLevel;
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 150; ++iter) {
    const bool valid_only = iter % 3 != 0;
    const std::string s = random_text(rng, 1 + iter % 40, valid_only);
    for (bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = tok->encode(s, iter % 2 == 0, parse_special);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
      const std::string whole = tok->decode(ids);

      // Streaming: same bytes, and every chunk valid UTF-8 when the text is.
      StreamDecoder stream(*tok);
      std::string streamed;
      for (int32_t id : ids) {
        const std::string chunk = stream.push(id);
        if (valid_only) {
          EXPECT_TRUE(valid_utf8(chunk)) << GetParam() << ": chunk of '" << s << "'";
        }
        streamed += chunk;
      }
      streamed += stream.flush();
      EXPECT_EQ(streamed, whole) << GetParam() << ": '" << s << "'";

      if (iter % 2 == 0 || !valid_only || normalizes || m.clean_spaces) continue;
      // SPM prefixes a space to text after a special token (llama.cpp and HF alike), so only
      // inputs without special tokens round-trip there.
      bool has_special = false;
      for (int32_t id : ids) has_special |= (m.vocab.at(id).attr & (kAttrControl | kAttrUserDefined)) != 0;
      if (m.piece_style == PieceStyle::Spm && has_special) continue;
      // Lossless vocabularies give the text back (SPM's added leading space is removed by
      // decode; a literal U+2581 in the input is a space to SPM).
      std::string expect = s;
      if (m.piece_style == PieceStyle::Spm) {
        for (size_t at; (at = expect.find("\xe2\x96\x81")) != std::string::npos;) expect.replace(at, 3, " ");
      }
      EXPECT_EQ(whole, expect) << GetParam() << " parse_special=" << parse_special;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, TokenizerProperty,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm", "falcon", "starcoder", "qwen2",
                                           "llama2-hf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

double seconds_to_encode(const Tokenizer& tok, const std::string& text) {
  double best = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(text, false, false);
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_FALSE(ids.empty());
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

// A 100 KB run of one character is a single pre-token (or the whole SPM input): encoding it
// must scale linearly (n log n), never quadratically. 10x the input may cost at most 30x
// (measured 10-20x: the larger input falls out of L2 cache; quadratic would be 100x).
// Guards against quadratic blow-ups on long runs of one character: a quadratic merge loop
// takes minutes on 200k characters, a linear one milliseconds. The bound is deliberately
// loose (timing is measured precisely in bench/bench_tokenizer.cpp, not here).
TEST(TokenizerProperty, LongRunsOfOneCharacterEncodeQuickly) {
  for (const char* name : {"gpt-2", "llama-spm"}) {
    auto tok = gguf(name);
    if (!tok) GTEST_SKIP() << "missing ../shared/vocab";
    for (const char* ch : {"a", " ", "7", "日"}) {
      std::string big;
      for (int i = 0; i < 200000; ++i) big += ch;
      const double tb = seconds_to_encode(*tok, big);
      EXPECT_LT(tb, 5.0) << name << " run of '" << ch << "' took " << tb << " s";
    }
  }
}

}  // namespace
