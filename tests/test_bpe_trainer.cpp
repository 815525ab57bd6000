// The byte-level BPE trainer (`trellis vocab`): merges equal to an independent naive Python
// trainer (scripts/reference/gen_bpe_trainer_goldens.py), word counting independent of how
// the text is cut into pieces, lossless round trips with the written vocabulary, compression,
// determinism, bad input, and the command line down to a model that runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli_util.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "test_paths.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/bpe_vocab_writer.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/word_counts.h"

using namespace trellis;
using namespace trellis::test;

namespace {

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::string corpus_path() { return data_path("bpe_trainer/corpus.txt"); }

nlohmann::json read_golden(const std::string& name) {
  std::ifstream in(data_path("bpe_trainer/" + name));
  EXPECT_TRUE(in) << name;
  return nlohmann::json::parse(in);
}

std::vector<std::string> shown_merges(const TrainedBpe& bpe) {
  std::vector<std::string> out;
  for (const auto& [l, r] : bpe.merges) out.push_back(bytes_to_unicode(bpe.tokens[l]) + " " + bytes_to_unicode(bpe.tokens[r]));
  return out;
}

const char* stop_name(BpeStop s) {
  switch (s) {
    case BpeStop::VocabFull: return "vocab_full";
    case BpeStop::NoPairs: return "no_pairs";
    case BpeStop::MinFrequency: return "min_frequency";
  }
  return "?";
}

BpeTrainerOptions options(int64_t size, int64_t min_frequency) {
  BpeTrainerOptions o;
  o.vocab_size = size;
  o.min_frequency = min_frequency;
  o.special_tokens = kSpecials;
  return o;
}

void expect_matches_golden(const WordCounts& words, const nlohmann::json& g) {
  const TrainedBpe bpe = train_bpe(words, options(g["vocab_size"], g["min_frequency"]));
  EXPECT_EQ(words.words().size(), g["distinct_words"].get<size_t>());
  EXPECT_EQ(words.word_total(), g["words"].get<int64_t>());
  EXPECT_EQ(stop_name(bpe.stop), g["stop"].get<std::string>());
  EXPECT_EQ(static_cast<int64_t>(bpe.tokens.size()) - 256, g["learned_tokens"].get<int64_t>());
  const std::vector<std::string> expected = g["merges"];
  const std::vector<std::string> got = shown_merges(bpe);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "merge " << i;
}

TEST(BpeTrainer, MergesEqualNaiveReference) {
  WordCounts words(kSpecials);
  words.add_file(corpus_path());
  EXPECT_EQ(words.special_total(), 1);  // the corpus holds one <|endoftext|>
  for (const char* name : {"golden_v512_f1.json", "golden_v4096_f2.json", "golden_v8192_f1.json"}) {
    SCOPED_TRACE(name);
    expect_matches_golden(words, read_golden(name));
  }
}

TEST(BpeTrainer, MergesDoNotDependOnReadSize) {
  const nlohmann::json g = read_golden("golden_v4096_f2.json");
  for (size_t block : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
    SCOPED_TRACE(block);
    WordCounts words(kSpecials);
    words.add_file(corpus_path(), block);
    expect_matches_golden(words, g);
  }
}

// The reference count: the whole document split at specials, then pre-tokenized at once.
WordCounts::Map whole_text_counts(const std::string& text, const std::vector<std::string>& specials) {
  Vocab v;
  for (const std::string& s : specials) v.add(s, 0.0f, kAttrControl, "test", s);
  v.finish(false);
  SpecialTokenMatcher m(v);
  WordCounts::Map out;
  for (const Fragment& f : m.partition(text, true)) {
    if (f.token >= 0) continue;
    for (std::string_view w : pre_tokenize(PreTokenizerKind::Gpt2, f.text)) ++out[std::string(w)];
  }
  return out;
}

TEST(WordCounts, PiecesGiveTheSameWordsAsWholeText) {
  static const char* const kChunks[] = {"a", "word", " ", "  ", "\t", "\n", "\n\n", " \n", "\r\n", ".", "!", "'s",
                                        "'ll", "1", "42", "é", "\xc2\xa0", "日本", "<|endoftext|>", "<|im_", "end|>",
                                        "\xff", "x\n", "y.\n"};
  // A special token that holds a newline could cross a cut; the default ones cannot.
  const std::vector<std::string> with_newline = {"<|endoftext|>", "a\n."};
  std::mt19937 rng(7);
  for (int round = 0; round < 400; ++round) {
    const std::vector<std::string>& specials = round % 2 ? with_newline : kSpecials;
    std::string text;
    const int n = std::uniform_int_distribution<int>(0, 120)(rng);
    for (int i = 0; i < n; ++i) text += kChunks[std::uniform_int_distribution<size_t>(0, std::size(kChunks) - 1)(rng)];
    WordCounts words(specials);
    for (size_t pos = 0; pos < text.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(1, 9)(rng);
      words.feed(std::string_view(text).substr(pos, len));
      pos += len;
    }
    words.end_document();
    const WordCounts::Map expected = whole_text_counts(text, specials);
    ASSERT_EQ(words.words(), expected) << "text: " << text;
    WordCounts by_byte(specials);  // every possible end of a piece
    for (char c : text) by_byte.feed(std::string_view(&c, 1));
    by_byte.end_document();
    ASSERT_EQ(by_byte.words(), expected) << "text: " << text;
  }
}

TEST(WordCounts, DocumentsDoNotShareWords) {
  WordCounts words({});
  words.feed("ab");
  words.end_document();
  words.feed("cd");
  words.end_document();
  EXPECT_EQ(words.words().size(), 2u);
  EXPECT_EQ(words.words().count("ab"), 1u);
  EXPECT_EQ(words.words().count("abcd"), 0u);
}

class TrainedVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    words_ = new WordCounts(kSpecials);
    words_->add_file(corpus_path());
    bpe_ = new TrainedBpe(train_bpe(*words_, options(600, 2)));
    write_bpe_vocab(*bpe_, "test vocab", dir_->file("vocab.gguf"));
    tok_ = Tokenizer::load(dir_->file("vocab.gguf")).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete bpe_;
    delete words_;
    delete dir_;
  }
  static TempDir* dir_;
  static WordCounts* words_;
  static TrainedBpe* bpe_;
  static Tokenizer* tok_;
};
TempDir* TrainedVocab::dir_ = nullptr;
WordCounts* TrainedVocab::words_ = nullptr;
TrainedBpe* TrainedVocab::bpe_ = nullptr;
Tokenizer* TrainedVocab::tok_ = nullptr;

