#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

namespace trellis {

std::string unicode_normalize(std::string_view text, NormalizerStep::Kind form) {
  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80;
  if (ascii) return std::string(text);  // every normal form leaves ASCII as it is

  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalizerStep::Kind::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormalizerStep::Kind::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalizerStep::Kind::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalizerStep::Kind::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    default: return std::string(text);
  }
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0) return std::string(text);
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

namespace {

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t at; (at = text.find(pattern, pos)) != std::string_view::npos; pos = at + pattern.size()) {
    out.append(text.substr(pos, at - pos));
    out.append(content);
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const NormalizerStep& step : steps_) {
    switch (step.kind) {
      case NormalizerStep::Kind::Prepend:
        if (!s.empty()) s = step.content + s;  // tokenizers leaves empty text alone
        break;
      case NormalizerStep::Kind::Replace: s = replace_all(s, step.pattern, step.content); break;
      default: s = unicode_normalize(s, step.kind); break;
    }
  }
  return s;
}

}  // namespace trellis
