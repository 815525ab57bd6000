// Scoring a text: mean negative log-likelihood and perplexity over fixed windows.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model.h"

namespace trellis {

class ThreadPool;
class AdapterSet;

struct EvalResult {
  int64_t tokens = 0;   // scored tokens
  double nll = 0.0;     // mean negative log-likelihood, nats/token
  double ppl = 0.0;     // exp(nll)
  double sum_nll = 0.0;
};

struct EvalOptions {
  int64_t ctx = 512;          // window length including BOS
  int32_t bos = -1;           // BOS id, or -1 for a model that adds none
  DType kv_type = DType::F32;
  const AdapterSet* adapters = nullptr;
};

// `tokens` is the text tokenized once without BOS. It is cut into consecutive chunks of
// ctx-1 tokens (ctx without BOS); each window is BOS + chunk, the last shorter chunk
// included; in every window each token after the first is scored.
EvalResult evaluate_nll(const Model& model, const std::vector<int32_t>& tokens, const EvalOptions& opt,
                        ThreadPool& pool);

// NLL of one already-formed sequence (every token after the first scored), for tests.
EvalResult sequence_nll(const Model& model, const std::vector<int32_t>& seq, ThreadPool& pool,
                        DType kv_type = DType::F32, const AdapterSet* adapters = nullptr);

}  // namespace trellis
