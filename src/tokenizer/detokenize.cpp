#include "tokenizer/detokenize.h"

#include "tokenizer/byte_unicode.h"

namespace trellis {

namespace {

std::string unescape_spm(std::string_view text) {
  static constexpr std::string_view kSpace = "\xe2\x96\x81";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpace.size(), kSpace) == 0) {
      out.push_back(' ');
      i += kSpace.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

// `<0xNN>` -> the byte (validated by Vocab::finish, which only marks real byte pieces).
char spm_byte(std::string_view text) {
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  return static_cast<char>(hex(text[3]) * 16 + hex(text[4]));
}

bool is_byte_piece(std::string_view t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && t[5] == '>' && hex(t[3]) && hex(t[4]);
}

}  // namespace

std::string token_piece(const TokenizerModel& m, int32_t id, bool render_special) {
  const TokenData& t = m.vocab.at(id);
  if (t.attr & (kAttrControl | kAttrUnknown)) return render_special ? t.text : std::string();
  if (t.attr & kAttrUserDefined) return t.text;
  if (t.attr & kAttrNormal) return m.piece_style == PieceStyle::Spm ? unescape_spm(t.text) : unicode_to_bytes(t.text);
  if ((t.attr & kAttrByte) && m.piece_style == PieceStyle::Spm && is_byte_piece(t.text)) {
    return std::string(1, spm_byte(t.text));
  }
  return std::string();
}

std::string clean_up_spaces(std::string_view in) {
  std::string text(in);
  // Pass 1: " ?", " !", " .", " ," -> drop the space.
  size_t total = text.empty() ? 0 : 1;
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    text[total++] = x;
  }
  text.resize(total);
  // Pass 2: " ' " -> "'". The in-place writes mirror llama.cpp exactly, including the NUL it
  // leaves in place of the removed space (which later iterations read as the previous byte).
  const size_t total2 = text.size();
  total = total2 ? 1 : 0;
  for (size_t i = 1; i < total2; ++i) {
    const char x = text[i];
    if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
      --total;
      text[++i] = '\0';
    }
    text[total++] = x;
  }
  text.resize(total);
  // Pass 3: " 's", " 'm", " 're", " 've" -> drop the space.
  const size_t total3 = text.size();
  total = total3 ? 1 : 0;
  for (size_t i = 1; i < total3; ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
      const char x1 = text[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < total3) {
        const char x2 = text[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    text[total++] = x;
  }
  text.resize(total);
  return text;
}

bool is_clean_cut(std::string_view text, size_t pos) {
  if (pos > text.size()) return false;
  // Bytes before the start of `text` were themselves behind a clean cut, so only the ones
  // present need checking.
  for (size_t i = pos < 3 ? 0 : pos - 3; i < pos; ++i) {
    if (text[i] == ' ' || text[i] == '\'') return false;
  }
  return true;
}

}  // namespace trellis
