#include "tokenizer/gguf_vocab_writer.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/gguf_vocab_loader.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_model.h"

namespace trellis {

namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";
constexpr int32_t kTypeUnused = 5;
constexpr float kPadScore = -1000.0f;  // convert_hf_to_gguf.py's score for padding tokens

// Everything the keys will hold, built and checked before any key is set.
struct GgufVocab {
  std::string model;                      // "gpt2" or "llama"
  std::string pre;                        // gpt2: the split rule's name
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;              // llama
  std::vector<std::string> merges;        // gpt2
  std::string normalizer;                 // gpt2, Trellis's key; empty: none
  std::optional<bool> add_space_prefix;   // llama
};

template <typename... Args>
[[noreturn]] void unsupported(const TokenizerModel& m, const Args&... why) {
  fail(m.source, ": cannot be written as a GGUF vocabulary: ", why...);
}

// The inverse of token_attr_from_gguf_type.
int32_t gguf_token_type(uint32_t attr) {
  switch (attr) {
    case kAttrNormal: return 1;
    case kAttrUnknown: return 2;
    case kAttrControl: return 3;
    case kAttrUserDefined: return 4;
    case kAttrUnused: return kTypeUnused;
    case kAttrByte: return 6;
    default: return 0;
  }
}

// Strip flags have no GGUF key (llama.cpp sets them by model name).
void check_no_strip_flags(const TokenizerModel& m) {
  const Vocab& v = m.vocab;
  for (int32_t id = 0; id < v.size(); ++id) {
    if (v.at(id).attr & (kAttrLstrip | kAttrRstrip)) {
      unsupported(m, "token ", id, " '", v.at(id).text, "' strips whitespace next to it (lstrip/rstrip), which GGUF cannot record");
    }
  }
}

// Tokens and types, with unused "[PAD<id>]" tokens for empty ids and up to n_vocab. The
// types are the ones a GGUF reader ends up with: it makes end-of-turn and fill-in-the-middle
// tokens control tokens (Vocab::finish, as llama.cpp) even where the Hugging Face files call
// them not special (Qwen2.5's <|fim_prefix|>, ...); convert_hf_to_gguf.py writes such
// "<|...|>" tokens as control tokens too.
void add_tokens(const TokenizerModel& m, int64_t n_vocab, GgufVocab& g) {
  Vocab v = m.vocab;
  v.finish(/*force_control=*/true);
  const int64_t n = std::max<int64_t>(n_vocab, v.size());
  g.tokens.reserve(static_cast<size_t>(n));
  g.types.reserve(static_cast<size_t>(n));
  for (int64_t id = 0; id < n; ++id) {
    if (id < v.size() && !v.is_placeholder(static_cast<int32_t>(id))) {
      g.tokens.push_back(v.at(static_cast<int32_t>(id)).text);
      g.types.push_back(gguf_token_type(v.at(static_cast<int32_t>(id)).attr));
      continue;
    }
    std::string pad = "[PAD" + std::to_string(id) + "]";
    if (v.find(pad) >= 0) unsupported(m, "the padding token name '", pad, "' is already a piece");
    g.tokens.push_back(std::move(pad));
    g.types.push_back(kTypeUnused);
  }
}

// ---- byte-level BPE -> "gpt2" ---------------------------------------------------------

void set_byte_level_rules(const TokenizerModel& m, GgufVocab& g) {
  if (!m.pre) unsupported(m, "byte-level BPE without a split rule (llama.cpp always splits)");
  if (m.piece_style != PieceStyle::ByteLevel || m.strip_leading_space) {
    unsupported(m, "byte-level BPE that does not decode through the byte map alone");
  }
  g.model = "gpt2";
  g.pre = pre_tokenizer_gguf_name(*m.pre);
  if (gguf_pre_ignores_merges(g.pre) != m.ignore_merges) {
    // llama.cpp knows Llama 3's rule without ignore_merges as Smaug's.
    if (*m.pre != PreTokenizerKind::Llama3 || m.ignore_merges) {
      unsupported(m, "ignore_merges = ", m.ignore_merges ? "true" : "false", " with the '", g.pre, "' split rule");
    }
    g.pre = "smaug-bpe";
  }
  const std::vector<NormalizerStep>& steps = m.normalizer.steps();
  if (steps.size() > 1 || (steps.size() == 1 && *normal_form_name(steps[0].kind) == '\0')) {
    unsupported(m, "a normalizer other than one Unicode normal form");
  }
  if (!steps.empty()) g.normalizer = normal_form_name(steps[0].kind);
}

void add_merge_lines(const TokenizerModel& m, GgufVocab& g) {
  const std::vector<BpeMerges::Entry> merges = m.merges.in_rank_order();
  g.merges.reserve(merges.size());
  for (const BpeMerges::Entry& e : merges) {
    const std::string& left = m.vocab.at(e.left).text;
    // A reader cuts the line at its first space after the first character.
    if (left.find(' ', 1) != std::string::npos) unsupported(m, "the merge of '", left, "' holds a space");
    g.merges.push_back(left + " " + m.vocab.at(e.right).text);
  }
}

// ---- SentencePiece-style BPE -> "llama" with scores from the merge ranks ----------------

bool is_one_character(std::string_view s) {
  return !s.empty() && utf8_len_from_lead(static_cast<uint8_t>(s[0])) >= s.size();
}

// Where the U+2581 prefix goes, from the Hugging Face normalizer / Metaspace settings.
// llama.cpp prepends it to text at the start and after every special token, whatever the
// text starts with: Llama 2's Prepend normalizer does the same, Metaspace does not.
bool spm_space_prefix(const TokenizerModel& m) {
  const std::vector<NormalizerStep>& s = m.normalizer.steps();
  auto prepend = [](const NormalizerStep& x) { return x.kind == NormalizerStep::Kind::Prepend && x.content == kSpace; };
  auto escape = [](const NormalizerStep& x) {
    return x.kind == NormalizerStep::Kind::Replace && x.pattern == " " && x.content == kSpace;
  };
  if (!m.metaspace) {
    if (s.size() == 2 && prepend(s[0]) && escape(s[1])) return true;
    if (s.size() == 1 && escape(s[0])) return false;
    unsupported(m, "a normalizer other than spaces to U+2581 (with or without a U+2581 prepended)");
  }
  if (!s.empty()) unsupported(m, "a normalizer together with a Metaspace pre-tokenizer");
  if (m.metaspace_prepend != PrependScheme::Never) {
    unsupported(m, "Metaspace prepends U+2581 where SentencePiece would not (to text that starts with a space, "
                   "or only at the start of the input)");
  }
  if (m.metaspace_split && !spm_pieces_split_at_spaces(m.vocab)) {
    unsupported(m, "Metaspace splits at U+2581 but pieces continue across it");
  }
  return false;
}

// SentencePiece merges any two adjacent symbols whose concatenation is a piece; the BPE
// only the listed pairs. They agree when every cut of a piece into two symbols the BPE can
// hold (pieces, or single characters that are not pieces) is a listed merge.
void check_merges_complete(const TokenizerModel& m) {
  const Vocab& v = m.vocab;
  for (int32_t id = 0; id < v.size(); ++id) {
    const std::string_view t = v.at(id).text;
    for (size_t cut = t.empty() ? 0 : utf8_len_from_lead(static_cast<uint8_t>(t[0])); cut < t.size();
         cut += utf8_len_from_lead(static_cast<uint8_t>(t[cut]))) {
      const std::string_view a = t.substr(0, cut), b = t.substr(cut);
      const int32_t ia = v.find(a), ib = v.find(b);
      if ((ia < 0 && !is_one_character(a)) || (ib < 0 && !is_one_character(b))) continue;
      if (ia < 0 || ib < 0 || !m.merges.find(ia, ib)) {
        unsupported(m, "piece '", t, "' can be formed from '", a, "' + '", b, "', which is not a merge");
      }
    }
  }
}

// A piece scores minus (1 + the rank of the first merge that builds it); other pieces 0.
void add_rank_scores(const TokenizerModel& m, GgufVocab& g) {
  g.scores.assign(g.tokens.size(), 0.0f);
  const std::vector<BpeMerges::Entry> merges = m.merges.in_rank_order();
  if (merges.size() >= (size_t{1} << 24)) unsupported(m, "too many merges for exact float scores");
  std::vector<bool> scored(g.tokens.size(), false);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const int32_t r = merges[rank].result;
    if (r < 0 || scored[r]) continue;
    scored[r] = true;
    g.scores[r] = -static_cast<float>(rank + 1);
  }
  for (size_t id = 0; id < g.tokens.size(); ++id) {
    if (g.types[id] == kTypeUnused) g.scores[id] = kPadScore;
  }
}

