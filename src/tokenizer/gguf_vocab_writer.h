// Writing a loaded tokenizer (a TokenizerModel from Hugging Face files or from a GGUF) as the
// `tokenizer.*` metadata of a GGUF file, the way llama.cpp's convert_hf_to_gguf.py writes it,
// so that gguf_vocab_loader reads back a tokenizer that encodes and decodes exactly as the
// original did:
//
//   byte-level BPE (GPT-2, Llama 3, Qwen2, StarCoder split rules) -> tokenizer.ggml.model
//     "gpt2", tokenizer.ggml.pre the split rule's name ("gpt-2", "llama-bpe", "qwen2",
//     "starcoder", ...), merges "left right" in rank order;
//   SentencePiece-style BPE (Hugging Face BPE over U+2581-escaped text with byte fallback,
//     e.g. Llama 2's tokenizer.json) -> "llama" with scores. llama.cpp merges the adjacent
//     pair whose concatenation has the highest score; a piece scores minus the rank of the
//     first merge that builds it, so that makes the merges a rank-ordered BPE makes.
//     (convert_hf_to_gguf.py's tokenizer.json path writes -1000 for every piece, which loses
//     the merge order; it needs tokenizer.model for real scores.)
//   SentencePiece (loaded from a GGUF) -> "llama" with its own scores.
//
// token_type from the token attributes (normal 1, unknown 2, control 3, user-defined 4,
// unused 5, byte 6). Ids the tokenizer leaves empty, and ids past its end up to the model's
// vocabulary size, become unused "[PAD<id>]" tokens as convert_hf_to_gguf.py pads them
// (llama.cpp wants one token per embedding row). bos/eos/unk/pad ids, add_bos_token,
// add_eos_token, add_space_prefix (SentencePiece) and tokenizer.chat_template as llama.cpp
// reads them. Two keys only Trellis reads, for Hugging Face behaviour that llama.cpp's
// reader has no key for (another reader applies its defaults): tokenizer.ggml.clean_spaces
// (clean_up_tokenization_spaces) and tokenizer.ggml.normalizer ("NFC": Qwen2 normalizes).
//
// One difference is llama.cpp's and kept: a GGUF reader makes end-of-turn and fill-in-the-
// middle tokens control tokens, so where the Hugging Face files call them not special
// (Qwen2.5's <|fim_prefix|>, ...) they are written as control tokens, as convert_hf_to_gguf.py
// writes them: such a token's text in plain text (no special-token parsing) is then split
// like other text instead of becoming the token.
//
// What the keys cannot carry is an Error naming the tokenizer and the feature, and nothing
// is written: lstrip/rstrip on added tokens, a Metaspace pre-tokenizer that prepends U+2581
// other than where SentencePiece does, a split rule or normalizer without a GGUF form.
#pragma once
#include <cstdint>

namespace trellis {

class GgufWriter;
struct TokenizerModel;

// Sets the tokenizer.* keys for `m` on `w`, padding the token list to `n_vocab` entries
// (no padding when n_vocab is not above the tokenizer's size). Throws Error("<source>:
// cannot be written as a GGUF vocabulary: <why>") and leaves `w` untouched when the
// tokenizer has no exact GGUF form.
void set_gguf_vocab_metadata(GgufWriter& w, const TokenizerModel& m, int64_t n_vocab);

}  // namespace trellis
