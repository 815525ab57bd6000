#include "tokenizer/spm.h"

#include <queue>
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

struct Bigram {
  int32_t left;
  int32_t right;
  float score;
  uint32_t size;
};

// Highest score first; equal scores: leftmost first (llama.cpp's comparator).
struct BigramLess {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text, const std::string& source)
      : vocab_(vocab), text_(text), source_(source) {}

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
    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      // Stale entry: one side was merged away or grew since the pair was queued.
      if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add_bigram(l.prev, b.left);
      try_add_bigram(b.left, l.next);
    }
  }

  void try_add_bigram(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view text = text_.substr(symbols_[left].start, symbols_[left].len + symbols_[right].len);
    const int32_t id = vocab_.find(text);
    if (id < 0) return;
    queue_.push({left, right, vocab_.at(id).score, static_cast<uint32_t>(text.size())});
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
  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue_;
  std::unordered_map<std::string_view, std::pair<int32_t, int32_t>> rev_merge_;
};

}  // namespace

void spm_tokenize(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out, const std::string& source) {
  SpmSession(vocab, text, source).run(out);
}

}  // namespace trellis
