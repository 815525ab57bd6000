// Writing a trained byte-level BPE vocabulary (bpe_trainer.h) as a vocabulary-only GGUF,
// with the tokenizer.* keys llama.cpp and Trellis's loader read for GPT-2-style BPE:
//
//   tokenizer.ggml.model = "gpt2", tokenizer.ggml.pre = "gpt-2" (the GPT-2 split rules the
//   trainer used), tokens in the byte-to-Unicode form (byte_unicode.h) with the special
//   tokens as control tokens (type 3) after them, merges as "left right" in rank order,
//   bos = eos = the first special token (added at the start of every encoded text),
//   eot = <|im_end|> and a ChatML chat template when <|im_start|> and <|im_end|> are among
//   the special tokens, and tokenizer.ggml.clean_spaces = false so that decoding gives back
//   exactly the text that was encoded (GPT-2's default clean-up turns " ," into ",").
//
// There is no general.architecture: the file describes no model. `trellis gen-model
// --tokenizer-from FILE` copies the tokenizer.* keys into a model. (clean_spaces is read by
// Trellis; a reader that does not know the key applies its own default.)
#pragma once
#include <string>

namespace trellis {

class GgufWriter;
struct TrainedBpe;

// The ChatML template written when <|im_start|> and <|im_end|> are special tokens.
const std::string& chatml_template();

// Sets the tokenizer.* keys of `bpe` on `w`.
void set_bpe_vocab_metadata(GgufWriter& w, const TrainedBpe& bpe);

// Writes a vocabulary-only GGUF (atomically); `name` goes to general.name.
void write_bpe_vocab(const TrainedBpe& bpe, const std::string& name, const std::string& path);

}  // namespace trellis
