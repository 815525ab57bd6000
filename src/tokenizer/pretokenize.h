// Pre-tokenizer split rules for byte-level BPE vocabularies: the regular expressions the
// reference tokenizers use, implemented over Unicode categories from utf8proc.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace trellis {

// Each kind is the regex list llama.cpp (llama-vocab.cpp) uses for that `tokenizer.ggml.pre`;
// the exact patterns are listed in pretokenize.cpp and scripts/gen_pretok_goldens.py.
enum class PreTokenizerKind {
  Gpt2,         // `gpt-2`, `phi-2`, `mpt`, `olmo`, `jais`, ...: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,       // `llama-bpe` (Llama 3), also `llama3`, `smaug-bpe`, `dbrx`, `chatglm-bpe`, ...
  Qwen2,        // `qwen2` (Qwen2/2.5/3), also `stablelm2`, `deepseek-r1-qwen`: like Llama 3 but single digits
  Smollm,       // `smollm`: digits split singly + GPT-2 rules (same rules as Starcoder)
  DeepseekLlm,  // `deepseek-llm`
  Starcoder,    // `starcoder`, also `refact`, `command-r`, `codeshell`, ...: digits singly + GPT-2 rules
  Falcon,       // `falcon`
  Default,      // `default` (and a missing/empty value): llama.cpp's fallback list, NOT plain GPT-2
};

// Maps a GGUF `tokenizer.ggml.pre` value; throws Error naming an unknown value.
PreTokenizerKind pre_tokenizer_from_gguf_name(const std::string& name);
// The name a GGUF writer gives a kind ("gpt-2", "llama-bpe", "qwen2", "smollm", ...).
std::string pre_tokenizer_gguf_name(PreTokenizerKind kind);

// Splits UTF-8 text into pre-tokens (byte ranges of the input, in order, covering it exactly).
// Invalid UTF-8 bytes are treated as single code points of category "other", never dropped.
std::vector<std::string_view> pre_tokenize(PreTokenizerKind kind, std::string_view text);

}  // namespace trellis
