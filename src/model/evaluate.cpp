#include "model/evaluate.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace trellis {
namespace {

// Logit rows per forward call: keeps the logits buffer bounded for large vocabularies.
constexpr int64_t kEvalStep = 64;

void score_window(Forward& fwd, KVCache& cache, const std::vector<int32_t>& window, const AdapterSet* adapters,
                  EvalResult& r) {
  cache.clear();
  const auto n = static_cast<int64_t>(window.size());
  for (int64_t start = 0; start < n - 1; start += kEvalStep) {
    const int64_t len = std::min(kEvalStep, n - 1 - start);
    SequenceInput in{&cache, std::span<const int32_t>(window.data() + start, static_cast<size_t>(len)), true,
                     adapters};
    fwd.run(std::span<const SequenceInput>(&in, 1));
    for (int64_t j = 0; j < len; ++j) {
      const float* logits = fwd.logits(j);
      const int32_t target = window[static_cast<size_t>(start + j + 1)];
      r.sum_nll += log_sum_exp(logits, fwd.vocab_size()) - logits[target];
      r.tokens += 1;
    }
  }
}

}  // namespace

EvalResult evaluate_nll(const Model& model, const std::vector<int32_t>& tokens, const EvalOptions& opt,
                        ThreadPool& pool) {
  const bool has_bos = opt.bos >= 0;
  if (opt.ctx < 2) fail("--ctx must be at least 2, got ", opt.ctx);
  const int64_t chunk = has_bos ? opt.ctx - 1 : opt.ctx;
  KVCache cache(model.hparams(), opt.ctx, opt.kv_type);
  Forward fwd(model, pool, kEvalStep, kEvalStep);
  EvalResult r;
  std::vector<int32_t> window;
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(chunk)) {
    const size_t end = std::min(tokens.size(), start + static_cast<size_t>(chunk));
    window.clear();
    if (has_bos) window.push_back(opt.bos);
    window.insert(window.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start),
                  tokens.begin() + static_cast<std::ptrdiff_t>(end));
    if (window.size() >= 2) score_window(fwd, cache, window, opt.adapters, r);
  }
  if (r.tokens == 0) fail("nothing to score: the text has too few tokens");
  r.nll = r.sum_nll / static_cast<double>(r.tokens);
  r.ppl = std::exp(r.nll);
  return r;
}

EvalResult sequence_nll(const Model& model, const std::vector<int32_t>& seq, ThreadPool& pool, DType kv_type,
                        const AdapterSet* adapters) {
  KVCache cache(model.hparams(), std::max<int64_t>(2, static_cast<int64_t>(seq.size())), kv_type);
  Forward fwd(model, pool, kEvalStep, kEvalStep);
  EvalResult r;
  if (seq.size() >= 2) score_window(fwd, cache, seq, adapters, r);
  if (r.tokens > 0) {
    r.nll = r.sum_nll / static_cast<double>(r.tokens);
    r.ppl = std::exp(r.nll);
  }
  return r;
}

}  // namespace trellis
