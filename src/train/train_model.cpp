#include "train/train_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "train/backward.h"
#include "train/full_params.h"
#include "train/gemm.h"

namespace trellis {

namespace {

const float* f32(const TensorView& t) { return reinterpret_cast<const float*>(t.data); }

// Token rows per logits chunk: bounds the [rows, vocab] logits buffer.
constexpr int64_t kHeadRows = 256;

// Counter-based RNG for LoRA dropout: the mask is a pure function of (seed, layer,
// projection, element), so a recomputed layer (checkpointing) draws the same mask.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
bool dropout_keep(uint64_t seed, int64_t layer, Projection p, int64_t i, float rate) {
  const uint64_t h = mix(seed ^ mix(static_cast<uint64_t>(layer * kNumProjections + static_cast<int>(p)) ^
                                    (static_cast<uint64_t>(i) << 8)));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0) >= rate;
}

void resize(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

// v holding exactly n zeros (its capacity is kept between calls).
std::vector<float>& zeroed(std::vector<float>& v, int64_t n) {
  v.assign(static_cast<size_t>(n), 0.0f);
  return v;
}

// Runs fn(r0, r1) over ranges of N rows spread over the pool: for the element-wise and
// per-row steps of a layer, each row written by exactly one range (results do not depend
// on the split), so they no longer leave the second core idle between products.
template <class F>
void for_rows(ThreadPool& pool, int64_t N, F&& fn) {
  constexpr int64_t kRows = 16;
  const int64_t chunks = (N + kRows - 1) / kRows;
  if (chunks <= 1) return fn(int64_t{0}, N);
  pool.parallel_for(chunks, [&](int64_t c, int) { fn(c * kRows, std::min(N, (c + 1) * kRows)); });
}

}  // namespace

// What the backward of one layer needs. Sized for max_tokens once.
struct TrainModel::LayerActs {
  std::vector<float> rstd1, xn1, q_pre, k_pre, rstd_q, rstd_k, q, k, v, lse, att, x_mid, rstd2, xn2, gate, up, hidden;
  std::vector<float> u[kNumProjections];   // [N, rank] LoRA intermediate A·xl
  std::vector<float> xl[kNumProjections];  // [N, in] LoRA input after dropout (dropout only)
};

TrainModel::TrainModel(const Model& model, LoraParams& lora, ThreadPool& pool, const TrainModelOptions& opt)
    : TrainModel(model, &lora, nullptr, pool, opt) {}

TrainModel::TrainModel(const Model& model, FullParams& full, ThreadPool& pool, const TrainModelOptions& opt)
    : TrainModel(model, nullptr, &full, pool, opt) {}

TrainModel::TrainModel(const Model& model, LoraParams* lora, FullParams* full, ThreadPool& pool,
                       const TrainModelOptions& opt)
    : model_(model), lora_(lora), full_(full), pool_(pool), opt_(opt) {
  if (opt.max_tokens <= 0) fail("training micro-batch must hold at least one token");
  const Hparams& h = model.hparams();
  const int64_t n_acts = opt.checkpointing ? 1 : h.n_layer;
  for (int64_t i = 0; i < n_acts; ++i) acts_.push_back(std::make_unique<LayerActs>());
  layer_inputs_.resize(static_cast<size_t>(h.n_layer + 1));
}

TrainModel::~TrainModel() = default;

ActivationBytes TrainModel::activation_bytes(const Model& model, const LoraSpec* spec, int64_t N) {
  const Hparams& h = model.hparams();
  const int64_t C = h.n_embd, q = h.q_dim(), kv = h.kv_dim(), F = h.n_ff;
  int64_t per_layer = N * (3 + 2 * C + q + 2 * kv + h.n_head + q + 3 * F);
  if (model.arch().qk_norm) per_layer += N * (q + kv + h.n_head + h.n_head_kv);
  int64_t lora = 0, lora_in = 0;
  for (int p = 0; spec && p < kNumProjections; ++p) {
    if (!spec->targets[p]) continue;
    lora += N * spec->rank;
    const TensorView& w = model.projection(0, static_cast<Projection>(p));
    if (spec->dropout > 0.0f) lora_in += N * w.ne[0];
  }
  ActivationBytes b;
  b.per_layer = static_cast<size_t>(per_layer + lora + lora_in) * sizeof(float);
  b.layer_input = static_cast<size_t>(N * C) * sizeof(float);
  // head: logits chunk + normalized final rows + gradients of the residual stream (x3)
  b.head = static_cast<size_t>(kHeadRows * h.n_vocab + 5 * N * C + N * std::max(F, q)) * sizeof(float);
  return b;
}

void TrainModel::check(const TrainBatch& b) const {
  const int64_t N = b.size();
  if (N == 0) fail("empty training batch");
  if (N > opt_.max_tokens) fail("training batch of ", N, " tokens exceeds the planned ", opt_.max_tokens);
  const int64_t V = model_.hparams().n_vocab;
  for (int64_t i = 0; i < N; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= V) fail("token id ", b.tokens[i], " is outside the vocabulary");
    if (b.targets[i] >= V) fail("target id ", b.targets[i], " is outside the vocabulary");
    if (b.seg_start[i] < 0 || b.seg_start[i] > i) fail("bad segment start at token ", i);
  }
}

