#include "tokenizer/gguf_vocab_loader.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/spm.h"

namespace trellis {

namespace {

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return s == n; });
}

const GgufValue& require(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) fail(f.path(), ": ", key, ": missing");
  return *v;
}

std::vector<double> optional_numbers(const GgufFile& f, const std::string& key, size_t n) {
  if (!f.has(key)) return {};
  std::vector<double> values = f.get_number_array(key);
  if (values.size() != n) fail(f.path(), ": ", key, ": has ", values.size(), " entries for ", n, " tokens");
  return values;
}

void load_tokens(const GgufFile& f, Vocab& vocab) {
  const GgufValue& tokens_value = require(f, "tokenizer.ggml.tokens");
  if (tokens_value.type != GgufType::ARRAY || tokens_value.array_type != GgufType::STRING) {
    fail(f.path(), ": tokenizer.ggml.tokens: not an array of strings");
  }
  const std::vector<std::string>& tokens = tokens_value.strings;
  if (tokens.empty()) fail(f.path(), ": tokenizer.ggml.tokens: empty");
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) fail(f.path(), ": tokenizer.ggml.tokens: too many tokens");
  const std::vector<double> scores = optional_numbers(f, "tokenizer.ggml.scores", tokens.size());
  const std::vector<double> types = optional_numbers(f, "tokenizer.ggml.token_type", tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    // llama.cpp renames empty pieces so that they stay unique and never match text.
    std::string text = tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : tokens[i];
    const float score = scores.empty() ? 0.0f : static_cast<float>(scores[i]);
    const uint32_t attr = types.empty() ? kAttrNormal : token_attr_from_gguf_type(static_cast<int64_t>(types[i]));
    vocab.add(std::move(text), score, attr, f.path(), "tokenizer.ggml.tokens[" + std::to_string(i) + "]");
  }
}

void load_merges(const GgufFile& f, TokenizerModel& m) {
  const GgufValue& merges_value = require(f, "tokenizer.ggml.merges");
  if (merges_value.type != GgufType::ARRAY || merges_value.array_type != GgufType::STRING) {
    fail(f.path(), ": tokenizer.ggml.merges: not an array of strings");
  }
  const std::vector<std::string>& merges = merges_value.strings;
  m.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    std::string_view left, right;
    if (!split_merge_line(merges[i], &left, &right)) {
      fail(f.path(), ": tokenizer.ggml.merges[", i, "]: '", merges[i], "' is not two pieces separated by a space");
    }
    const int32_t l = m.vocab.find(left), r = m.vocab.find(right);
    if (l < 0 || r < 0) {
      fail(f.path(), ": tokenizer.ggml.merges[", i, "]: '", merges[i], "' names a piece that is not in the vocabulary");
    }
    // A merged piece missing from the vocabulary is tolerated, as llama.cpp does.
    m.merges.add(l, r, m.vocab.find(std::string(left) + std::string(right)));
  }
}

void load_special_ids(const GgufFile& f, Vocab& vocab) {
  const struct {
    const char* key;
    int32_t* id;
  } keys[] = {
      {"tokenizer.ggml.bos_token_id", &vocab.bos},     {"tokenizer.ggml.eos_token_id", &vocab.eos},
      {"tokenizer.ggml.eot_token_id", &vocab.eot},     {"tokenizer.ggml.eom_token_id", &vocab.eom},
      {"tokenizer.ggml.unknown_token_id", &vocab.unk}, {"tokenizer.ggml.padding_token_id", &vocab.pad},
  };
  for (const auto& k : keys) {
    if (!f.has(k.key)) continue;
    const int64_t id = f.get_int(k.key);
    // Converters write -1 (often as uint32 0xFFFFFFFF) for "no such token".
    if (id == -1 || id == 0xFFFFFFFFll) continue;
    if (id < 0 || id >= vocab.size()) fail(f.path(), ": ", k.key, ": id ", id, " is outside the vocabulary (size ", vocab.size(), ")");
    *k.id = static_cast<int32_t>(id);
  }
  vocab.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  vocab.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", vocab.add_eos);
}

// Trellis's tokenizer.ggml.normalizer key (absent: no normalization, as llama.cpp).
void load_normalizer(const GgufFile& f, TokenizerModel& m) {
  const std::string name = f.get_string("tokenizer.ggml.normalizer", "");
  if (name.empty()) return;
  for (auto kind : {NormalizerStep::Kind::NFC, NormalizerStep::Kind::NFD, NormalizerStep::Kind::NFKC,
                    NormalizerStep::Kind::NFKD}) {
    if (name == normal_form_name(kind)) return m.normalizer.add({kind, "", ""});
  }
  fail(f.path(), ": tokenizer.ggml.normalizer: unknown normal form '", name, "'");
}

