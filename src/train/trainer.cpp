#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/convert.h"
#include "tokenizer/tokenizer.h"
#include "train/adapter_export.h"
#include "train/checkpoint.h"
#include "train/full_params.h"
#include "train/loss_plot.h"
#include "train/memory_plan.h"
#include "train/peak_flops.h"
#include "train/train_model.h"

namespace trellis {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  return buf;
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Model FLOPs of one micro-batch (recomputation not counted, as in the usual MFU):
// base 2·P forward + 2·P input gradient per token (+ 2·P weight gradient when all weights
// train, lora null), LoRA 2·r(in+out) forward and 4·r(in+out) backward per token and target,
// attention 4·hd per (query, key) pair and head forward and twice that backward.
double micro_batch_flops(const Model& m, const LoraParams* p, const TrainBatch& b) {
  const Hparams& h = m.hparams();
  double base = static_cast<double>(h.n_vocab) * h.n_embd;
  for (int64_t l = 0; l < h.n_layer; ++l) {
    for (int q = 0; q < kNumProjections; ++q) {
      const TensorView& w = m.projection(l, static_cast<Projection>(q));
      base += static_cast<double>(w.ne[0]) * w.ne[1];
    }
  }
  double lora = p ? 0.0 : 2.0 * base;  // full: the weight gradients
  if (p) {
    for (const LoraSlot& s : p->slots()) lora += 6.0 * p->spec().rank * static_cast<double>(s.in + s.out);
  }
  double pairs = 0;
  for (int64_t t = 0; t < b.size(); ++t) pairs += static_cast<double>(t - b.seg_start[t] + 1);
  const double attn = 12.0 * pairs * static_cast<double>(h.head_dim * h.n_head * h.n_layer);
  return static_cast<double>(b.size()) * (4.0 * base + lora) + attn;
}

struct Data {
  std::vector<Example> train, eval;
  std::vector<std::vector<int32_t>> train_windows, eval_windows;
};

}  // namespace

// One training run; the Trainer object just holds the configuration.
class TrainRun {
 public:
  TrainRun(const Model& m, const TrainerConfig& c, ThreadPool& pool, const Trainer::Log& log)
      : m_(m), c_(c), pool_(pool), log_(log) {}
  TrainResult run(const std::atomic<bool>* interrupt);

 private:
  void load_data();
  void dry_run() const;
  void plan();
  nlohmann::json settings() const;
  TrainBatch window_batch(const std::vector<Example>& ex, const std::vector<std::vector<int32_t>>& w, int64_t first,
                          int64_t n, const std::vector<int32_t>* order) const;
  const std::vector<int32_t>& epoch_order(int64_t epoch);
  std::vector<TrainBatch> step_batches(int64_t step);
  double evaluate();
  void train_step(int64_t step, double t_start);
  void maybe_eval(int64_t step, bool last);
  void save_outputs(bool final);
  void write_metrics() const;
  void write_trained(const std::string& dir) const;  // the adapter, or the model (full)
  std::vector<float>& values() { return full_ ? full_->values : lora_->values; }
  std::vector<float>& grads() { return full_ ? full_->grads : lora_->grads; }
  std::string path(const std::string& name) const { return c_.out_dir + "/" + name; }

  const Model& m_;
  TrainerConfig c_;
  ThreadPool& pool_;
  const Trainer::Log& log_;
  Data d_;
  std::unique_ptr<LoraParams> lora_;  // exactly one of lora_ and full_
  std::unique_ptr<FullParams> full_;
  std::unique_ptr<TrainModel> tm_;
  std::unique_ptr<AdamW> opt_;
  LrSchedule sched_;
  TrainState state_;
  int64_t total_steps_ = 0, steps_this_session_ = 0, cached_epoch_ = -1;
  std::vector<int32_t> order_;
  double peak_ = 0.0, last_loss_ = 0.0, last_eval_ = NAN, session_start_ = 0.0;
  bool checkpointing_ = false, early_stop_ = false;
};