const TensorView& TrainModel::weight(const TensorView& t) const { return full_ ? full_->view(t) : t; }
float* TrainModel::weight_grad(const TensorView& t) const { return full_ ? full_->grad(t) : nullptr; }
const float* TrainModel::weight_f32(const TensorView& t) const { return f32(weight(t)); }

const float* TrainModel::dense(const TensorView& w, std::vector<float>& scratch) const {
  if (w.type == DType::F32) return f32(w);
  const int64_t in = w.ne[0], rows = w.rows();
  resize(scratch, in * rows);
  float* dst = scratch.data();
  const int64_t chunk = 64;
  pool_.parallel_for((rows + chunk - 1) / chunk, [&](int64_t c, int) {
    for (int64_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) dequantize_row(w.type, w.row(r), dst + r * in, in);
  });
  return dst;
}

void TrainModel::embed(const TrainBatch& b, float* x) const {
  const int64_t C = model_.hparams().n_embd;
  const TensorView& e = weight(model_.tok_embd());
  for (int64_t i = 0; i < b.size(); ++i) dequantize_row(e.type, e.row(b.tokens[i]), x + i * C, C);
}

// Full training: each token's input gradient lands on its embedding row.
void TrainModel::embed_backward(const TrainBatch& b, const float* dx) {
  float* g = weight_grad(model_.tok_embd());
  if (!g) return;
  const int64_t C = model_.hparams().n_embd;
  for (int64_t i = 0; i < b.size(); ++i) {
    float* row = g + static_cast<int64_t>(b.tokens[i]) * C;
    for (int64_t c = 0; c < C; ++c) row[c] += dx[i * C + c];
  }
}

// Full training: a bias added to every row of an [N, n] output gets the column sums of dy.
void TrainModel::bias_backward(const TensorView& bias, const float* dy, int64_t N, int64_t n) {
  float* g = weight_grad(bias);
  if (!g) return;
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t i = 0; i < n; ++i) g[i] += dy[t * n + i];
  }
}

TrainModel::LayerActs& TrainModel::acts_for(int64_t layer) {
  return *acts_[opt_.checkpointing ? 0 : static_cast<size_t>(layer)];
}

// y [N,out] = x·Wᵀ (+ LoRA when targeted). In training with dropout, xl receives the
// dropped-out LoRA input; u receives A·xl.
void TrainModel::project(int64_t l, Projection p, const float* x, int64_t N, float* y, float* u, float* xl,
                         bool train) {
  const TensorView& w = weight(model_.projection(l, p));
  const float* W = dense(w, wscratch_);
  const LoraSlot* s = lora_ ? lora_->slot(l, p) : nullptr;
  const LoraShape shape{N, w.ne[0], w.ne[1], lora_ ? lora_->spec().rank : 0};
  const float* A = s ? lora_->values.data() + s->a_offset : nullptr;
  const float* B = s ? lora_->values.data() + s->b_offset : nullptr;
  const float* lora_in = x;
  const float rate = lora_ ? lora_->spec().dropout : 0.0f;
  if (s && train && rate > 0.0f) {
    const float keep_scale = 1.0f / (1.0f - rate);
    for (int64_t i = 0; i < N * shape.in; ++i) xl[i] = dropout_keep(dropout_seed_, l, p, i, rate) ? x[i] * keep_scale : 0.0f;
    lora_in = xl;
  }
  lora_linear_forward(x, lora_in, W, A, B, lora_ ? lora_->scale() : 0.0f, shape, u, y, &pool_);
}

