#include "tokenizer/merge_queue.h"
#include "tokenizer/spm.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/byte_unicode.h"

namespace trellis {

namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t len;  // 0 once merged into its left neighbour
};

// A queued pair as one integer, (descending score << 32) | left, so the heap is small and
// pops the highest score first, then the leftmost pair (llama.cpp's order). An entry is acted
// on only if the pair now at `left` still forms a piece of that score: entries with equal
// keys are interchangeable, so this performs the same merges in the same order as llama.cpp.
using Bigram = uint64_t;

// Maps a score to an integer that sorts in descending score order.
uint32_t descending_key(float score) {
  if (score == 0.0f) score = 0.0f;  // -0 and +0 compare equal
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text, const std::string& source)
      : vocab_(vocab), text_(text), source_(source), queue_(text.size()) {}

  void run(std::vector<int32_t>& out) {
    split_characters();
    for (int32_t i = 1; i < static_cast<int32_t>(symbols_.size()); ++i) try_add_bigram(i - 1, i);
    merge_all();
    for (int32_t i = symbols_.empty() ? -1 : 0; i != -1; i = symbols_[i].next) resegment(i, out);
  }

 private:
  std::string_view piece(int32_t i) const { return text_.substr(symbols_[i].start, symbols_[i].len); }

  void split_characters() {
    symbols_.reserve(text_.size());
    size_t offs = 0;
    int32_t index = 0;
    while (offs < text_.size()) {
      const size_t len = std::min(utf8_len_from_lead(static_cast<uint8_t>(text_[offs])), text_.size() - offs);
      const bool last = offs + len == text_.size();
      symbols_.push_back({index - 1, last ? -1 : index + 1, static_cast<uint32_t>(offs), static_cast<uint32_t>(len)});
      offs += len;
      ++index;
    }
  }

  void merge_all() {
    for (Bigram b; queue_.pop(&b);) {
      const int32_t left = static_cast<int32_t>(b & 0xFFFFFFFFu);
      Symbol& l = symbols_[left];
      if (l.len == 0 || l.next < 0) continue;
      Symbol& r = symbols_[l.next];
      // Stale entry: the pair at `left` changed and no longer scores what was queued.
      const int32_t id = vocab_.find(text_.substr(l.start, l.len + r.len));
      if (id < 0 || descending_key(vocab_.at(id).score) != (b >> 32)) continue;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = left;
      try_add_bigram(l.prev, left);
      try_add_bigram(left, l.next);
    }
  }

  void try_add_bigram(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view text = text_.substr(symbols_[left].start, symbols_[left].len + symbols_[right].len);
    const int32_t id = vocab_.find(text);
    if (id < 0) return;
    queue_.push((uint64_t(descending_key(vocab_.at(id).score)) << 32) | uint32_t(left));
    // The latest pair that formed this text is the one a non-token piece splits back into.
    rev_merge_[text] = {left, right};
  }

  void resegment(int32_t i, std::vector<int32_t>& out) {
    const std::string_view text = piece(i);
    if (const int32_t id = vocab_.find(text); id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = rev_merge_.find(text);
    if (it == rev_merge_.end()) {
      for (unsigned char c : text) out.push_back(byte_token(c));
      return;
    }
    const auto [left, right] = it->second;
    resegment(left, out);
    resegment(right, out);
  }

  // llama.cpp's byte_to_token: `<0xNN>`, else the byte as a one-character piece. Where a
  // vocabulary has neither we use the unknown token rather than fail mid-prompt.
  int32_t byte_token(uint8_t c) const {
    if (int32_t id = vocab_.byte_token(c); id >= 0) return id;
    if (int32_t id = vocab_.find(std::string_view(reinterpret_cast<const char*>(&c), 1)); id >= 0) return id;
    if (vocab_.unk >= 0) return vocab_.unk;
    fail(source_, ": vocabulary has no token for byte ", int(c), " and no unknown token");
  }

  const Vocab& vocab_;
  std::string_view text_;
  const std::string& source_;
  std::vector<Symbol> symbols_;
  MergeQueue queue_;
  std::unordered_map<std::string_view, std::pair<int32_t, int32_t>> rev_merge_;
};

}  // namespace

namespace {
constexpr std::string_view kSpace = "\xe2\x96\x81";
}

bool spm_pieces_split_at_spaces(const Vocab& vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    std::string_view t = vocab.at(id).text;
    while (t.substr(0, kSpace.size()) == kSpace) t.remove_prefix(kSpace.size());
    if (t.find(kSpace) != std::string_view::npos) return false;
  }
  return true;
}

std::vector<std::string_view> spm_split_words(std::string_view text) {
  // Cuts must fall on the character boundaries the merge loop uses (utf8_len_from_lead), which
  // differ from real UTF-8 where the text is invalid.
  std::vector<std::string_view> words;
  size_t start = 0;
  bool prev_is_space = false;
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(utf8_len_from_lead(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const bool is_space = text.substr(pos, len) == kSpace;
    if (is_space && !prev_is_space && pos > start) {
      words.push_back(text.substr(start, pos - start));
      start = pos;
    }
    prev_is_space = is_space;
    pos += len;
  }
  if (start < text.size()) words.push_back(text.substr(start));
  return words;
}

void spm_tokenize(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out, const std::string& source) {
  SpmSession(vocab, text, source).run(out);
}

}  // namespace trellis
