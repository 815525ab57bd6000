// Tokenizer behaviour: special tokens, BOS/EOS, decoding, the two Llama 2 forms agreeing,
// and errors on malformed vocabularies.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {

std::unique_ptr<Tokenizer> gguf_vocab(const std::string& name) {
  auto f = GgufFile::open(shared_path("vocab/ggml-vocab-" + name + ".gguf"));
  return Tokenizer::from_gguf(*f);
}

using Ids = std::vector<int32_t>;

TEST(TokenizerSpecial, Qwen2ChatMarkupOnlyWithParseSpecial) {
  TRELLIS_REQUIRE_SHARED("vocab/qwen2/vocab.json");
  auto tok = Tokenizer::from_hf_dir(shared_path("vocab/qwen2"));
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const Ids with = tok->encode(text, false, true);
  ASSERT_EQ(with.size(), 5u);
  EXPECT_EQ(with.front(), 151644);
  EXPECT_EQ(with.back(), 151645);
  EXPECT_EQ(tok->decode(with), text);
  EXPECT_EQ(tok->decode(with, /*render_special=*/false), "user\nhi");
  // Plain user text must not be able to inject control tokens.
  const Ids without = tok->encode(text, false, false);
  for (int32_t id : without) EXPECT_LT(id, 151643);
  EXPECT_EQ(tok->decode(without), text);
  // Non-special added tokens (user-defined) are matched in plain text, as in HF.
  EXPECT_EQ(tok->encode("<tool_call>", false, false), Ids{151657});
  EXPECT_TRUE(tok->is_end_of_generation(151645));
  EXPECT_TRUE(tok->is_end_of_generation(151643));
  EXPECT_FALSE(tok->is_end_of_generation(872));
  EXPECT_EQ(tok->eot_id(), 151645);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_text(), "<|endoftext|>");
  EXPECT_FALSE(tok->add_bos());
}

TEST(TokenizerSpecial, LlamaSpmBosAndSpacePrefixAfterSpecial) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  auto tok = gguf_vocab("llama-spm");
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  const Ids plain = tok->encode("Hello", false, false);
  Ids with_bos = {1};
  with_bos.insert(with_bos.end(), plain.begin(), plain.end());
  EXPECT_EQ(tok->encode("Hello", true, false), with_bos);
  // llama.cpp prefixes a space to text that follows a special token too.
  EXPECT_EQ(tok->encode("<s>Hello", false, true), with_bos);
  EXPECT_EQ(tok->encode("", true, false), Ids{1});
  EXPECT_EQ(tok->decode(with_bos), "<s> Hello");
  EXPECT_EQ(tok->decode(with_bos, false), " Hello");
  EXPECT_EQ(tok->decode(plain), "Hello");
  EXPECT_EQ(tok->token_to_piece(13), "\n");  // <0x0A>
}

TEST(TokenizerSpecial, Phi3SpecialTokensStripSpacesOnTheRight) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-phi-3.gguf");
  auto tok = gguf_vocab("phi-3");
  const Ids a = tok->encode("<|user|>  Hi<|end|>", false, true);
  const Ids b = tok->encode("<|user|>Hi<|end|>", false, true);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.front(), 32010);
  EXPECT_EQ(a.back(), 32007);
  EXPECT_TRUE(tok->is_end_of_generation(32007));
  EXPECT_FALSE(tok->chat_template().empty());
}

TEST(TokenizerSpecial, Gpt2EndOfTextAndLongestMatch) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  auto tok = gguf_vocab("gpt-2");
  EXPECT_EQ(tok->encode("<|endoftext|>", false, true), Ids{50256});
  EXPECT_NE(tok->encode("<|endoftext|>", false, false), Ids{50256});
  EXPECT_EQ(tok->decode({50256, 15496}), "<|endoftext|>Hello");
}