void TrainModel::project_backward(int64_t l, Projection p, const float* dy, const float* x, const float* u,
                                  const float* xl, int64_t N, float* dx) {
  const TensorView& model_w = model_.projection(l, p);
  const TensorView& w = weight(model_w);
  const float* W = dense(w, wscratch_);
  const LoraSlot* s = lora_ ? lora_->slot(l, p) : nullptr;
  const int64_t r = lora_ ? lora_->spec().rank : 0;
  const LoraShape shape{N, w.ne[0], w.ne[1], r};
  if (!s) {
    lora_linear_backward<float>(dy, x, W, nullptr, nullptr, nullptr, 0.0f, shape, dx, nullptr, nullptr, nullptr,
                                nullptr, &pool_);
    // Full training: dW [out, in] += dyᵀ · x, summed over the N tokens.
    if (float* gw = weight_grad(model_w)) gemm_tn(shape.out, shape.in, N, dy, x, gw, true, &pool_);
    return;
  }
  LoraParams& lora = *lora_;
  resize(lora_scratch_, 2 * N * r);
  const float rate = lora.spec().dropout;
  float* A_grad = lora.grads.data() + s->a_offset;
  float* B_grad = lora.grads.data() + s->b_offset;
  const float* A = lora.values.data() + s->a_offset;
  const float* B = lora.values.data() + s->b_offset;
  if (rate <= 0.0f) {
    lora_linear_backward(dy, x, W, A, B, u, lora.scale(), shape, dx, static_cast<float*>(nullptr), A_grad, B_grad,
                         lora_scratch_.data(), &pool_);
    return;
  }
  std::vector<float> dxl(static_cast<size_t>(N * shape.in), 0.0f);
  lora_linear_backward(dy, xl, W, A, B, u, lora.scale(), shape, dx, dxl.data(), A_grad, B_grad,
                       lora_scratch_.data(), &pool_);
  const float keep_scale = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < N * shape.in; ++i) {
    if (dropout_keep(dropout_seed_, l, p, i, rate)) dx[i] += dxl[i] * keep_scale;
  }
}

// RMSNorm backward of a layer norm: rows over the pool when the norm weight is frozen; a
// trained one (full fine-tuning) sums its gradient over all rows in order, on one thread.
void TrainModel::norm_backward(const float* dout, const float* x, const TensorView& w, const float* rstd, float* dx,
                               int64_t N, int64_t C) {
  float* dw = weight_grad(w);
  if (dw) return rmsnorm_backward(dout, x, weight_f32(w), rstd, dx, dw, N, C);
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    rmsnorm_backward(dout + r0 * C, x + r0 * C, weight_f32(w), rstd + r0, dx + r0 * C, static_cast<float*>(nullptr), r1 - r0, C);
  });
}

