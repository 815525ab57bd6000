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

}  // namespace trellis
