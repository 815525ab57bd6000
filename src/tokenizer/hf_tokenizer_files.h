// Builds a TokenizerModel from Hugging Face files: `tokenizer.json` (BPE model: byte-level
// like GPT-2 / Llama 3 / Qwen2, or SentencePiece-style with byte fallback like Llama 2), or
// `vocab.json` + `merges.txt`; `tokenizer_config.json` adds special tokens, BOS/EOS flags and
// the chat template. Any section this engine does not implement is an Error naming the file
// and key, never a silently different tokenizer.
#pragma once
#include <memory>
#include <string>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

std::unique_ptr<TokenizerModel> load_hf_tokenizer_model(const std::string& dir);

}  // namespace trellis
