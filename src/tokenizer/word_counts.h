// Word frequencies of a training text, the input of the BPE trainer (bpe_trainer.h).
//
// A document is split at the special tokens first (each occurrence is counted as a special,
// never as text, with the Tokenizer's own partition rules), then every piece of text into
// words with the GPT-2 pre-tokenizer (pretokenize.h), and each distinct word is counted.
//
// Text may arrive in pieces of any size (feed); it is processed only up to a cut where the
// split is provably the same as for the whole document: just before a '\n' that follows a
// printable ASCII character (no GPT-2 word crosses it, no pattern looks back across it, and
// the last word before it needs no look-ahead), and never inside a special token. So memory
// grows with the number of distinct words, not with the size of the text (a single line
// with no such cut is held whole).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace trellis {

class SpecialTokenMatcher;

class WordCounts {
 public:
  using Map = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

  // `special_tokens`: texts cut out of the training text (must be non-empty and distinct;
  // checked by check_special_tokens).
  explicit WordCounts(const std::vector<std::string>& special_tokens);
  ~WordCounts();

  // Appends text to the current document.
  void feed(std::string_view text);
  // Ends the current document: its remaining text is counted (documents never share a word).
  void end_document();
  // One file as one document, read in blocks of `block_bytes`. Throws Error naming the file
  // when it cannot be opened or read.
  void add_file(const std::string& path, size_t block_bytes = size_t{1} << 20);

  const Map& words() const { return words_; }
  int64_t word_total() const { return word_total_; }      // words counted, with repeats
  int64_t word_bytes() const { return word_bytes_; }      // bytes of those words
  int64_t special_total() const { return special_total_; }  // special-token occurrences cut out

 private:
  void count(std::string_view text);  // text that ends where a split is certain
  size_t find_cut() const;            // 0 when pending_ has no safe cut yet

  Vocab specials_;  // the special tokens, for the matcher
  std::unique_ptr<SpecialTokenMatcher> matcher_;
  size_t longest_special_ = 0;
  std::string pending_;
  Map words_;
  int64_t word_total_ = 0, word_bytes_ = 0, special_total_ = 0;
};

// Throws Error when a special token is empty or repeated.
void check_special_tokens(const std::vector<std::string>& special_tokens);

}  // namespace trellis
