#include "tokenizer/merge_queue.h"
#include "tokenizer/bpe.h"

#include <algorithm>


namespace trellis {

void BpeMerges::add(int32_t left, int32_t right, int32_t result) {
  map_.emplace(key(left, right), Merge{next_rank_++, result});
}

std::vector<BpeMerges::Entry> BpeMerges::in_rank_order() const {
  std::vector<std::pair<int32_t, Entry>> ranked;
  ranked.reserve(map_.size());
  for (const auto& [k, m] : map_) {
    ranked.push_back({m.rank, Entry{static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xFFFFFFFFu), m.result}});
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Entry> out;
  out.reserve(ranked.size());
  for (const auto& r : ranked) out.push_back(r.second);
  return out;
}

bool split_merge_line(std::string_view line, std::string_view* left, std::string_view* right) {
  const size_t pos = line.find(' ', 1);
  if (pos == std::string_view::npos) return false;
  *left = line.substr(0, pos);
  *right = line.substr(pos + 1);
  return true;
}

namespace {

struct Node {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t len;
  bool alive;
};

// A queued pair as one integer, (rank << 32) | left, so that the heap stays small and its
// order is lowest rank first, then leftmost. An entry is acted on only if the pair now at
// `left` still merges with that rank: entries with equal keys are interchangeable, so this
// makes the same merges in the same order as tracking each entry's exact pair.
using Candidate = uint64_t;

class MergeSession {
 public:
  MergeSession(const BpeMerges& merges, const std::vector<BpeSymbol>& symbols)
      : merges_(merges), queue_(symbols.size()) {
    nodes_.reserve(symbols.size());
    const int32_t n = static_cast<int32_t>(symbols.size());
    for (int32_t i = 0; i < n; ++i) {
      nodes_.push_back({symbols[i].id, i - 1, i + 1 < n ? i + 1 : -1, symbols[i].start, symbols[i].len, true});
    }
  }

  void run(std::vector<BpeSymbol>& out) {
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(nodes_.size()); ++i) consider(i, i + 1);
    for (Candidate c; queue_.pop(&c);) {
      const int32_t left = static_cast<int32_t>(c & 0xFFFFFFFFu);
      Node& l = nodes_[left];
      if (!l.alive || l.next < 0 || l.id < 0) continue;
      Node& r = nodes_[l.next];
      const BpeMerges::Merge* m = r.id < 0 ? nullptr : merges_.find(l.id, r.id);
      if (!m || static_cast<uint64_t>(m->rank) != (c >> 32)) continue;
      l.id = m->result;
      l.len += r.len;
      r.alive = false;
      l.next = r.next;
      if (r.next >= 0) nodes_[r.next].prev = left;
      consider(l.prev, left);
      consider(left, l.next);
    }
    out.clear();
    for (int32_t i = nodes_.empty() ? -1 : 0; i != -1; i = nodes_[i].next) {
      out.push_back({nodes_[i].id, nodes_[i].start, nodes_[i].len});
    }
  }

 private:
  void consider(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t lid = nodes_[left].id, rid = nodes_[right].id;
    if (lid < 0 || rid < 0) return;
    if (const BpeMerges::Merge* m = merges_.find(lid, rid)) queue_.push((uint64_t(uint32_t(m->rank)) << 32) | uint32_t(left));
  }

  const BpeMerges& merges_;
  std::vector<Node> nodes_;
  MergeQueue queue_;
};

}  // namespace

void bpe_merge(const BpeMerges& merges, std::vector<BpeSymbol>& symbols) {
  if (symbols.size() < 2) return;
  MergeSession(merges, symbols).run(symbols);
}

}  // namespace trellis
