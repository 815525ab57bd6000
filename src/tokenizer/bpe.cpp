#include "tokenizer/bpe.h"

#include <queue>

namespace trellis {

void BpeMerges::add(int32_t left, int32_t right, int32_t result) {
  map_.emplace(key(left, right), Merge{next_rank_++, result});
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

struct Candidate {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;   // ids when queued: a changed side makes the entry stale
  int32_t right_id;
  int32_t result;
};

// Lowest rank first, then leftmost.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class MergeSession {
 public:
  MergeSession(const BpeMerges& merges, const std::vector<BpeSymbol>& symbols) : merges_(merges) {
    nodes_.reserve(symbols.size());
    const int32_t n = static_cast<int32_t>(symbols.size());
    for (int32_t i = 0; i < n; ++i) {
      nodes_.push_back({symbols[i].id, i - 1, i + 1 < n ? i + 1 : -1, symbols[i].start, symbols[i].len, true});
    }
    std::vector<Candidate> storage;
    storage.reserve(symbols.size());
    queue_ = decltype(queue_)(CandidateAfter{}, std::move(storage));
  }

  void run(std::vector<BpeSymbol>& out) {
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(nodes_.size()); ++i) consider(i, i + 1);
    while (!queue_.empty()) {
      const Candidate c = queue_.top();
      queue_.pop();
      Node& l = nodes_[c.left];
      Node& r = nodes_[c.right];
      if (!l.alive || !r.alive || l.next != c.right || l.id != c.left_id || r.id != c.right_id) continue;
      l.id = c.result;
      l.len += r.len;
      r.alive = false;
      l.next = r.next;
      if (r.next >= 0) nodes_[r.next].prev = c.left;
      consider(l.prev, c.left);
      consider(c.left, l.next);
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
    if (const BpeMerges::Merge* m = merges_.find(lid, rid)) queue_.push({m->rank, left, right, lid, rid, m->result});
  }

  const BpeMerges& merges_;
  std::vector<Node> nodes_;
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateAfter> queue_;
};

}  // namespace

void bpe_merge(const BpeMerges& merges, std::vector<BpeSymbol>& symbols) {
  if (symbols.size() < 2) return;
  MergeSession(merges, symbols).run(symbols);
}

}  // namespace trellis