// llama.cpp's per-pre-tokenizer defaults for byte-level BPE.
void configure_bpe(const GgufFile& f, TokenizerModel& m) {
  const std::string pre = f.get_string("tokenizer.ggml.pre", "default");
  try {
    m.pre = pre_tokenizer_from_gguf_name(pre);
  } catch (const Error& e) {
    fail(f.path(), ": tokenizer.ggml.pre: ", e.what());
  }
  m.algorithm = TokenizerAlgorithm::Bpe;
  m.byte_level = true;
  m.piece_style = PieceStyle::ByteLevel;
  m.add_space_prefix = false;
  m.ignore_merges = gguf_pre_ignores_merges(pre);
  m.vocab.add_bos = one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "tekken", "chameleon"});
  m.clean_spaces = !one_of(pre, {"deepseek-llm", "deepseek-coder", "deepseek-v3", "command-r", "qwen2", "poro-chat",
                                 "viking", "tekken", "smollm", "chameleon"});
  // An explicit setting wins (Trellis's own vocabularies turn the clean-up off, so that
  // decoding returns exactly the encoded text; a reader that does not know the key cleans).
  m.clean_spaces = f.get_bool("tokenizer.ggml.clean_spaces", m.clean_spaces);
  load_normalizer(f, m);
  load_merges(f, m);
}

void configure_spm(const GgufFile& f, TokenizerModel& m) {
  m.algorithm = TokenizerAlgorithm::Spm;
  m.piece_style = PieceStyle::Spm;
  m.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
  m.strip_leading_space = m.add_space_prefix;
  m.spm_split_words = spm_pieces_split_at_spaces(m.vocab);
  // Absent in llama.cpp's files (no clean-up for SentencePiece); Trellis writes it for a
  // Hugging Face tokenizer that cleans up.
  m.clean_spaces = f.get_bool("tokenizer.ggml.clean_spaces", false);
  // llama.cpp's defaults for SentencePiece vocabs, used when the ids are not given.
  Vocab& v = m.vocab;
  if (v.size() > 2) v.unk = 0, v.bos = 1, v.eos = 2;
  v.add_bos = true;
}

// Phi-3 special tokens swallow whitespace to their right (llama.cpp sets this by model name).
void apply_model_quirks(const GgufFile& f, Vocab& v) {
  std::string name = f.get_string("general.name", "");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
  for (int32_t id : v.special_tokens()) v.set_attr(id, v.at(id).attr | kAttrRstrip);
  if (int32_t id = v.find("</s>"); id >= 0) v.set_attr(id, v.at(id).attr | kAttrRstrip);
  for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) {
    if (int32_t id = v.find(t); id >= 0) v.set_attr(id, v.at(id).attr & ~kAttrRstrip);
  }
}

}  // namespace

bool gguf_pre_ignores_merges(const std::string& pre) {
  return one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "tekken"});
}

const char* normal_form_name(NormalizerStep::Kind kind) {
  switch (kind) {
    case NormalizerStep::Kind::NFC: return "NFC";
    case NormalizerStep::Kind::NFD: return "NFD";
    case NormalizerStep::Kind::NFKC: return "NFKC";
    case NormalizerStep::Kind::NFKD: return "NFKD";
    default: return "";
  }
}

std::unique_ptr<TokenizerModel> load_gguf_tokenizer_model(const GgufFile& f) {
  auto m = std::make_unique<TokenizerModel>();
  m->source = f.path();
  const std::string kind = f.get_string("tokenizer.ggml.model", "");
  if (kind.empty()) fail(f.path(), ": tokenizer.ggml.model: missing");
  if (kind != "llama" && kind != "gpt2") fail(f.path(), ": tokenizer.ggml.model: unsupported tokenizer '", kind, "'");
  load_tokens(f, m->vocab);
  if (kind == "gpt2") {
    configure_bpe(f, *m);
  } else {
    configure_spm(f, *m);
  }
  load_special_ids(f, m->vocab);
  m->chat_template = f.get_string("tokenizer.chat_template", "");
  m->vocab.finish(/*force_control=*/true);
  apply_model_quirks(f, m->vocab);
  return m;
}

}  // namespace trellis
