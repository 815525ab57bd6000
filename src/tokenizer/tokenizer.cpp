#include "tokenizer/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/bpe_encoder.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/gguf_vocab_loader.h"
#include "tokenizer/hf_tokenizer_files.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_model.h"

namespace trellis {

Tokenizer::Tokenizer(std::unique_ptr<TokenizerModel> model)
    : model_(std::move(model)),
      matcher_(std::make_unique<SpecialTokenMatcher>(model_->vocab)),
      bpe_(std::make_unique<BpeEncoder>(*model_)) {}

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  return std::make_unique<Tokenizer>(load_gguf_tokenizer_model(f));
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_dir(const std::string& dir) {
  return std::make_unique<Tokenizer>(load_hf_tokenizer_model(dir));
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return from_hf_dir(path);
  if (!fs::exists(path, ec)) fail(path, ": no such file or directory");
  const std::string name = fs::path(path).filename().string();
  if (name == "tokenizer.json" || name == "vocab.json" || name == "tokenizer_config.json") {
    return from_hf_dir(fs::path(path).parent_path().string());
  }
  auto gguf = GgufFile::open(path);
  return from_gguf(*gguf);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Vocab& v = model_->vocab;
  std::vector<int32_t> out;
  if (add_special && v.add_bos) {
    if (v.bos < 0) fail(model_->source, ": the vocabulary asks for a BOS token but has none");
    out.push_back(v.bos);
  }
  // Text at the start of the input counts as following a special token (SPM space prefix).
  bool after_special = true;
  for (const Fragment& f : matcher_->partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    const bool at_start = f.text.data() == text.data();
    if (model_->algorithm == TokenizerAlgorithm::Spm) {
      encode_spm(f.text, after_special, out);
    } else {
      bpe_->encode(f.text, at_start, out);
    }
    after_special = false;
  }
  if (add_special && v.add_eos) {
    if (v.eos < 0) fail(model_->source, ": the vocabulary asks for an EOS token but has none");
    out.push_back(v.eos);
  }
  return out;
}

void Tokenizer::encode_spm(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  static constexpr std::string_view kSpace = "\xe2\x96\x81";
  std::string escaped;
  escaped.reserve(text.size() * 2 + 3);
  if (model_->add_space_prefix && after_special) escaped.append(kSpace);
  for (char c : text) {
    if (c == ' ') {
      escaped.append(kSpace);
    } else {
      escaped.push_back(c);
    }
  }
  if (!model_->spm_split_words) return spm_tokenize(model_->vocab, escaped, out, model_->source);
  for (std::string_view word : spm_split_words(escaped)) spm_tokenize(model_->vocab, word, out, model_->source);
}

void Tokenizer::check_id(int32_t id) const {
  if (!model_->vocab.valid(id)) {
    fail(model_->source, ": token id ", id, " is outside the vocabulary (size ", model_->vocab.size(), ")");
  }
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  check_id(id);
  return token_piece(*model_, id, render_special);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string raw;
  bool first = true;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, render_special);
    // llama.cpp strips the space its encoder prepended from the first token only.
    if (first && model_->strip_leading_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    raw += piece;
  }
  return model_->clean_spaces ? clean_up_spaces(raw) : raw;
}

int32_t Tokenizer::n_vocab() const { return model_->vocab.size(); }
int32_t Tokenizer::bos_id() const { return model_->vocab.bos; }
int32_t Tokenizer::eos_id() const { return model_->vocab.eos; }
int32_t Tokenizer::eot_id() const { return model_->vocab.eot; }
bool Tokenizer::add_bos() const { return model_->vocab.add_bos; }
bool Tokenizer::add_eos() const { return model_->vocab.add_eos; }

bool Tokenizer::is_end_of_generation(int32_t id) const { return model_->vocab.eog_ids().count(id) > 0; }

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return model_->vocab.at(id).text;
}

const std::string& Tokenizer::chat_template() const { return model_->chat_template; }

std::string Tokenizer::bos_text() const { return model_->vocab.bos >= 0 ? model_->vocab.at(model_->vocab.bos).text : ""; }
std::string Tokenizer::eos_text() const { return model_->vocab.eos >= 0 ? model_->vocab.at(model_->vocab.eos).text : ""; }

}  // namespace trellis