TEST_F(TrainedVocab, LoadsWithTheExpectedLayout) {
  const Tokenizer& t = *tok_;
  ASSERT_EQ(t.n_vocab(), bpe_->vocab_size());
  const int32_t n = static_cast<int32_t>(bpe_->tokens.size());
  EXPECT_EQ(t.token_text('A'), "A");
  EXPECT_EQ(t.token_text(' '), byte_to_unicode(' '));
  EXPECT_EQ(t.token_to_piece(0xE9), "\xe9");
  EXPECT_EQ(t.bos_id(), n);
  EXPECT_EQ(t.eos_id(), n);
  EXPECT_EQ(t.token_text(n + 1), "<|im_start|>");
  EXPECT_EQ(t.eot_id(), n + 2);
  EXPECT_TRUE(t.is_end_of_generation(n));
  EXPECT_TRUE(t.is_end_of_generation(n + 2));
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.add_eos());
  auto f = GgufFile::open(dir_->file("vocab.gguf"));
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "gpt-2");
  EXPECT_FALSE(f->has("general.architecture"));
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges").size(), bpe_->merges.size());
  const std::vector<double> types = f->get_number_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 1);
  EXPECT_EQ(types[n - 1], 1);
  EXPECT_EQ(types[n], 3);
}

TEST_F(TrainedVocab, RoundTripsAnyText) {
  std::vector<std::string> texts = {read_text_file(corpus_path()),
                                    "Hello , world ! it 's 'm 've ' quoted ' .",
                                    "  leading and trailing  \n\n\t\r\n",
                                    "Ünïcödé: Straße, café, Σοφία, Спокойной ночи, 日本語, 🦙👍🏽",
                                    "<|endoftext|> looks special but is text here <|im_start|>user",
                                    std::string("\x00\x01\xff\xfe\xc3(\xe2\x82 broken \x80", 17)};
  std::mt19937 rng(11);
  for (int i = 0; i < 50; ++i) {
    std::string s(std::uniform_int_distribution<size_t>(0, 200)(rng), '\0');
    for (char& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    texts.push_back(s);
  }
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = tok_->encode(text, /*add_special=*/false, /*parse_special=*/false);
    ASSERT_EQ(tok_->decode(ids), text);
    const std::vector<int32_t> with_bos = tok_->encode(text, true, false);
    ASSERT_EQ(with_bos.front(), tok_->bos_id());
    ASSERT_EQ(tok_->decode(with_bos, /*render_special=*/false), text);
  }
}

