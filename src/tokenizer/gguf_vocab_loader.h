// Builds a TokenizerModel from GGUF `tokenizer.ggml.*` metadata with llama.cpp's rules.
#pragma once
#include <memory>
#include <string>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

class GgufFile;

// Throws Error("<file>: <key>: <problem>") on missing keys, mismatched array lengths,
// duplicate pieces, merges of unknown pieces and special ids outside the vocabulary.
std::unique_ptr<TokenizerModel> load_gguf_tokenizer_model(const GgufFile& f);

// Whether llama.cpp takes a word that is a whole vocabulary piece as one token, skipping
// the merges, for this `tokenizer.ggml.pre` value (Llama 3 and its relatives).
bool gguf_pre_ignores_merges(const std::string& pre);

// The Unicode normal form named by `tokenizer.ggml.normalizer` ("NFC", "NFD", "NFKC",
// "NFKD"): a Trellis key, written for Hugging Face byte-level tokenizers that normalize
// (Qwen2's NFC). llama.cpp has no such key and does not normalize.
const char* normal_form_name(NormalizerStep::Kind kind);

}  // namespace trellis
