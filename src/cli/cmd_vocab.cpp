// `trellis vocab`: train a byte-level BPE vocabulary on text files and write it as a
// vocabulary-only GGUF (for `gen-model --tokenizer-from`, `tokenize -m`, ...).
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/bpe_vocab_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/word_counts.h"

namespace trellis::cli {
namespace {

const char* stop_reason(const TrainedBpe& bpe) {
  switch (bpe.stop) {
    case BpeStop::VocabFull: return "vocabulary full";
    case BpeStop::NoPairs: return "stopped early: no pair left to merge";
    case BpeStop::MinFrequency: return "stopped early: the next pair occurs less often than --min-frequency";
  }
  return "";
}

int run_vocab(int argc, char** argv) {
  CLI::App app(
      "Train a GPT-2-style byte-level BPE vocabulary on text and write it as a vocabulary-only GGUF.\n"
      "The text is split at the special tokens, then into words with the GPT-2 rules; from the 256 byte\n"
      "tokens, the most frequent adjacent pair is merged until the vocabulary is full (ties: the merged\n"
      "token with the smallest bytes, then the shorter left part). Each input file is one document.\n"
      "The first special token is BOS and EOS; with <|im_start|> and <|im_end|> a ChatML template is written.",
      "trellis vocab");
  std::vector<std::string> inputs;
  std::string out;
  BpeTrainerOptions opt;
  app.add_option("-i,--input", inputs, "text file to train on (repeatable)")->required();
  app.add_option("--size", opt.vocab_size, "total vocabulary size: 256 bytes + learned tokens + special tokens")
      ->required();
  app.add_option("--min-frequency", opt.min_frequency, "stop when the most frequent pair occurs fewer times")
      ->capture_default_str();
  app.add_option("--special", opt.special_tokens,
                 "special (control) tokens, in id order after the learned ones; replaces the default "
                 "<|endoftext|> <|im_start|> <|im_end|>");
  app.add_option("-o,--output", out, "GGUF file to write")->required();
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  check_bpe_trainer_options(opt);

  const auto start = std::chrono::steady_clock::now();
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  WordCounts words(opt.special_tokens);
  for (const std::string& path : inputs) words.add_file(path);
  const double read_s = seconds_since(start);
  const auto train_start = std::chrono::steady_clock::now();
  const TrainedBpe bpe = train_bpe(words, opt);
  const double train_s = seconds_since(train_start);
  write_bpe_vocab(bpe, cat("trellis byte-level BPE, ", bpe.vocab_size(), " tokens"), out);
  // Measured with the file just written, through the ordinary loader.
  const double bpt = bpe_bytes_per_token(*Tokenizer::load(out), words);

  std::printf("text:        %lld bytes in %lld words (%zu distinct), %lld special tokens cut out\n",
              static_cast<long long>(words.word_bytes()), static_cast<long long>(words.word_total()),
              words.words().size(), static_cast<long long>(words.special_total()));
  std::printf("merges:      %zu learned (%s", bpe.merges.size(), stop_reason(bpe));
  if (!bpe.merges.empty()) std::printf("; last pair seen %lld times", static_cast<long long>(bpe.last_merge_count));
  std::printf(")\n");
  std::printf("vocabulary:  %lld tokens = 256 bytes + %zu learned + %zu special\n",
              static_cast<long long>(bpe.vocab_size()), bpe.tokens.size() - 256, bpe.special_tokens.size());
  std::printf("compression: %.3f bytes per token on the training text\n", bpt);
  std::printf("time:        %.2f s reading and splitting, %.2f s merging, %.2f s in all\n", read_s, train_s,
              seconds_since(start));
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

const CommandRegistrar reg({"vocab", "train a byte-level BPE vocabulary on text files", run_vocab, 63});

}  // namespace
}  // namespace trellis::cli