void set_merge_score_rules(const TokenizerModel& m, GgufVocab& g) {
  if (m.pre || m.piece_style != PieceStyle::Spm) unsupported(m, "BPE that is neither byte-level nor SentencePiece-style");
  if (m.ignore_merges) unsupported(m, "ignore_merges over SentencePiece-style pieces");
  if (!m.byte_fallback) unsupported(m, "no byte fallback (llama.cpp's SentencePiece falls back to <0xNN> tokens)");
  for (int b = 0; b < 256; ++b) {
    if (m.vocab.byte_token(static_cast<uint8_t>(b)) < 0) unsupported(m, "no <0xNN> token for byte ", b);
  }
  g.model = "llama";
  g.add_space_prefix = spm_space_prefix(m);
  if (m.strip_leading_space != *g.add_space_prefix) {
    unsupported(m, "the decoder ", m.strip_leading_space ? "strips" : "keeps", " a leading space, which a "
                "SentencePiece reader ", *g.add_space_prefix ? "keeps" : "strips");
  }
  check_merges_complete(m);
  add_rank_scores(m, g);
}

// ---- SentencePiece (from a GGUF) -> "llama" -------------------------------------------

void set_spm_rules(const TokenizerModel& m, GgufVocab& g) {
  if (!m.normalizer.empty() || m.strip_leading_space != m.add_space_prefix) {
    unsupported(m, "SentencePiece with settings a GGUF reader would not restore");
  }
  g.model = "llama";
  g.add_space_prefix = m.add_space_prefix;
  g.scores.assign(g.tokens.size(), kPadScore);
  for (int32_t id = 0; id < m.vocab.size(); ++id) g.scores[id] = m.vocab.at(id).score;
}

