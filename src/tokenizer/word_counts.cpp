#include "tokenizer/word_counts.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "core/error.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/special_tokens.h"

namespace trellis {

void check_special_tokens(const std::vector<std::string>& special_tokens) {
  std::set<std::string_view> seen;
  for (const std::string& s : special_tokens) {
    if (s.empty()) fail("special tokens: an empty special token");
    if (!seen.insert(s).second) fail("special tokens: '", s, "' is given twice");
  }
}

WordCounts::WordCounts(const std::vector<std::string>& special_tokens) {
  check_special_tokens(special_tokens);
  for (const std::string& s : special_tokens) {
    specials_.add(s, 0.0f, kAttrControl, "special tokens", s);
    longest_special_ = std::max(longest_special_, s.size());
  }
  specials_.finish(/*force_control=*/false);
  matcher_ = std::make_unique<SpecialTokenMatcher>(specials_);
}

WordCounts::~WordCounts() = default;

void WordCounts::feed(std::string_view text) {
  pending_.append(text);
  const size_t cut = find_cut();
  if (cut == 0) return;
  count(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
}

void WordCounts::end_document() {
  count(pending_);
  pending_.clear();
}

void WordCounts::add_file(const std::string& path, size_t block_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::string block(std::max<size_t>(block_bytes, 1), '\0');
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    if (in.bad()) fail(path, ": read error");
    feed(std::string_view(block.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad() || !in.eof()) fail(path, ": read error");
  end_document();
}

size_t WordCounts::find_cut() const {
  const size_t n = pending_.size();
  if (n < longest_special_ + 2) return 0;
  // A cut at p is decidable only when any special token crossing p would end inside pending_.
  for (size_t p = pending_.rfind('\n', n - longest_special_ - 1); p != std::string::npos && p > 0;
       p = pending_.rfind('\n', p - 1)) {
    const unsigned char before = static_cast<unsigned char>(pending_[p - 1]);
    if (before < 0x21 || before > 0x7E) continue;
    bool crossed = false;
    for (int32_t id : specials_.special_tokens()) {
      const std::string& s = specials_.at(id).text;
      const size_t at = pending_.find(s, p + 1 >= s.size() ? p + 1 - s.size() : 0);
      crossed = crossed || at < p;
    }
    if (!crossed) return p;
  }
  return 0;
}

void WordCounts::count(std::string_view text) {
  for (const Fragment& f : matcher_->partition(text, /*parse_special=*/true)) {
    if (f.token >= 0) {
      ++special_total_;
      continue;
    }
    for (std::string_view word : pre_tokenize(PreTokenizerKind::Gpt2, f.text)) {
      auto it = words_.find(word);
      if (it == words_.end()) it = words_.emplace(std::string(word), 0).first;
      ++it->second;
      ++word_total_;
      word_bytes_ += static_cast<int64_t>(word.size());
    }
  }
}

}  // namespace trellis
