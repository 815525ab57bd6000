// Encoding one text fragment (text between special tokens) with a BPE model: normalize,
// split into words (regex pre-tokenizer or Metaspace), turn each word into starting symbols
// (bytes through the GPT-2 map, or characters with byte fallback / unknown), merge by rank.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

class BpeEncoder {
 public:
  explicit BpeEncoder(const TokenizerModel& model);
  // at_start: the fragment begins the input (Metaspace prepend_scheme "first").
  void encode(std::string_view fragment, bool at_start, std::vector<int32_t>& out) const;

 private:
  std::vector<std::string_view> split_words(std::string_view text) const;
  void encode_word(std::string_view word, std::vector<BpeSymbol>& symbols, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<BpeSymbol>& symbols) const;
  bool push_byte_symbols(std::string_view word, uint32_t pos, uint32_t len, std::vector<BpeSymbol>& symbols) const;
  void emit(std::string_view word, const std::vector<BpeSymbol>& symbols, std::vector<int32_t>& out) const;

  const TokenizerModel& m_;
  int32_t byte_char_ids_[256];  // byte-level: id of each byte's mapped character (-1 if absent)
};

}  // namespace trellis