void TrainModel::layer_forward(int64_t l, const TrainBatch& b, const float* x_in, LayerActs& a, float* x_out,
                               bool train) {
  const Hparams& h = model_.hparams();
  const LayerWeights& w = model_.layer(l);
  const int64_t N = b.size(), C = h.n_embd, qd = h.q_dim(), kvd = h.kv_dim(), F = h.n_ff, hd = h.head_dim;
  const bool dropout = train && lora_ && lora_->spec().dropout > 0.0f;
  const int64_t rank = lora_ ? lora_->spec().rank : 0;
  for (auto* v : {&a.xn1, &a.x_mid, &a.xn2}) resize(*v, N * C);
  for (auto* v : {&a.q, &a.att, &a.q_pre}) resize(*v, N * qd);
  for (auto* v : {&a.k, &a.v, &a.k_pre}) resize(*v, N * kvd);
  for (auto* v : {&a.gate, &a.up, &a.hidden}) resize(*v, N * F);
  for (auto* v : {&a.rstd1, &a.rstd2}) resize(*v, N);
  resize(a.lse, N * h.n_head);
  resize(a.rstd_q, N * h.n_head);
  resize(a.rstd_k, N * h.n_head_kv);
  for (int p = 0; p < kNumProjections; ++p) {
    resize(a.u[p], N * rank);
    if (dropout) resize(a.xl[p], N * model_.projection(l, static_cast<Projection>(p)).ne[0]);
  }
  auto U = [&](Projection p) { return a.u[static_cast<int>(p)].data(); };
  auto XL = [&](Projection p) { return dropout ? a.xl[static_cast<int>(p)].data() : nullptr; };

  const float *attn_norm = weight_f32(w.attn_norm), *ffn_norm = weight_f32(w.ffn_norm);
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    rmsnorm_forward(x_in + r0 * C, attn_norm, a.xn1.data() + r0 * C, a.rstd1.data() + r0, r1 - r0, C, h.rms_eps);
  });
  project(l, Projection::Q, a.xn1.data(), N, a.q.data(), U(Projection::Q), XL(Projection::Q), train);
  project(l, Projection::K, a.xn1.data(), N, a.k.data(), U(Projection::K), XL(Projection::K), train);
  project(l, Projection::V, a.xn1.data(), N, a.v.data(), U(Projection::V), XL(Projection::V), train);
  if (w.bq.valid()) {
    const float *bq = weight_f32(w.bq), *bk = weight_f32(w.bk), *bv = weight_f32(w.bv);
    for (int64_t t = 0; t < N; ++t) {
      for (int64_t i = 0; i < qd; ++i) a.q[t * qd + i] += bq[i];
      for (int64_t i = 0; i < kvd; ++i) a.k[t * kvd + i] += bk[i];
      for (int64_t i = 0; i < kvd; ++i) a.v[t * kvd + i] += bv[i];
    }
  }
  if (w.q_norm.valid()) {  // qwen3: per-head RMSNorm before RoPE
    std::copy(a.q.begin(), a.q.begin() + N * qd, a.q_pre.begin());
    std::copy(a.k.begin(), a.k.begin() + N * kvd, a.k_pre.begin());
    rmsnorm_forward(a.q_pre.data(), weight_f32(w.q_norm), a.q.data(), a.rstd_q.data(), N * h.n_head, hd, h.rms_eps);
    rmsnorm_forward(a.k_pre.data(), weight_f32(w.k_norm), a.k.data(), a.rstd_k.data(), N * h.n_head_kv, hd, h.rms_eps);
  }
  const float* inv = model_.rope_inv_freq().data();
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    rope_forward(a.q.data() + r0 * qd, b.pos.data() + r0, r1 - r0, h.n_head, hd, h.rope_dim, inv, model_.rope_style());
    rope_forward(a.k.data() + r0 * kvd, b.pos.data() + r0, r1 - r0, h.n_head_kv, hd, h.rope_dim, inv,
                 model_.rope_style());
  });
  const AttentionShape as{N, h.n_head, h.n_head_kv, hd};
  attention_forward(a.q.data(), a.k.data(), a.v.data(), b.seg_start.data(), as, a.att.data(), a.lse.data(), &pool_);
  project(l, Projection::O, a.att.data(), N, a.x_mid.data(), U(Projection::O), XL(Projection::O), train);
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * C; i < r1 * C; ++i) a.x_mid[i] += x_in[i];
    rmsnorm_forward(a.x_mid.data() + r0 * C, ffn_norm, a.xn2.data() + r0 * C, a.rstd2.data() + r0, r1 - r0, C,
                    h.rms_eps);
  });
  project(l, Projection::Gate, a.xn2.data(), N, a.gate.data(), U(Projection::Gate), XL(Projection::Gate), train);
  project(l, Projection::Up, a.xn2.data(), N, a.up.data(), U(Projection::Up), XL(Projection::Up), train);
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    swiglu_forward(a.gate.data() + r0 * F, a.up.data() + r0 * F, a.hidden.data() + r0 * F, (r1 - r0) * F);
  });
  project(l, Projection::Down, a.hidden.data(), N, x_out, U(Projection::Down), XL(Projection::Down), train);
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * C; i < r1 * C; ++i) x_out[i] += a.x_mid[i];
  });
}

