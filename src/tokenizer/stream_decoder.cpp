#include "tokenizer/stream_decoder.h"

#include "tokenizer/detokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_model.h"

namespace trellis {

namespace {

// Length of the trailing bytes of `s` that begin a UTF-8 character still missing bytes.
size_t incomplete_utf8_tail(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 0;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tok_(tokenizer), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
  std::string piece = tok_.token_to_piece(id, render_special_);
  if (first_ && tok_.model().strip_leading_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  first_ = false;
  raw_ += piece;
  return take_ready(false);
}

std::string StreamDecoder::flush() { return take_ready(true); }

std::string StreamDecoder::take_ready(bool final) {
  // Clean-up looks at neighbouring bytes, so only text before a cut that cannot change the
  // result (see is_clean_cut) is cleaned and released; the rest waits for more tokens.
  size_t cut = raw_.size();
  if (tok_.model().clean_spaces && !final) {
    while (cut > 0 && !is_clean_cut(raw_, cut)) --cut;
  }
  std::string ready = raw_.substr(0, cut);
  raw_.erase(0, cut);
  if (tok_.model().clean_spaces) ready = clean_up_spaces(ready);
  pending_ += ready;
  const size_t hold = final ? 0 : incomplete_utf8_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

}  // namespace trellis