void TrainRun::load_data() {
  const Tokenizer& tok = m_.require_tokenizer();
  DatasetStats st;
  d_.train = load_examples(c_.data_path, tok, c_.data, st);
  log_(cat("data: ", st.examples, " examples, ", st.tokens, " tokens, ", st.labels, " label tokens from ",
           c_.data_path, st.skipped ? cat(", ", st.skipped, " bad lines skipped") : "",
           st.truncated ? cat(", ", st.truncated, " examples truncated to --ctx ", c_.data.ctx) : ""));
  for (const std::string& msg : st.messages) log_("  " + msg);
  if (!c_.eval_path.empty()) {
    DatasetStats es;
    d_.eval = load_examples(c_.eval_path, tok, c_.data, es);
    log_(cat("eval data: ", es.examples, " examples, ", es.labels, " label tokens from ", c_.eval_path));
  } else if (c_.eval_split > 0.0) {
    if (c_.eval_split >= 1.0) fail("--eval-split must be below 1");
    if (d_.train.size() < 2) fail("--eval-split needs at least two examples");
    std::vector<size_t> idx(d_.train.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::mt19937_64 rng(mix(c_.seed, 0xe7a1));
    std::shuffle(idx.begin(), idx.end(), rng);
    const size_t n_eval = std::clamp<size_t>(static_cast<size_t>(std::ceil(c_.eval_split * static_cast<double>(idx.size()))), 1, idx.size() - 1);
    std::vector<bool> is_eval(idx.size(), false);
    for (size_t i = 0; i < n_eval; ++i) is_eval[idx[i]] = true;
    std::vector<Example> train;
    for (size_t i = 0; i < d_.train.size(); ++i) (is_eval[i] ? d_.eval : train).push_back(std::move(d_.train[i]));
    d_.train.swap(train);
    log_(cat("eval split: ", d_.eval.size(), " examples held out, ", d_.train.size(), " for training"));
  }
  d_.train_windows = pack_examples(d_.train, c_.data.ctx, c_.packing);
  d_.eval_windows = pack_examples(d_.eval, c_.data.ctx, c_.packing);
}

void TrainRun::dry_run() const {
  const Tokenizer& tok = m_.require_tokenizer();
  log_("dry run: label tokens as they are, context (no loss) in [brackets]");
  for (size_t i = 0; i < std::min<size_t>(3, d_.train.size()); ++i) {
    const Example& e = d_.train[i];
    log_(cat("--- example ", i, e.where.empty() ? "" : " (" + e.where + ")", ": ", e.tokens.size(), " tokens, ",
             e.n_labels(), " labels"));
    log_(show_example(e, tok));
  }
  log_(cat(d_.train_windows.size(), " training windows of at most ", c_.data.ctx, " tokens (packing ",
           c_.packing ? "on" : "off", "), ", d_.eval_windows.size(), " eval windows"));
}

void TrainRun::plan() {
  MemoryPlanInput in{&m_, c_.lora, c_.micro_batch * c_.data.ctx, c_.checkpointing, c_.max_memory_gib, c_.full};
  const MemoryPlan p = plan_memory(in);
  checkpointing_ = p.checkpointing;
  log_(p.summary);
}

nlohmann::json TrainRun::settings() const {
  nlohmann::json s = {{"model", m_.name()},          {"n_params", m_.n_params()},   {"data", c_.data_path},
                      {"train_windows", d_.train_windows.size()},                    {"mode", c_.full ? "full" : "lora"},
                      {"lr", c_.lr},                  {"seed", c_.seed},             {"total_steps", total_steps_},
                      {"micro_batch", c_.micro_batch}, {"grad_accum", c_.grad_accum}, {"ctx", c_.data.ctx}};
  if (!c_.full) {
    s.update({{"rank", c_.lora.rank}, {"alpha", c_.lora.alpha}, {"targets", c_.lora.targets_string()},
              {"rslora", c_.lora.rslora}, {"dropout", c_.lora.dropout}});
  }
  return s;
}

const std::vector<int32_t>& TrainRun::epoch_order(int64_t epoch) {
  if (epoch != cached_epoch_) {
    order_.resize(d_.train_windows.size());
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int32_t>(i);
    std::mt19937_64 rng(mix(c_.seed, static_cast<uint64_t>(epoch) + 1));
    std::shuffle(order_.begin(), order_.end(), rng);
    cached_epoch_ = epoch;
  }
  return order_;
}

// The micro-batches of optimizer step `step`: windows step·M·A ... of the endless sequence
// of epochs, each epoch in its own seeded order. A pure function of the step (resume).
std::vector<TrainBatch> TrainRun::step_batches(int64_t step) {
  const auto W = static_cast<int64_t>(d_.train_windows.size());
  std::vector<TrainBatch> out;
  int64_t g = step * c_.micro_batch * c_.grad_accum;
  for (int64_t a = 0; a < c_.grad_accum; ++a) {
    TrainBatch b;
    for (int64_t j = 0; j < c_.micro_batch; ++j, ++g) {
      const std::vector<int32_t>& order = epoch_order(g / W);
      append_window(d_.train, d_.train_windows[order[g % W]], b);
    }
    out.push_back(std::move(b));
  }
  return out;
}

double TrainRun::evaluate() {
  double nll = 0.0;
  int64_t n = 0;
  for (size_t w = 0; w < d_.eval_windows.size(); w += static_cast<size_t>(c_.micro_batch)) {
    TrainBatch b;
    for (size_t j = w; j < std::min(d_.eval_windows.size(), w + static_cast<size_t>(c_.micro_batch)); ++j) {
      append_window(d_.eval, d_.eval_windows[j], b);
    }
    nll += tm_->forward_loss(b);
    n += b.scored();
  }
  return n ? nll / static_cast<double>(n) : NAN;
}

void TrainRun::train_step(int64_t step, double t_start) {
  const double t0 = now();
  std::vector<TrainBatch> batches = step_batches(step);
  int64_t scored = 0, tokens = 0;
  double flops = 0;
  for (const TrainBatch& b : batches) {
    scored += b.scored();
    tokens += b.size();
    flops += micro_batch_flops(m_, lora_.get(), b);
  }
  std::fill(grads().begin(), grads().end(), 0.0f);
  // One normalisation for the whole accumulation window: every label token weighs the same.
  const float weight = scored ? 1.0f / static_cast<float>(scored) : 0.0f;
  double nll = 0.0;
  for (size_t a = 0; a < batches.size(); ++a) {
    nll += tm_->forward_backward(batches[a], weight, mix(c_.seed, static_cast<uint64_t>(step * 1000003 + static_cast<int64_t>(a))));
  }
  const double loss = scored ? nll / static_cast<double>(scored) : 0.0;
  const double norm = clip_grad_norm(grads(), c_.clip);
  if (!std::isfinite(loss) || !std::isfinite(norm)) {
    const bool have = std::filesystem::exists(path("checkpoint.safetensors"));
    fail("training stopped at step ", step + 1, ": the loss became ", std::isfinite(loss) ? "finite but the gradient " : "",
         "NaN/infinite (learning rate ", sched_.at(step), " too high?); ",
         have ? "the last good checkpoint is kept in " + path("checkpoint.safetensors") : "no checkpoint was written yet",
         "; nothing was written for this run but the checkpoint");
  }
  const double lr = sched_.at(step);
  opt_->step(values(), grads(), lr);
  state_.step = step + 1;
  ++steps_this_session_;
  last_loss_ = loss;
  const double dt = now() - t0;
  const double mfu = peak_ > 0 ? flops / dt / peak_ : 0.0;
  state_.metrics.push_back({{"step", step + 1}, {"loss", loss}, {"lr", lr}, {"grad_norm", norm}, {"tokens", tokens},
                            {"label_tokens", scored}, {"tok_per_s", tokens / dt}, {"mfu", mfu}});
  if (c_.log_every > 0 && ((step + 1) % c_.log_every == 0 || step + 1 == total_steps_)) {
    const double per_step = (now() - t_start) / static_cast<double>(steps_this_session_);
    log_(cat("step ", step + 1, "/", total_steps_, " | loss ", fmt("%.4f", loss), " | eval ",
             std::isnan(last_eval_) ? std::string("-") : fmt("%.4f", last_eval_), " | lr ", fmt("%.2e", lr), " | ",
             fmt("%.0f", tokens / dt), " tok/s | MFU ", fmt("%.1f", 100 * mfu), "% | ETA ",
             duration(per_step * static_cast<double>(total_steps_ - step - 1))));
  }
}

void TrainRun::maybe_eval(int64_t step, bool last) {
  if (d_.eval_windows.empty()) return;
  const bool due = (c_.eval_every > 0 && step % c_.eval_every == 0) || last;
  if (!due) return;
  last_eval_ = evaluate();
  state_.metrics.push_back({{"step", step}, {"eval_loss", last_eval_}});
  if (state_.best_step < 0 || last_eval_ < state_.best_eval) {
    state_.best_eval = last_eval_;
    state_.best_step = step;
    state_.evals_without_improvement = 0;
    write_trained(path("best"));
    log_(cat("eval loss ", fmt("%.4f", last_eval_), " at step ", step, " (best so far; ", c_.full ? "model" : "adapter",
             " saved in ", path("best"), ")"));
  } else {
    ++state_.evals_without_improvement;
    log_(cat("eval loss ", fmt("%.4f", last_eval_), " at step ", step, " (best ", fmt("%.4f", state_.best_eval),
             " at step ", state_.best_step, ")"));
    if (c_.early_stopping > 0 && state_.evals_without_improvement >= c_.early_stopping) early_stop_ = true;
  }
}

void TrainRun::write_metrics() const {
  std::string text;
  for (const auto& e : state_.metrics) text += e.dump() + "\n";
  write_file_atomic(path("metrics.jsonl"), text.data(), text.size());
  if (!c_.plot) return;
  Curve train, eval;
  for (const auto& e : state_.metrics) {
    if (e.contains("loss")) train.emplace_back(e["step"].get<double>(), e["loss"].get<double>());
    if (e.contains("eval_loss") && e["eval_loss"].is_number()) eval.emplace_back(e["step"].get<double>(), e["eval_loss"].get<double>());
  }
  write_loss_plot(path("loss.png"), train, eval);
}

void TrainRun::write_trained(const std::string& dir) const {
  if (!full_) return write_trained_adapter(*lora_, m_, dir, c_.gguf_lora);
  std::filesystem::create_directories(dir);
  for (const std::string& w : full_->write_gguf(m_, dir + "/model.gguf", c_.save_type, c_.model_name, pool_)) {
    log_("warning: " + w);
  }
}

void TrainRun::save_outputs(bool final) {
  save_checkpoint(path("checkpoint.safetensors"), values(), *opt_, state_, settings());
  write_metrics();
  if (final) write_trained(c_.out_dir);
}

TrainResult TrainRun::run(const std::atomic<bool>* interrupt) {
  load_data();
  const auto W = static_cast<int64_t>(d_.train_windows.size());
  const int64_t per_step = c_.micro_batch * c_.grad_accum;
  total_steps_ = c_.steps > 0 ? c_.steps : std::max<int64_t>(1, (c_.epochs * W + per_step - 1) / per_step);
  if (c_.dry_run) {
    dry_run();
    plan();
    log_(cat(total_steps_, " optimizer steps planned; nothing written (--dry-run)"));
    return {};
  }
  plan();
  std::filesystem::create_directories(c_.out_dir);
  const bool have_ckpt = std::filesystem::exists(path("checkpoint.safetensors"));
  if (have_ckpt && !c_.resume) fail(c_.out_dir, " already holds a training run (checkpoint.safetensors): use --resume to continue it, or another -o");
  if (!have_ckpt && c_.resume) fail(c_.out_dir, ": no checkpoint.safetensors to resume from");
  const TrainModelOptions tm_opt{c_.micro_batch * c_.data.ctx, checkpointing_};
  if (c_.full) {
    full_ = std::make_unique<FullParams>(m_, pool_);
    tm_ = std::make_unique<TrainModel>(m_, *full_, pool_, tm_opt);
  } else {
    lora_ = std::make_unique<LoraParams>(m_, c_.lora);
    lora_->init(mix(c_.seed, 0x10a));
    tm_ = std::make_unique<TrainModel>(m_, *lora_, pool_, tm_opt);
  }
  opt_ = std::make_unique<AdamW>(values().size(), c_.adam);
  sched_ = {c_.lr, c_.warmup, total_steps_, c_.schedule, c_.min_lr_ratio};
  if (c_.resume) {
    state_ = load_checkpoint(path("checkpoint.safetensors"), values(), *opt_, settings());
    log_(cat("resumed from step ", state_.step, " of ", total_steps_));
  }
  if (c_.full) {
    log_(cat("full training: all ", values().size(), " weights trainable (F32); ", W, " windows, ", total_steps_, " steps"));
  } else {
    log_(cat("LoRA: rank ", c_.lora.rank, ", alpha ", c_.lora.alpha, ", targets ", c_.lora.targets_string(), ", ",
             values().size(), " trainable parameters; ", W, " windows, ", total_steps_, " steps"));
  }
  peak_ = measure_fp32_peak(pool_);
  log_(cat("FP32 FMA peak measured: ", fmt("%.1f", peak_ / 1e9), " GFLOP/s on ", pool_.size(), " threads"));
  session_start_ = now();
  TrainResult r;
  if (state_.step == 0 && c_.eval_every > 0) maybe_eval(0, false);
  for (int64_t s = state_.step; s < total_steps_ && !early_stop_; ++s) {
    train_step(s, session_start_);
    const bool last = s + 1 == total_steps_;
    maybe_eval(s + 1, last);
    const bool stop_now = (interrupt && interrupt->load()) || (c_.stop_after > 0 && steps_this_session_ >= c_.stop_after);
    if (stop_now && !last) {
      save_outputs(false);
      r.interrupted = true;
      r.message = cat("interrupted after step ", s + 1, ": checkpoint saved; continue with --resume");
      break;
    }
    if (c_.save_every > 0 && (s + 1) % c_.save_every == 0 && !last) save_outputs(false);
  }
  if (!r.interrupted) {
    save_outputs(true);
    r.message = cat(early_stop_ ? "early stopping: " : "", c_.full ? "model written to " + path("model.gguf") : "adapter written to " + c_.out_dir,
                    state_.best_step >= 0 ? cat(" (best eval ", fmt("%.4f", state_.best_eval), " at step ", state_.best_step, " in ", path("best"), ")") : "");
  }
  r.steps = state_.step;
  r.last_loss = last_loss_;
  r.best_eval = state_.best_eval;
  r.early_stopped = early_stop_;
  return r;
}

Trainer::Trainer(const Model& model, const TrainerConfig& cfg, ThreadPool& pool, Log log)
    : model_(model), cfg_(cfg), pool_(pool), log_(std::move(log)) {}

TrainResult Trainer::run(const std::atomic<bool>* interrupt) {
  if (cfg_.micro_batch < 1 || cfg_.grad_accum < 1) fail("--micro-batch and --grad-accum must be at least 1");
  if (cfg_.data.ctx < 2) fail("--ctx must be at least 2");
  if (!(cfg_.lr > 0) || !std::isfinite(cfg_.lr)) fail("--lr must be a positive number");
  if (cfg_.full && cfg_.lora.dropout > 0.0f) fail("--dropout is a LoRA option; it does not apply to --full");
  if (cfg_.full && cfg_.gguf_lora) fail("--gguf-lora writes an adapter; --full writes a whole model (OUT/model.gguf)");
  if (cfg_.full) parse_quant_scheme(cfg_.save_type);  // a bad --save-type fails now, not after training
  TrainRun run(model_, cfg_, pool_, log_);
  return run.run(interrupt);
}

}  // namespace trellis
