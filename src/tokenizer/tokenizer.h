// Text <-> token ids for SentencePiece-style and byte-level BPE vocabularies, loaded from
// GGUF metadata (tokenizer.ggml.*) or Hugging Face files (tokenizer.json, or vocab.json +
// merges.txt + tokenizer_config.json). Behaviour follows llama.cpp's llama-vocab.cpp for GGUF
// vocabularies and Hugging Face `tokenizers` for HF files. A Tokenizer is immutable after
// loading; encode/decode are const and safe to call from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace trellis {

class GgufFile;
struct TokenizerModel;
class SpecialTokenMatcher;
class BpeEncoder;

class Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& f);
  static std::unique_ptr<Tokenizer> from_hf_dir(const std::string& dir);
  // A GGUF file (vocab-only or full model) or a directory of Hugging Face files.
  static std::unique_ptr<Tokenizer> load(const std::string& path);
  // Wraps an already-built model (used by the loaders).
  explicit Tokenizer(std::unique_ptr<TokenizerModel> model);
  ~Tokenizer();

  // add_special: BOS/EOS as the vocabulary asks (add_bos/add_eos). parse_special: match
  // control tokens such as <|im_start|> inside the text (chat templates do; plain user text
  // must not). User-defined tokens are matched either way.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // Throws Error on an id outside the vocabulary. render_special=false drops control tokens.
  std::string decode(const std::vector<int32_t>& ids, bool render_special = true) const;
  // The bytes this token contributes when decoding (before leading-space and clean-up rules).
  std::string token_to_piece(int32_t id, bool render_special = true) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t eot_id() const;
  bool add_bos() const;
  bool add_eos() const;
  bool is_end_of_generation(int32_t id) const;
  const std::string& token_text(int32_t id) const;
  const std::string& chat_template() const;
  std::string bos_text() const;
  std::string eos_text() const;

  const TokenizerModel& model() const { return *model_; }

 private:
  void check_id(int32_t id) const;
  void encode_spm(std::string_view text, bool after_special, std::vector<int32_t>& out) const;

  std::unique_ptr<TokenizerModel> model_;
  std::unique_ptr<SpecialTokenMatcher> matcher_;
  std::unique_ptr<BpeEncoder> bpe_;
};

}  // namespace trellis

// StreamDecoder belongs with the Tokenizer API.
#include "tokenizer/stream_decoder.h"
