// A micro-batch for the training pass: one flat run of tokens holding one or more
// independent segments (packed examples and/or several windows). Attention never crosses a
// segment boundary and positions restart at 0 in every segment, so a packed example sees
// exactly what it would see alone.
#pragma once
#include <cstdint>
#include <vector>

namespace trellis {

struct TrainBatch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> targets;    // next token to predict at each position, -1: not scored
  std::vector<int32_t> pos;        // position within its segment
  std::vector<int32_t> seg_start;  // index (in this batch) of its segment's first token

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t scored() const {
    int64_t n = 0;
    for (int32_t t : targets) n += t >= 0;
    return n;
  }
  // Appends one segment. labels_mask[i] says whether token i is a training label (its
  // prediction from token i-1 is scored); the first token is never a label.
  void add_segment(const std::vector<int32_t>& toks, const std::vector<uint8_t>& labels_mask) {
    const auto start = static_cast<int32_t>(tokens.size());
    for (size_t i = 0; i < toks.size(); ++i) {
      tokens.push_back(toks[i]);
      pos.push_back(static_cast<int32_t>(i));
      seg_start.push_back(start);
      const bool next_scored = i + 1 < toks.size() && labels_mask[i + 1];
      targets.push_back(next_scored ? toks[i + 1] : -1);
    }
  }
};

}  // namespace trellis
