#include "model/session.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace trellis {

namespace {
int64_t default_ctx(const Model& m, int64_t requested) {
  if (requested > 0) return requested;
  return std::min<int64_t>(m.hparams().n_ctx_train, 4096);
}
}  // namespace

Session::Session(const Model& model, ThreadPool& pool, const SessionOptions& opt)
    : model_(model),
      pool_(pool),
      cache_(model.hparams(), default_ctx(model, opt.n_ctx), opt.kv_type),
      forward_(model, pool, std::max<int64_t>(1, opt.max_batch), 1),
      sampler_(opt.sampling, model.hparams().n_vocab),
      last_logits_(static_cast<size_t>(model.hparams().n_vocab), 0.0f) {}

void Session::set_adapters(const AdapterSet* set, const std::string& key) {
  if (cache_.adapter_key() != key) {
    reset();
    cache_.set_adapter_key(key);
  }
  adapters_ = set;
}

const float* Session::feed(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail("nothing to feed");
  if (static_cast<int64_t>(tokens.size()) > room()) {
    fail("context full: ", tokens.size(), " more tokens do not fit (", position(), " of ", n_ctx(),
         " positions used); use a larger --ctx or a shorter prompt");
  }
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(forward_.max_tokens())) {
    const size_t n = std::min(tokens.size() - start, static_cast<size_t>(forward_.max_tokens()));
    SequenceInput in{&cache_, tokens.subspan(start, n), false, adapters_};
    forward_.run(std::span<const SequenceInput>(&in, 1));
  }
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  std::memcpy(last_logits_.data(), forward_.logits(0), last_logits_.size() * sizeof(float));
  return last_logits_.data();
}

int32_t Session::sample() { return sampler_.sample(last_logits_.data(), history_); }

void Session::reset() {
  cache_.clear();
  history_.clear();
}

}  // namespace trellis

namespace trellis {

void Session::rewind(int64_t n) {
  if (n < 0) n = 0;
  if (n >= static_cast<int64_t>(history_.size())) return;
  history_.resize(static_cast<size_t>(n));
  cache_.truncate(n);
}

int64_t Session::common_prefix(std::span<const int32_t> tokens) const {
  size_t i = 0;
  while (i < tokens.size() && i < history_.size() && tokens[i] == history_[i]) ++i;
  return static_cast<int64_t>(i);
}

}  // namespace trellis
