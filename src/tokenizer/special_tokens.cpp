#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <cctype>

namespace trellis {

SpecialTokenMatcher::SpecialTokenMatcher(const Vocab& vocab) : vocab_(vocab), order_(vocab.special_tokens()) {
  std::fill(std::begin(root_children_), std::end(root_children_), -1);
  nodes_.emplace_back();
  for (int32_t rank = 0; rank < static_cast<int32_t>(order_.size()); ++rank) {
    insert(vocab.at(order_[rank]).text, rank);
  }
}

int32_t SpecialTokenMatcher::child(int32_t node, uint8_t byte) const {
  if (node == 0) return root_children_[byte];
  const auto& ch = nodes_[node].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(byte, int32_t{-1}));
  return (it != ch.end() && it->first == byte) ? it->second : -1;
}

void SpecialTokenMatcher::insert(std::string_view text, int32_t rank) {
  if (text.empty()) return;
  int32_t node = 0;
  for (unsigned char c : text) {
    int32_t next = child(node, c);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      if (node == 0) {
        root_children_[c] = next;
      } else {
        auto& ch = nodes_[node].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(c, int32_t{-1})), {c, next});
      }
    }
    node = next;
  }
  if (nodes_[node].rank < 0) nodes_[node].rank = rank;
}

std::vector<int32_t> SpecialTokenMatcher::occurring_ranks(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ranks;
  for (size_t start = 0; start < text.size(); ++start) {
    int32_t node = root_children_[static_cast<uint8_t>(text[start])];
    for (size_t i = start + 1; node >= 0; ++i) {
      const int32_t rank = nodes_[node].rank;
      if (rank >= 0) {
        const uint32_t attr = vocab_.at(order_[rank]).attr;
        if (parse_special || !(attr & (kAttrControl | kAttrUnknown))) ranks.push_back(rank);
      }
      if (i >= text.size()) break;
      node = child(node, static_cast<uint8_t>(text[i]));
    }
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

void SpecialTokenMatcher::split_on(std::vector<Fragment>& frags, int32_t id, std::string_view token, uint32_t attr) {
  std::vector<Fragment> out;
  out.reserve(frags.size() + 2);
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f);
      continue;
    }
    std::string_view rest = f.text;
    for (;;) {
      const size_t at = rest.find(token);
      if (at == std::string_view::npos) {
        if (!rest.empty()) out.push_back({-1, rest});
        break;
      }
      std::string_view left = rest.substr(0, at);
      if (attr & kAttrLstrip) {
        while (!left.empty() && std::isspace(static_cast<unsigned char>(left.back()))) left.remove_suffix(1);
      }
      if (!left.empty()) out.push_back({-1, left});
      out.push_back({id, {}});
      rest = rest.substr(at + token.size());
      if (attr & kAttrRstrip) {
        while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
      }
    }
  }
  frags.swap(out);
}

std::vector<Fragment> SpecialTokenMatcher::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, text});
  // Only tokens that occur anywhere can split a fragment, so the exact (but costly) llama.cpp
  // procedure runs over those alone; the trie scan finds them in one pass.
  for (int32_t rank : occurring_ranks(text, parse_special)) {
    const int32_t id = order_[rank];
    split_on(frags, id, vocab_.at(id).text, vocab_.at(id).attr);
  }
  return frags;
}

}  // namespace trellis
