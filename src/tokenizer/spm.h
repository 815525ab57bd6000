// SentencePiece-style tokenization as llama.cpp's llm_tokenizer_spm: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the highest-scoring
// vocab piece, then re-split pieces that are not tokens along the merges that built them,
// with bytes (`<0xNN>`) for anything left over.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace trellis {

// `text` is already whitespace-escaped (spaces as U+2581). Appends ids to `out`.
// Throws Error when a byte has neither a `<0xNN>` token, a one-byte piece nor an unknown token.
void spm_tokenize(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out, const std::string& source);

// True when no piece has a U+2581 after another character (only leading runs of U+2581), as
// in SentencePiece vocabularies trained with whitespace splitting. Then no merge can span the
// start of a U+2581 that follows another character, so the text can be tokenized word by
// word with the same result (and small, cache-friendly queues).
bool spm_pieces_split_at_spaces(const Vocab& vocab);

// Cuts escaped text before every U+2581 character that follows another character.
std::vector<std::string_view> spm_split_words(std::string_view text);

}  // namespace trellis
