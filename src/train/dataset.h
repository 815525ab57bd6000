// Training data: examples read from a file, tokenized with a loss mask, and packed into
// windows of at most `ctx` tokens.
//   .txt           the whole text, cut into windows (BOS + ctx-1 tokens), every token a label
//   .jsonl/.json   one JSON object per line:
//     {"text": ...}                         every token a label
//     {"prompt": ..., "completion": ...}    labels on the completion (and EOS) only
//     {"messages": [{"role","content"}...]} rendered with the model's chat template and
//                                           tokenized whole; labels on each assistant turn's
//                                           tokens through its end-of-turn token
//   --train-on-inputs makes every token a label.
// Packing puts several short examples in one window as separate segments: each attends only
// to itself and its positions restart at 0 (TrainBatch), so packing changes no example's loss.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/train_batch.h"

namespace trellis {

class Tokenizer;

struct Example {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> labels;  // labels[i]: token i is predicted and scored (labels[0] unused)
  std::string where;            // "file:line" for messages
  int64_t n_labels() const;
};

enum class BadLinePolicy { Skip, Stop };
enum class TooLongPolicy { Truncate, Error };

struct DatasetOptions {
  int64_t ctx = 512;
  bool train_on_inputs = false;
  BadLinePolicy on_bad_line = BadLinePolicy::Stop;
  TooLongPolicy on_too_long = TooLongPolicy::Truncate;
};

struct DatasetStats {
  int64_t lines = 0, examples = 0, skipped = 0, truncated = 0, tokens = 0, labels = 0;
  std::vector<std::string> messages;  // what was skipped and why (first few)
};

// Reads and tokenizes a data file. Throws Error naming file:line for bad input under
// BadLinePolicy::Stop, an empty file, or a file without any usable example.
std::vector<Example> load_examples(const std::string& path, const Tokenizer& tok, const DatasetOptions& opt,
                                   DatasetStats& stats);

// One example from a JSON object (exposed for tests); throws Error with the reason.
Example example_from_json(const std::string& json_line, const Tokenizer& tok, bool train_on_inputs);

// Windows of at most ctx tokens, each a list of example indices (in order). Examples longer
// than ctx must have been truncated before.
std::vector<std::vector<int32_t>> pack_examples(const std::vector<Example>& ex, int64_t ctx, bool packing);

// Appends the examples of one window to a batch as segments.
void append_window(const std::vector<Example>& ex, const std::vector<int32_t>& window, TrainBatch& batch);

// Renders one example with its mask visible: label tokens as-is, context tokens in [brackets].
std::string show_example(const Example& e, const Tokenizer& tok, size_t max_tokens = 200);

}  // namespace trellis
