// Rank-ordered BPE merging over token ids: a word starts as a list of symbols (token ids),
// and the adjacent pair with the lowest merge rank (leftmost on ties) is merged until no pair
// has a merge. A priority queue over a linked list keeps it O(n log n) in the word length,
// so a 100 KB run of one character is as cheap per byte as ordinary text.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace trellis {

class BpeMerges {
 public:
  struct Merge {
    int32_t rank;
    int32_t result;  // id of the merged piece; -1 when the vocab lacks it (tolerated in GGUF)
  };
  // Adds the merge of `left` + `right` (token ids) with the next rank. A repeated pair keeps
  // its first (lowest) rank, as llama.cpp does.
  void add(int32_t left, int32_t right, int32_t result);
  const Merge* find(int32_t left, int32_t right) const {
    auto it = map_.find(key(left, right));
    return it == map_.end() ? nullptr : &it->second;
  }
  size_t size() const { return map_.size(); }
  void reserve(size_t n) { map_.reserve(n); }

  struct Entry {
    int32_t left, right, result;
  };
  // Every merge, lowest rank first (for writing the list out again).
  std::vector<Entry> in_rank_order() const;

 private:
  static uint64_t key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  std::unordered_map<uint64_t, Merge> map_;
  int32_t next_rank_ = 0;
};

// One symbol of a word: a token id (-1: no token) over bytes [start, start + len) of the word.
struct BpeSymbol {
  int32_t id;
  uint32_t start;
  uint32_t len;
};

// Merges `symbols` in place (the result keeps word order).
void bpe_merge(const BpeMerges& merges, std::vector<BpeSymbol>& symbols);

// Parses one merge line "left right" (split at the first space after the first character, as
// llama.cpp does); returns false when there is no separator.
bool split_merge_line(std::string_view line, std::string_view* left, std::string_view* right);

}  // namespace trellis
