// Everything a loaded tokenizer is made of, independent of the file it came from. The GGUF
// and Hugging Face loaders fill one of these; Tokenizer runs it.
#pragma once
#include <optional>
#include <string>

#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace trellis {

enum class TokenizerAlgorithm {
  Spm,  // llama.cpp SentencePiece: merge by piece score (GGUF `llama`)
  Bpe,  // merge by rank (GGUF `gpt2`, Hugging Face BPE)
};

// How a normal token's text becomes bytes when decoding.
enum class PieceStyle {
  Spm,        // U+2581 -> space; `<0xNN>` byte tokens -> that byte
  ByteLevel,  // GPT-2 byte <-> Unicode map
};

// Hugging Face Metaspace pre-tokenizer: when to prepend the replacement character.
enum class PrependScheme { Never, First, Always };

struct TokenizerModel {
  std::string source;  // file or directory, for error messages
  Vocab vocab;
  TokenizerAlgorithm algorithm = TokenizerAlgorithm::Spm;

  // SPM: prepend a space to text that starts the input or follows a special token.
  bool add_space_prefix = true;
  bool spm_split_words = false;  // see spm_pieces_split_at_spaces

  // BPE
  BpeMerges merges;
  Normalizer normalizer;
  std::optional<PreTokenizerKind> pre;  // regex split rule; none: each fragment is one word
  bool byte_level = false;              // words are bytes seen through the GPT-2 map
  bool ignore_merges = false;           // a word that is a vocab piece is taken whole
  bool byte_fallback = false;           // unknown characters -> `<0xNN>` tokens
  bool fuse_unk = false;                // consecutive unknown characters -> one unknown token
  // Metaspace pre-tokenizer (spaces -> U+2581, optional prefix, optional split).
  bool metaspace = false;
  PrependScheme metaspace_prepend = PrependScheme::Never;
  bool metaspace_split = false;

  // Decoding
  PieceStyle piece_style = PieceStyle::Spm;
  bool strip_leading_space = false;  // drop one leading space of the first piece
  bool clean_spaces = false;         // clean_up_tokenization_spaces (llama.cpp's three passes)

  std::string chat_template;
};

}  // namespace trellis