TEST(TokenizerDecode, RejectsIdsOutsideTheVocabulary) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  auto tok = gguf_vocab("gpt-2");
  EXPECT_THROW(tok->decode({1, 50257}), Error);
  EXPECT_THROW(tok->decode({-1}), Error);
  EXPECT_THROW(tok->token_to_piece(1 << 30), Error);
  EXPECT_THROW(tok->token_text(-5), Error);
}

TEST(TokenizerDecode, Gpt2CleansTokenizationSpacesLikeLlamaCpp) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  auto tok = gguf_vocab("gpt-2");
  EXPECT_EQ(tok->decode(tok->encode("Hello , world ! it 's", false, false)), "Hello, world! it's");
}

// The Llama 2 vocabulary as GGUF (llama.cpp SPM by score) and as tokenizer.json (HF BPE by
// rank with byte fallback) must give the same ids.
TEST(TokenizerHf, Llama2JsonAgreesWithLlamaSpmGguf) {
  TRELLIS_REQUIRE_SHARED("vocab/llama2-hf/tokenizer.json");
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  auto hf = Tokenizer::from_hf_dir(shared_path("vocab/llama2-hf"));
  auto gg = gguf_vocab("llama-spm");
  EXPECT_EQ(hf->n_vocab(), gg->n_vocab());
  EXPECT_EQ(hf->bos_id(), gg->bos_id());
  EXPECT_EQ(hf->eos_id(), gg->eos_id());
  EXPECT_EQ(hf->add_bos(), gg->add_bos());
  std::vector<std::string> inputs = test::read_vocab_inputs(shared_path("vocab/llama2-hf/llama2.inp"));
  inputs.insert(inputs.end(), {"The quick brown fox jumps over the lazy dog.", "  leading and trailing  ",
                               "tabs\tand\nnewlines\r\n", "日本語のテキスト、中文文本，한국어 텍스트",
                               "emoji 🦙🚀👍🏽 and math ∑∫√ and \x01\x02 controls", "<s>inside</s> text",
                               "Ünïcödé dïäcrïtïcs", "12345678901234567890", "a\u0301e\u0301 combining"});
  for (const std::string& s : inputs) {
    EXPECT_EQ(hf->encode(s, true, false), gg->encode(s, true, false)) << s;
    EXPECT_EQ(hf->encode(s, true, true), gg->encode(s, true, true)) << s;
    const Ids ids = gg->encode(s, false, false);
    EXPECT_EQ(hf->decode(ids), gg->decode(ids)) << s;
  }
}

TEST(TokenizerLoad, LoadDispatchesOnPath) {
  TRELLIS_REQUIRE_SHARED("vocab/qwen2/vocab.json");
  EXPECT_EQ(Tokenizer::load(shared_path("vocab/qwen2"))->n_vocab(), 151665);
  EXPECT_EQ(Tokenizer::load(shared_path("vocab/ggml-vocab-gpt-2.gguf"))->n_vocab(), 50257);
  EXPECT_THROW(Tokenizer::load(shared_path("vocab/does-not-exist.gguf")), Error);
}

TEST(TokenizerLoad, StoriesModelGgufHasAWorkingTokenizer) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  auto tok = Tokenizer::load(shared_path("models/stories260K/stories260K.gguf"));
  const Ids ids = tok->encode("Once upon a time", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], tok->bos_id());
  EXPECT_EQ(tok->decode(Ids(ids.begin() + 1, ids.end())), "Once upon a time");
}

// ---- malformed inputs -------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("trellis_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kMiniTokenizerJson = R"({
  "version": "1.0", "added_tokens": [{"id": 5, "content": "<s>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "c": 3, "abc": 4},
            "merges": ["a b", "ab c"]}
})";

TEST(TokenizerErrors, MiniTokenizerJsonLoadsAndMerges) {
  TempDir d;
  d.write("tokenizer.json", kMiniTokenizerJson);
  auto tok = Tokenizer::from_hf_dir(d.str());
  EXPECT_EQ(tok->encode("abcab", false, false), (Ids{4, 2}));
  EXPECT_EQ(tok->encode("<s>abc", false, true), (Ids{5, 4}));
  EXPECT_EQ(tok->decode({5, 4, 2}), "<s>abcab");
}