GgufVocab build(const TokenizerModel& m, int64_t n_vocab) {
  check_no_strip_flags(m);
  GgufVocab g;
  add_tokens(m, n_vocab, g);
  if (m.algorithm == TokenizerAlgorithm::Spm) {
    set_spm_rules(m, g);
  } else if (m.byte_level) {
    set_byte_level_rules(m, g);
    add_merge_lines(m, g);
  } else {
    set_merge_score_rules(m, g);
  }
  // A SentencePiece reader assumes BOS 1 and EOS 2 when the ids are not given.
  if (g.model == "llama" && m.vocab.size() > 2 && (m.vocab.bos < 0 || m.vocab.eos < 0)) {
    unsupported(m, "no BOS or no EOS token (a GGUF SentencePiece reader would assume ids 1 and 2)");
  }
  return g;
}

void set_special_ids(GgufWriter& w, const Vocab& v) {
  const struct {
    const char* key;
    int32_t id;
  } ids[] = {
      {"tokenizer.ggml.bos_token_id", v.bos},     {"tokenizer.ggml.eos_token_id", v.eos},
      {"tokenizer.ggml.unknown_token_id", v.unk}, {"tokenizer.ggml.padding_token_id", v.pad},
      {"tokenizer.ggml.eot_token_id", v.eot},     {"tokenizer.ggml.eom_token_id", v.eom},
  };
  for (const auto& k : ids) {
    if (k.id >= 0) w.set_u32(k.key, static_cast<uint32_t>(k.id));
  }
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos);
}

}  // namespace

void set_gguf_vocab_metadata(GgufWriter& w, const TokenizerModel& m, int64_t n_vocab) {
  GgufVocab g = build(m, n_vocab);
  w.set_string("tokenizer.ggml.model", g.model);
  if (!g.pre.empty()) w.set_string("tokenizer.ggml.pre", g.pre);
  w.set_array_string("tokenizer.ggml.tokens", std::move(g.tokens));
  if (!g.scores.empty()) w.set_array_f32("tokenizer.ggml.scores", g.scores);
  w.set_array_i32("tokenizer.ggml.token_type", g.types);
  if (g.model == "gpt2") w.set_array_string("tokenizer.ggml.merges", std::move(g.merges));
  if (g.add_space_prefix) w.set_bool("tokenizer.ggml.add_space_prefix", *g.add_space_prefix);
  set_special_ids(w, m.vocab);
  w.set_bool("tokenizer.ggml.clean_spaces", m.clean_spaces);
  if (!g.normalizer.empty()) w.set_string("tokenizer.ggml.normalizer", g.normalizer);
  if (!m.chat_template.empty()) w.set_string("tokenizer.chat_template", m.chat_template);
}

}  // namespace trellis
