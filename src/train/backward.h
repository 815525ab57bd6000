// Paired forward/backward kernels of the training pass (llm.c style). T is float in the
// trainer and double in the finite-difference tests. Shapes in comments: [N, C] is N rows
// (tokens) of C values, row-major. Backward functions ACCUMULATE into their gradient
// outputs (+=) so residual branches and shared inputs add up without extra copies; the
// caller zeroes them first.
#pragma once
#include <cstdint>

#include "model/arch.h"

namespace trellis {

class ThreadPool;

// ---- RMSNorm: out = x * rstd * w, rstd = 1/sqrt(mean(x²) + eps), per row.
// x [N,C], w [C] -> out [N,C], rstd [N]
template <class T>
void rmsnorm_forward(const T* x, const T* w, T* out, T* rstd, int64_t N, int64_t C, T eps);
// dout [N,C] -> dx [N,C] +=, dw [C] += (dw may be null: frozen weight)
template <class T>
void rmsnorm_backward(const T* dout, const T* x, const T* w, const T* rstd, T* dx, T* dw, int64_t N, int64_t C);

// ---- RoPE, in place: x [N, H*hd]; token n rotated by angle pos[n]*inv_freq[i] on pairs chosen
// by `style`. The backward is the inverse rotation applied to the gradient (rotations are
// orthogonal), also in place.
template <class T>
void rope_forward(T* x, const int32_t* pos, int64_t N, int64_t H, int64_t hd, int64_t rope_dim, const float* inv_freq,
                  RopeStyle style);
template <class T>
void rope_backward(T* dx, const int32_t* pos, int64_t N, int64_t H, int64_t hd, int64_t rope_dim,
                   const float* inv_freq, RopeStyle style);

// ---- Causal attention with grouped KV heads and segments: token t attends to tokens
// [seg_start[t], t] (packed examples never see each other; seg_start is non-decreasing).
// q [N, nh*hd], k, v [N, nkv*hd] -> out [N, nh*hd], lse [N, nh] (log-sum-exp of the scaled scores, kept for the backward,
// which recomputes the probabilities instead of storing an N×N matrix).
struct AttentionShape {
  int64_t N = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
};
template <class T>
void attention_forward(const T* q, const T* k, const T* v, const int32_t* seg_start, const AttentionShape& s, T* out,
                       T* lse, ThreadPool* pool);
// dout [N, nh*hd] -> dq [N, nh*hd] +=, dk, dv [N, nkv*hd] +=
template <class T>
void attention_backward(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse,
                        const int32_t* seg_start, const AttentionShape& s, T* dq, T* dk, T* dv, ThreadPool* pool);
// The same two as plain per-row loops: the scalar reference the blocked kernels
// (attention_blocked.cpp: products of 64-row blocks through train/gemm) are tested against.
template <class T>
void attention_forward_reference(const T* q, const T* k, const T* v, const int32_t* seg_start, const AttentionShape& s,
                                 T* out, T* lse, ThreadPool* pool);
template <class T>
void attention_backward_reference(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse,
                                  const int32_t* seg_start, const AttentionShape& s, T* dq, T* dk, T* dv,
                                  ThreadPool* pool);

// ---- SwiGLU: h = silu(gate) * up, all [n].
template <class T>
void swiglu_forward(const T* gate, const T* up, T* h, int64_t n);
// dh [n] -> dgate, dup [n] +=
template <class T>
void swiglu_backward(const T* dh, const T* gate, const T* up, T* dgate, T* dup, int64_t n);

// ---- LoRA linear: y = x·Wᵀ + scale·(xl·Aᵀ)·Bᵀ, xl = the LoRA branch's input (x after
// dropout; x itself without dropout). x, xl [N,in], W [out,in] (dense, frozen),
// A [r,in], B [out,r] -> y [N,out], u = xl·Aᵀ [N,r] (kept for the backward).
struct LoraShape {
  int64_t N = 0, in = 0, out = 0, rank = 0;
};
template <class T>
void lora_linear_forward(const T* x, const T* xl, const T* W, const T* A, const T* B, T scale, const LoraShape& s,
                         T* u, T* y, ThreadPool* pool);
// dy [N,out] -> dx [N,in] += (base and LoRA paths; the LoRA path's input gradient is
// returned through dxl when it differs from x, else added to dx), dA [r,in] +=, dB [out,r] +=.
// dxl may be null when xl == x. scratch holds 2·N·r values.
template <class T>
void lora_linear_backward(const T* dy, const T* xl, const T* W, const T* A, const T* B, const T* u, T scale,
                          const LoraShape& s, T* dx, T* dxl, T* dA, T* dB, T* scratch, ThreadPool* pool);

// ---- Plain linear for full fine-tuning: dW [out,in] += dyᵀ·x.
template <class T>
void linear_weight_backward(const T* dy, const T* x, int64_t N, int64_t in, int64_t out, T* dW, ThreadPool* pool);

// ---- Masked cross-entropy. logits [N,V], targets [N] (-1: not scored).
// Returns Σ over scored rows of -log softmax(logits)[target] (double accumulation).
template <class T>
double cross_entropy_forward(const T* logits, const int32_t* targets, int64_t N, int64_t V);
// dlogits [N,V] = weight·(softmax(logits) − onehot(target)) for scored rows, 0 elsewhere
// (overwrites; `weight` is 1 / scored tokens of the whole accumulation window).
template <class T>
void cross_entropy_backward(const T* logits, const int32_t* targets, int64_t N, int64_t V, T weight, T* dlogits);
// Both at once, as the trainer uses them: returns the forward's sum and overwrites logits with
// the backward's dlogits, rows spread over the pool (F32 rows use the vector exp; each row's
// sum of exponentials is accumulated in double per 1024 values, so it stays within ~1e-6).
template <class T>
double cross_entropy_fused(T* logits, const int32_t* targets, int64_t N, int64_t V, T weight, ThreadPool* pool);

}  // namespace trellis