TEST(TokenizerErrors, MalformedTokenizerJson) {
  TempDir d;
  const std::string file = d.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,");
  const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
}

TEST(TokenizerErrors, UnknownMergeToken) {
  TempDir d;
  std::string json = kMiniTokenizerJson;
  json.replace(json.find("\"ab c\""), 6, "\"ab z\"");
  const std::string file = d.write("tokenizer.json", json);
  const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.merges[1]"), std::string::npos) << msg;
}

TEST(TokenizerErrors, DuplicateIdAndUnsupportedSections) {
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"c\": 3"), 6, "\"c\": 2");
    const std::string file = d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.vocab"), std::string::npos) << msg;
  }
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"normalizer\": null"), 18, "\"normalizer\": {\"type\": \"BertNormalizer\"}");
    d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find("normalizer: unsupported normalizer type 'BertNormalizer'"), std::string::npos) << msg;
  }
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"type\": \"BPE\""), 13, "\"type\": \"Unigram\"");
    d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find("model.type"), std::string::npos) << msg;
  }
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"id\": 5"), 7, "\"id\": 2");
    d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find("added_tokens[0]"), std::string::npos) << msg;
  }
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"vocab\": {"), 10, "\"vocab\": {\"x\": \"seven\", ");
    d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find("model.vocab"), std::string::npos) << msg;
  }
  {
    TempDir d;
    std::string json = kMiniTokenizerJson;
    json.replace(json.find("\"model\""), 7, "\"modell\"");
    d.write("tokenizer.json", json);
    const std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
    EXPECT_NE(msg.find("model: missing"), std::string::npos) << msg;
  }
}

TEST(TokenizerErrors, VocabJsonAndMerges) {
  TempDir d;
  const std::string vocab = d.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  const std::string merges = d.write("merges.txt", "#version: 0.2\na b\nb q\n");
  std::string msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
  EXPECT_NE(msg.find(merges + ": line 3"), std::string::npos) << msg;
  d.write("merges.txt", "#version: 0.2\na b\n");
  d.write("tokenizer_config.json", R"({"eos_token": "<eos>"})");
  msg = error_of([&] { Tokenizer::from_hf_dir(d.str()); });
  EXPECT_NE(msg.find("tokenizer_config.json: eos_token"), std::string::npos) << msg;
  d.write("tokenizer_config.json", R"({"added_tokens_decoder": {"7": {"content": "<eos>", "special": true}}, "eos_token": "<eos>"})");
  auto tok = Tokenizer::from_hf_dir(d.str());
  EXPECT_EQ(tok->n_vocab(), 8);
  EXPECT_EQ(tok->eos_id(), 7);
  EXPECT_EQ(tok->encode("ab<eos>", false, true), (Ids{2, 7}));
  EXPECT_EQ(tok->decode({3}), "");  // a gap in the ids decodes to nothing
}

// Minimal GGUF writer for vocab-only files.
class GgufWriter {
 public:
  void str(const std::string& key, const std::string& v) { kv(key, 8), s(v); }
  void u32(const std::string& key, uint32_t v) { kv(key, 4), pod(v); }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    kv(key, 9), pod(uint32_t(8)), pod(uint64_t(v.size()));
    for (const auto& x : v) s(x);
  }
  void ints(const std::string& key, const std::vector<int32_t>& v) {
    kv(key, 9), pod(uint32_t(5)), pod(uint64_t(v.size()));
    for (int32_t x : v) pod(x);
  }
  std::vector<uint8_t> image() const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    auto put = [&](const auto& v) {
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      out.insert(out.end(), p, p + sizeof v);
    };
    put(uint32_t(3)), put(uint64_t(0)), put(uint64_t(n_));
    out.insert(out.end(), body_.begin(), body_.end());
    while (out.size() % 32) out.push_back(0);
    return out;
  }

 private:
  void kv(const std::string& key, uint32_t type) { s(key), pod(type), ++n_; }
  void s(const std::string& v) { pod(uint64_t(v.size())), body_.insert(body_.end(), v.begin(), v.end()); }
  template <class T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    body_.insert(body_.end(), p, p + sizeof v);
  }
  std::vector<uint8_t> body_;
  uint64_t n_ = 0;
};

