#include "tokenizer/bpe_encoder.h"

#include "tokenizer/byte_unicode.h"

namespace trellis {

namespace {
constexpr std::string_view kMetaspace = "\xe2\x96\x81";
}

BpeEncoder::BpeEncoder(const TokenizerModel& model) : m_(model) {
  for (int b = 0; b < 256; ++b) byte_char_ids_[b] = m_.vocab.find(byte_to_unicode(static_cast<uint8_t>(b)));
}

void BpeEncoder::encode(std::string_view fragment, bool at_start, std::vector<int32_t>& out) const {
  std::string text = m_.normalizer.empty() ? std::string(fragment) : m_.normalizer.apply(fragment);
  if (m_.metaspace) {
    std::string replaced;
    replaced.reserve(text.size() + kMetaspace.size());
    const bool prepend = m_.metaspace_prepend == PrependScheme::Always ||
                         (m_.metaspace_prepend == PrependScheme::First && at_start);
    if (prepend && !text.empty() && text.compare(0, 1, " ") != 0 && text.compare(0, kMetaspace.size(), kMetaspace) != 0) {
      replaced.append(kMetaspace);
    }
    for (char c : text) {
      if (c == ' ') {
        replaced.append(kMetaspace);
      } else {
        replaced.push_back(c);
      }
    }
    text.swap(replaced);
  }
  std::vector<BpeSymbol> symbols;
  for (std::string_view word : split_words(text)) encode_word(word, symbols, out);
}

std::vector<std::string_view> BpeEncoder::split_words(std::string_view text) const {
  if (text.empty()) return {};
  if (m_.pre) return pre_tokenize(*m_.pre, text);
  if (!m_.metaspace_split) return {text};
  // Metaspace split: each word starts at a U+2581 (merged with the text after it).
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t at = text.find(kMetaspace, 1); at != std::string_view::npos; at = text.find(kMetaspace, at + 1)) {
    words.push_back(text.substr(start, at - start));
    start = at;
  }
  words.push_back(text.substr(start));
  return words;
}

void BpeEncoder::encode_word(std::string_view word, std::vector<BpeSymbol>& symbols, std::vector<int32_t>& out) const {
  if (m_.ignore_merges) {
    const int32_t id = m_.byte_level ? m_.vocab.find(bytes_to_unicode(word)) : m_.vocab.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  initial_symbols(word, symbols);
  bpe_merge(m_.merges, symbols);
  emit(word, symbols, out);
}

void BpeEncoder::initial_symbols(std::string_view word, std::vector<BpeSymbol>& symbols) const {
  symbols.clear();
  symbols.reserve(word.size());
  if (m_.byte_level) {
    for (uint32_t i = 0; i < word.size(); ++i) symbols.push_back({byte_char_ids_[static_cast<uint8_t>(word[i])], i, 1});
    return;
  }
  const Vocab& v = m_.vocab;
  for (uint32_t pos = 0; pos < word.size();) {
    const uint32_t len = static_cast<uint32_t>(std::min(utf8_len_from_lead(static_cast<uint8_t>(word[pos])), word.size() - pos));
    if (const int32_t id = v.find(word.substr(pos, len)); id >= 0) {
      symbols.push_back({id, pos, len});
    } else if (!(m_.byte_fallback && push_byte_symbols(word, pos, len, symbols)) && v.unk >= 0) {
      BpeSymbol* last = symbols.empty() ? nullptr : &symbols.back();
      if (m_.fuse_unk && last && last->id == v.unk && last->start + last->len == pos) {
        last->len += len;
      } else {
        symbols.push_back({v.unk, pos, len});
      }
    }
    // With neither byte fallback nor an unknown token the character is dropped, as in tokenizers.
    pos += len;
  }
}

bool BpeEncoder::push_byte_symbols(std::string_view word, uint32_t pos, uint32_t len, std::vector<BpeSymbol>& symbols) const {
  // Hugging Face byte fallback: one `<0xNN>` per byte, or nothing if any is missing.
  for (uint32_t i = 0; i < len; ++i) {
    if (m_.vocab.byte_token(static_cast<uint8_t>(word[pos + i])) < 0) return false;
  }
  for (uint32_t i = 0; i < len; ++i) symbols.push_back({m_.vocab.byte_token(static_cast<uint8_t>(word[pos + i])), pos + i, 1});
  return true;
}

void BpeEncoder::emit(std::string_view word, const std::vector<BpeSymbol>& symbols, std::vector<int32_t>& out) const {
  for (const BpeSymbol& s : symbols) {
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // A byte-level symbol with no token (a merge result or mapped byte the vocab lacks):
    // llama.cpp looks up each byte of its mapped text as a one-byte piece and keeps the hits.
    const std::string mapped = bytes_to_unicode(word.substr(s.start, s.len));
    for (char c : mapped) {
      if (const int32_t id = m_.vocab.find(std::string_view(&c, 1)); id >= 0) out.push_back(id);
    }
  }
}

}  // namespace trellis
