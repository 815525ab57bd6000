// Builds a TokenizerModel from GGUF `tokenizer.ggml.*` metadata with llama.cpp's rules.
#pragma once
#include <memory>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

class GgufFile;

// Throws Error("<file>: <key>: <problem>") on missing keys, mismatched array lengths,
// duplicate pieces, merges of unknown pieces and special ids outside the vocabulary.
std::unique_ptr<TokenizerModel> load_gguf_tokenizer_model(const GgufFile& f);

}  // namespace trellis