std::string gguf_error(const GgufWriter& w) {
  const auto img = w.image();
  return error_of([&] {
    auto f = GgufFile::parse(img.data(), img.size(), "mem.gguf");
    Tokenizer::from_gguf(*f);
  });
}

GgufWriter bpe_writer(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                      const std::string& pre = "gpt-2") {
  GgufWriter w;
  w.str("tokenizer.ggml.model", "gpt2");
  w.str("tokenizer.ggml.pre", pre);
  w.strings("tokenizer.ggml.tokens", tokens);
  w.strings("tokenizer.ggml.merges", merges);
  return w;
}

TEST(TokenizerErrors, GgufVocabValidation) {
  EXPECT_NE(gguf_error(bpe_writer({"a", "b", "a"}, {})).find("mem.gguf: tokenizer.ggml.tokens[2]: duplicate piece 'a'"),
            std::string::npos);
  EXPECT_NE(gguf_error(bpe_writer({"a", "b", "ab"}, {"a c"})).find("mem.gguf: tokenizer.ggml.merges[0]"), std::string::npos);
  EXPECT_NE(gguf_error(bpe_writer({"a", "b", "ab"}, {"ab"})).find("tokenizer.ggml.merges[0]"), std::string::npos);
  {
    GgufWriter w = bpe_writer({"a", "b", "ab"}, {"a b"});
    w.u32("tokenizer.ggml.eos_token_id", 3);
    EXPECT_NE(gguf_error(w).find("mem.gguf: tokenizer.ggml.eos_token_id: id 3 is outside"), std::string::npos);
  }
  {
    // -1 (stored as 0xFFFFFFFF) is the converters' way of saying "none".
    GgufWriter w = bpe_writer({"a", "b", "ab"}, {"a b"});
    w.u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
    EXPECT_EQ(gguf_error(w), "(no error)");
  }
  {
    GgufWriter w = bpe_writer({"a", "b", "ab"}, {"a b"});
    w.ints("tokenizer.ggml.token_type", {1, 1});
    EXPECT_NE(gguf_error(w).find("mem.gguf: tokenizer.ggml.token_type: has 2 entries for 3 tokens"), std::string::npos);
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "gpt2");
    w.strings("tokenizer.ggml.tokens", {"a"});
    EXPECT_NE(gguf_error(w).find("mem.gguf: tokenizer.ggml.merges: missing"), std::string::npos) << gguf_error(w);
  }
  {
    GgufWriter w;
    w.str("tokenizer.ggml.model", "bert");
    w.strings("tokenizer.ggml.tokens", {"a"});
    EXPECT_NE(gguf_error(w).find("unsupported tokenizer 'bert'"), std::string::npos);
  }
  {
    GgufWriter w;
    w.strings("tokenizer.ggml.tokens", {"a"});
    EXPECT_NE(gguf_error(w).find("mem.gguf: tokenizer.ggml.model: missing"), std::string::npos);
  }
  {
    GgufWriter w = bpe_writer({"a", "b", "ab"}, {"a b"}, "no-such-pre");
    EXPECT_NE(gguf_error(w).find("mem.gguf: tokenizer.ggml.pre"), std::string::npos) << gguf_error(w);
  }
  {
    const auto img = bpe_writer({"a", "b", "ab"}, {"a b"}).image();
    auto f = GgufFile::parse(img.data(), img.size(), "mem.gguf");
    auto tok = Tokenizer::from_gguf(*f);
    EXPECT_EQ(tok->encode("ab", false, false), Ids{2});
  }
}

}  // namespace