// dx: on entry the gradient at the layer's output, on return the gradient at its input.
void TrainModel::layer_backward(int64_t l, const TrainBatch& b, const float* x_in, LayerActs& a, float* dx) {
  const Hparams& h = model_.hparams();
  const LayerWeights& w = model_.layer(l);
  const int64_t N = b.size(), C = h.n_embd, qd = h.q_dim(), kvd = h.kv_dim(), F = h.n_ff, hd = h.head_dim;
  const bool dropout = lora_ && lora_->spec().dropout > 0.0f;
  auto U = [&](Projection p) { return a.u[static_cast<int>(p)].data(); };
  auto XL = [&](Projection p) { return dropout ? a.xl[static_cast<int>(p)].data() : nullptr; };
  // Gradient buffers live in scratch_ (reused: fresh allocations cost page faults per layer).
  std::vector<float>& d_hidden = zeroed(scratch_.d_hidden, N * F);
  std::vector<float>& d_gate = zeroed(scratch_.d_gate, N * F);
  std::vector<float>& d_up = zeroed(scratch_.d_up, N * F);
  std::vector<float>& d_xn = zeroed(scratch_.d_xn, N * C);
  // FFN block: x_out = x_mid + down(swiglu(gate(xn2), up(xn2))); dx is also d x_mid's residual part.
  project_backward(l, Projection::Down, dx, a.hidden.data(), U(Projection::Down), XL(Projection::Down), N, d_hidden.data());
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    swiglu_backward(d_hidden.data() + r0 * F, a.gate.data() + r0 * F, a.up.data() + r0 * F, d_gate.data() + r0 * F,
                    d_up.data() + r0 * F, (r1 - r0) * F);
  });
  project_backward(l, Projection::Gate, d_gate.data(), a.xn2.data(), U(Projection::Gate), XL(Projection::Gate), N, d_xn.data());
  project_backward(l, Projection::Up, d_up.data(), a.xn2.data(), U(Projection::Up), XL(Projection::Up), N, d_xn.data());
  norm_backward(d_xn.data(), a.x_mid.data(), w.ffn_norm, a.rstd2.data(), dx, N, C);
  // Attention block: x_mid = x_in + o(attn(rope(q), rope(k), v)).
  std::vector<float>& d_att = zeroed(scratch_.d_att, N * qd);
  std::vector<float>& dq = zeroed(scratch_.dq, N * qd);
  std::vector<float>& dk = zeroed(scratch_.dk, N * kvd);
  std::vector<float>& dv = zeroed(scratch_.dv, N * kvd);
  project_backward(l, Projection::O, dx, a.att.data(), U(Projection::O), XL(Projection::O), N, d_att.data());
  const AttentionShape as{N, h.n_head, h.n_head_kv, hd};
  attention_backward(d_att.data(), a.q.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(), b.seg_start.data(),
                     as, dq.data(), dk.data(), dv.data(), &pool_);
  const float* inv = model_.rope_inv_freq().data();
  for_rows(pool_, N, [&](int64_t r0, int64_t r1) {
    rope_backward(dq.data() + r0 * qd, b.pos.data() + r0, r1 - r0, h.n_head, hd, h.rope_dim, inv, model_.rope_style());
    rope_backward(dk.data() + r0 * kvd, b.pos.data() + r0, r1 - r0, h.n_head_kv, hd, h.rope_dim, inv,
                  model_.rope_style());
  });
  if (w.q_norm.valid()) {
    std::vector<float>& dq_pre = zeroed(scratch_.dq_pre, N * qd);
    std::vector<float>& dk_pre = zeroed(scratch_.dk_pre, N * kvd);
    rmsnorm_backward(dq.data(), a.q_pre.data(), weight_f32(w.q_norm), a.rstd_q.data(), dq_pre.data(), weight_grad(w.q_norm), N * h.n_head, hd);
    rmsnorm_backward(dk.data(), a.k_pre.data(), weight_f32(w.k_norm), a.rstd_k.data(), dk_pre.data(), weight_grad(w.k_norm), N * h.n_head_kv, hd);
    dq.swap(dq_pre);
    dk.swap(dk_pre);
  }
  bias_backward(w.bq, dq.data(), N, qd);
  bias_backward(w.bk, dk.data(), N, kvd);
  bias_backward(w.bv, dv.data(), N, kvd);
  std::fill(d_xn.begin(), d_xn.end(), 0.0f);
  project_backward(l, Projection::Q, dq.data(), a.xn1.data(), U(Projection::Q), XL(Projection::Q), N, d_xn.data());
  project_backward(l, Projection::K, dk.data(), a.xn1.data(), U(Projection::K), XL(Projection::K), N, d_xn.data());
  project_backward(l, Projection::V, dv.data(), a.xn1.data(), U(Projection::V), XL(Projection::V), N, d_xn.data());
  norm_backward(d_xn.data(), x_in, w.attn_norm, a.rstd1.data(), dx, N, C);
}

