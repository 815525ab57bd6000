// Pre-tokenizer split rules for byte-level BPE vocabularies: the regular expressions the
// reference tokenizers use, implemented over Unicode categories from utf8proc.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace trellis {

enum class PreTokenizerKind {
  Gpt2,         // GPT-2 / `default`: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,       // `llama-bpe` (Llama 3), also `smaug-bpe`
  Qwen2,        // `qwen2` (Qwen2/2.5/3): like Llama 3 but single digits
  Smollm,       // `smollm`: digits split singly + GPT-2 rules
  DeepseekLlm,  // `deepseek-llm`
  Starcoder,    // `starcoder`: digits singly + GPT-2 rules
  Falcon,       // `falcon`
};

// Maps a GGUF `tokenizer.ggml.pre` value; throws Error naming an unknown value.
PreTokenizerKind pre_tokenizer_from_gguf_name(const std::string& name);

// Splits UTF-8 text into pre-tokens (byte ranges of the input, in order, covering it exactly).
// Invalid UTF-8 bytes are treated as single code points of category "other", never dropped.
std::vector<std::string_view> pre_tokenize(PreTokenizerKind kind, std::string_view text);

}  // namespace trellis