TEST_F(TrainedVocab, SpecialTokensParseOnlyWhenAsked) {
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const std::vector<int32_t> parsed = tok_->encode(text, false, true);
  EXPECT_EQ(parsed.front(), tok_->bos_id() + 1);
  EXPECT_EQ(parsed.back(), tok_->eot_id());
  EXPECT_EQ(tok_->decode(parsed), text);
  const std::vector<int32_t> plain = tok_->encode(text, false, false);
  for (int32_t id : plain) EXPECT_LT(id, tok_->bos_id());
}

TEST_F(TrainedVocab, ChatTemplateIsChatMl) {
  const nlohmann::ordered_json messages = {{{"role", "user"}, {"content", "Who keeps the light?"}}};
  const std::string prompt = render_chat(*tok_, messages, true);
  EXPECT_EQ(prompt, "<|im_start|>user\nWho keeps the light?<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<int32_t> ids = tokenize_chat_prompt(*tok_, prompt);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok_->bos_id() + 1), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok_->eot_id()), 1);
}

TEST_F(TrainedVocab, CompressesItsTrainingText) {
  const double bpt = bpe_bytes_per_token(*tok_, *words_);
  EXPECT_GT(bpt, 2.0);
  // The same figure from encoding the whole file (its one special token set aside).
  const std::string text = read_text_file(corpus_path());
  const size_t tokens = tok_->encode(text, false, true).size() - words_->special_total();
  const double bytes = static_cast<double>(text.size() - words_->special_total() * kSpecials[0].size());
  EXPECT_DOUBLE_EQ(bpt, bytes / static_cast<double>(tokens));
}

TEST(BpeTrainer, IsDeterministic) {
  TempDir dir;
  std::vector<std::string> files;
  for (int run = 0; run < 2; ++run) {
    WordCounts words(kSpecials);
    words.add_file(corpus_path(), run == 0 ? 1 << 20 : 5);
    const TrainedBpe bpe = train_bpe(words, options(700, 1));
    files.push_back(dir.file("v" + std::to_string(run) + ".gguf"));
    write_bpe_vocab(bpe, "v", files.back());
  }
  EXPECT_EQ(read_text_file(files[0]), read_text_file(files[1]));
}

template <class F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(BpeTrainer, BadInputIsAnError) {
  TempDir dir;
  WordCounts good(kSpecials);
  good.add_file(corpus_path());
  expect_error([&] { train_bpe(good, options(258, 2)); }, "too small");
  expect_error([&] { train_bpe(good, options(kMaxBpeVocabSize + 1, 2)); }, "too large");
  expect_error([&] { train_bpe(good, options(1000, 0)); }, "at least 1");
  BpeTrainerOptions o = options(1000, 2);
  o.special_tokens = {"<a>", "<a>"};
  expect_error([&] { check_bpe_trainer_options(o); }, "given twice");
  o.special_tokens = {""};
  expect_error([&] { check_bpe_trainer_options(o); }, "empty special token");
  o.special_tokens = {"a"};
  expect_error([&] { check_bpe_trainer_options(o); }, "byte token");
  o.special_tokens = {"he"};  // a pair the corpus makes into a token early on
  expect_error([&] { train_bpe(good, o); }, "also a token learned");

  std::ofstream(dir.file("empty.txt")).close();
  std::ofstream(dir.file("specials.txt")) << "<|endoftext|><|im_end|>";
  for (const char* name : {"empty.txt", "specials.txt"}) {
    WordCounts w(kSpecials);
    w.add_file(dir.file(name));
    expect_error([&] { train_bpe(w, options(1000, 2)); }, "no text to train on");
  }
  WordCounts w(kSpecials);
  expect_error([&] { w.add_file(dir.file("missing.txt")); }, "missing.txt: cannot open");
  expect_error([&] { w.add_file(dir.path()); }, ": read error");
}

CliResult must_run(const std::vector<std::string>& args) {
  CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  return r;
}

TEST(VocabCli, TrainsAVocabularyAModelCanUse) {
  TempDir dir;
  const std::string vocab = dir.file("vocab.gguf"), model = dir.file("model.gguf");
  const CliResult r = must_run({"vocab", "--input", corpus_path(), "--size", "512", "--min-frequency", "2", "-o", vocab});
  EXPECT_NE(r.out.find("vocabulary:  512 tokens = 256 bytes + 253 learned + 3 special"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 special tokens cut out"), std::string::npos) << r.out;

  const CliResult ids = must_run({"tokenize", "-m", vocab, "--ids", "The lighthouse keeper"});
  const auto tok = Tokenizer::load(vocab);
  std::string expected;
  for (int32_t id : tok->encode("The lighthouse keeper", true, false)) expected += (expected.empty() ? "" : " ") + std::to_string(id);
  EXPECT_EQ(ids.out, expected + "\n");
  EXPECT_EQ(ids.out.substr(0, 4), "509 ");  // BOS = <|endoftext|>, the first special token

  must_run({"gen-model", "--shape", "tiny", "--layers", "1", "--vocab", "512", "--tokenizer-from", vocab, "-o", model});
  const CliResult run = must_run({"run", "-m", model, "-p", "The lighthouse", "-n", "4", "--temp", "0", "-t", "1"});
  EXPECT_EQ(run.out.rfind("The lighthouse", 0), 0u) << run.out;
  must_run({"run", "-m", model, "-p", "hello", "--chat", "-n", "2", "--temp", "0", "-t", "1"});
  EXPECT_EQ(must_run({"tokenize", "-m", model, "--ids", "The lighthouse keeper"}).out, ids.out);
}

TEST(VocabCli, ReportsBadInputOnOneLine) {
  TempDir dir;
  const CliResult missing = run_cli({"vocab", "-i", dir.file("nope.txt"), "--size", "512", "-o", dir.file("v.gguf")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.txt: cannot open"), std::string::npos) << missing.err;
  EXPECT_EQ(count_lines(missing.err), 1) << missing.err;
  const CliResult small = run_cli({"vocab", "-i", corpus_path(), "--size", "100", "-o", dir.file("v.gguf")});
  EXPECT_EQ(small.exit_code, 1);
  EXPECT_NE(small.err.find("too small"), std::string::npos) << small.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("v.gguf")));
  const CliResult help = must_run({"--help"});
  EXPECT_NE(help.out.find("vocab "), std::string::npos) << help.out;
}

}  // namespace