// Final norm, output matrix and masked cross-entropy, in chunks of rows so the logits never
// take more than kHeadRows × vocab floats. With backward, dx receives the gradient at x.
double TrainModel::head(const TrainBatch& b, const float* x, float loss_weight, float* dx, bool backward) {
  const Hparams& h = model_.hparams();
  const int64_t N = b.size(), C = h.n_embd, V = h.n_vocab;
  std::vector<float> xf(N * C), rstd(N), dxf(backward ? N * C : 0, 0.0f);
  rmsnorm_forward(x, weight_f32(model_.output_norm()), xf.data(), rstd.data(), N, C, h.rms_eps);
  const float* W = dense(weight(model_.output()), out_scratch_);
  float* W_grad = backward ? weight_grad(model_.output()) : nullptr;
  resize(logits_, kHeadRows * V);
  double total = 0.0;
  for (int64_t r0 = 0; r0 < N; r0 += kHeadRows) {
    const int64_t n = std::min(kHeadRows, N - r0);
    const int32_t* tg = b.targets.data() + r0;
    if (std::none_of(tg, tg + n, [](int32_t t) { return t >= 0; })) continue;
    gemm_nt(n, V, C, xf.data() + r0 * C, W, logits_.data(), false, &pool_);
    if (!backward) {
      total += cross_entropy_forward(logits_.data(), tg, n, V);
      continue;
    }
    total += cross_entropy_fused(logits_.data(), tg, n, V, loss_weight, &pool_);  // logits -> dlogits
    gemm_nn(n, C, V, logits_.data(), W, dxf.data() + r0 * C, true, &pool_);
    if (W_grad) gemm_tn(V, C, n, logits_.data(), xf.data() + r0 * C, W_grad, true, &pool_);
  }
  if (backward) {
    rmsnorm_backward(dxf.data(), x, weight_f32(model_.output_norm()), rstd.data(), dx, weight_grad(model_.output_norm()), N, C);
  }
  return total;
}

double TrainModel::forward_backward(const TrainBatch& b, float loss_weight, uint64_t dropout_seed) {
  check(b);
  dropout_seed_ = dropout_seed;
  const Hparams& h = model_.hparams();
  const int64_t N = b.size(), C = h.n_embd, L = h.n_layer;
  for (auto& v : layer_inputs_) resize(v, N * C);
  embed(b, layer_inputs_[0].data());
  for (int64_t l = 0; l < L; ++l) layer_forward(l, b, layer_inputs_[l].data(), acts_for(l), layer_inputs_[l + 1].data(), true);
  dx_.assign(static_cast<size_t>(N * C), 0.0f);
  const double nll = head(b, layer_inputs_[L].data(), loss_weight, dx_.data(), true);
  for (int64_t l = L - 1; l >= 0; --l) {
    if (opt_.checkpointing) {  // recompute this layer's activations from its stored input
      resize(dx2_, N * C);
      layer_forward(l, b, layer_inputs_[l].data(), acts_for(l), dx2_.data(), true);
    }
    layer_backward(l, b, layer_inputs_[l].data(), acts_for(l), dx_.data());
  }
  embed_backward(b, dx_.data());
  return nll;
}

double TrainModel::forward_loss(const TrainBatch& b) {
  check(b);
  const Hparams& h = model_.hparams();
  const int64_t N = b.size(), C = h.n_embd;
  std::vector<float> x(N * C), y(N * C);
  embed(b, x.data());
  for (int64_t l = 0; l < h.n_layer; ++l) {
    layer_forward(l, b, x.data(), acts_for(0), y.data(), false);
    x.swap(y);
  }
  return head(b, x.data(), 0.0f, nullptr, false);
}

const std::vector<float>& TrainModel::forward_logits(const TrainBatch& b) {
  check(b);
  const Hparams& h = model_.hparams();
  const int64_t N = b.size(), C = h.n_embd, V = h.n_vocab;
  std::vector<float> x(N * C), y(N * C), rstd(N);
  embed(b, x.data());
  for (int64_t l = 0; l < h.n_layer; ++l) {
    layer_forward(l, b, x.data(), acts_for(0), y.data(), false);
    x.swap(y);
  }
  rmsnorm_forward(x.data(), weight_f32(model_.output_norm()), y.data(), rstd.data(), N, C, h.rms_eps);
  logits_.assign(static_cast<size_t>(N * V), 0.0f);
  gemm_nt(N, V, C, y.data(), dense(weight(model_.output()), out_scratch_), logits_.data(), false, &pool_);
  return logits_;
}

}  // namespace trellis
