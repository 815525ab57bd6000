// Dispatch, threading and scratch memory for matmul; the arithmetic lives in the per-ISA
// files behind matmul_kernels.h.
#include "kernels/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <vector>

#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/interleave.h"
#include "kernels/matmul_kernels.h"
#include "kernels/ops.h"

namespace trellis {

namespace {

// A row buffer of the calling thread, for rows read back from an interleaved copy.
uint8_t* row_buffer(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes) buf.resize(bytes);
  return buf.data();
}

}  // namespace

void dequantize_tensor_row(const TensorView& w, int64_t row, float* out) {
  dequantize_row(w.type, original_row(w, row, w.interleaved ? row_buffer(w.row_stride()) : nullptr), out, w.ne[0]);
}

namespace {

// A 64-byte aligned buffer that only grows, so calls after warm-up do not allocate.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p_); }
  uint8_t* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      cap_ = (n + 4095) / 4096 * 4096;
      p_ = static_cast<uint8_t*>(std::aligned_alloc(64, cap_));
      if (p_ == nullptr) {
        cap_ = 0;
        throw std::bad_alloc();
      }
    }
    return p_;
  }

 private:
  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
};

// Activations of the current call, owned by the calling thread (workers only read them).
Scratch& act_scratch() {
  thread_local Scratch s;
  return s;
}
// Packed weight rows, one buffer per pool thread.
Scratch& tile_scratch() {
  thread_local Scratch s;
  return s;
}

Isa resolve_isa(const MatmulOptions& opt) {
  const Isa isa = opt.isa.value_or(active_isa());
  return isa > detected_isa() ? detected_isa() : isa;
}

// Rows per work item: small enough that both cores get work on small matrices, large enough
// that the atomic chunk counter is not contended and a chunk is a stream worth starting (at
// least kMinChunkBytes of weights: a 192-row K projection of 576 columns in Q4_0 was 16
// chunks of 3.9 KB); a multiple of kDotRows (= kInterleaveRows).
static_assert(kDotRows == kInterleaveRows, "work chunks must start on an interleaved group");
constexpr int64_t kMinChunkBytes = 16384;
int64_t rows_per_chunk(int64_t rows, size_t row_bytes, int threads) {
  const int64_t target_chunks = static_cast<int64_t>(threads) * 8;
  const int64_t floor_rows = kMinChunkBytes / std::max<int64_t>(1, static_cast<int64_t>(row_bytes));
  const int64_t c = std::clamp<int64_t>(std::max(rows / target_chunks, floor_rows), 1, 64);
  return (c + kDotRows - 1) / kDotRows * kDotRows;
}

// Runs fn(t) for every token, in parallel when the work is worth a pool dispatch.
template <class Fn>
void for_each_token(int64_t n_tokens, int64_t n, ThreadPool& pool, const Fn& fn) {
  if (n_tokens * n < (1 << 16)) {
    for (int64_t t = 0; t < n_tokens; ++t) fn(t);
    return;
  }
  pool.parallel_for(n_tokens, [&](int64_t t, int) { fn(t); });
}

// One weight of a vec-dot pass: its rows are cut into n_chunks work items of `chunk` rows.
struct VecDotJob {
  const TensorView* w;
  float* y;
  int slot;
  int64_t chunk, n_chunks;
};

// Rows [r0, r1) of one job for every token; act(t) is token t's activation row.
template <class Act>
void vec_dot_rows(const IsaKernels& k, const VecDotJob& job, int64_t r0, int64_t r1, int64_t n_tokens, const Act& act) {
  const TensorView& w = *job.w;
  const int64_t n = w.ne[0], out = w.rows();
  const size_t stride = w.row_stride();
  float* y = job.y;
  const VecDotRowsFn dot_rows = k.vec_dot_rows[job.slot];
  const VecDotX4Fn dot_x4 = k.vec_dot_x4[job.slot];
  const VecDotX4RunFn x4_run = k.vec_dot_x4_run[job.slot];
  if (w.interleaved != nullptr && x4_run != nullptr) {
    // The chunk's groups (chunks start on a group) as one sequential stream per token.
    const size_t group_bytes = interleaved_group_bytes(w.type, n);
    const uint8_t* first = w.interleaved + static_cast<size_t>(r0 / kInterleaveRows) * group_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) x4_run(first, group_bytes, r1 - r0, act(job.slot, t), n, y + t * out + r0);
  } else if (w.interleaved != nullptr && dot_x4 != nullptr) {
    // One sequential stream per group of kInterleaveRows rows (chunks start on a group).
    const size_t group_bytes = interleaved_group_bytes(w.type, n);
    for (int64_t r = r0; r < r1; r += kInterleaveRows) {
      const int nr = static_cast<int>(std::min<int64_t>(kInterleaveRows, r1 - r));
      const uint8_t* group = w.interleaved + static_cast<size_t>(r / kInterleaveRows) * group_bytes;
      for (int64_t t = 0; t < n_tokens; ++t) dot_x4(group, nr, act(job.slot, t), n, y + t * out + r);
    }
  } else if (dot_rows != nullptr && (!slot_is_float(job.slot) || stride > kDotRowsContiguousMaxStride)) {
    // Long rows: the chunk is cut into kDotRows runs of q consecutive rows and a call takes
    // one row of each, so every run is read front to back as its own sequential stream.
    // Short rows: kDotRows consecutive rows per call (the kernel prefetches the next ones);
    // short float rows go one per call below (the one-row float kernel is faster there).
    const int64_t q = stride > kDotRowsContiguousMaxStride ? (r1 - r0) / kDotRows : 0;
    for (int64_t i = 0; i < q; ++i) {
      const int64_t r = r0 + i;
      for (int64_t t = 0; t < n_tokens; ++t) {
        float part[kDotRows];
        dot_rows(w.data + static_cast<size_t>(r) * stride, stride * static_cast<size_t>(q), kDotRows, act(job.slot, t), n, part);
        for (int j = 0; j < kDotRows; ++j) y[t * out + r + j * q] = part[j];
      }
    }
    for (int64_t r = r0 + kDotRows * q; r < r1; r += kDotRows) {
      const int nr = static_cast<int>(std::min<int64_t>(kDotRows, r1 - r));
      for (int64_t t = 0; t < n_tokens; ++t) dot_rows(w.data + static_cast<size_t>(r) * stride, stride, nr, act(job.slot, t), n, y + t * out + r);
    }
  } else {
    // Each row is read from memory once and reused from L1 across the tokens.
    const VecDotFn dot = k.vec_dot[job.slot];
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.data + static_cast<size_t>(r) * stride;
      for (int64_t t = 0; t < n_tokens; ++t) y[t * out + r] = dot(wr, act(job.slot, t), n);
    }
  }
}

// One dot kernel per (row, token) for one or more weights of the same row length over the
// same input: the decode path, and prefill where no tile kernel exists. The activations are
// quantized once, and the rows of all weights are one pool dispatch.
void matmul_vec_dot(const IsaKernels& k, std::span<VecDotJob> jobs, const float* x, int64_t n_tokens, ThreadPool& pool) {
  const int64_t n = jobs[0].w->ne[0];
  bool quantized = false;
  int64_t total = 0;
  for (VecDotJob& j : jobs) {
    quantized = quantized || !slot_is_float(j.slot);
    j.chunk = rows_per_chunk(j.w->rows(), j.w->row_stride(), pool.size());
    j.n_chunks = (j.w->rows() + j.chunk - 1) / j.chunk;
    total += j.n_chunks;
  }
  const size_t qbytes = quant_row_bytes(n);
  uint8_t* qbuf = quantized ? act_scratch().get(qbytes * static_cast<size_t>(n_tokens)) : nullptr;
  if (quantized) {
    for_each_token(n_tokens, n, pool, [&](int64_t t) {
      const QuantRow q = quant_row_at(qbuf + t * qbytes, n);
      k.quantize_acts(x + t * n, n, const_cast<int8_t*>(q.qs), const_cast<float*>(q.d), const_cast<float*>(q.ds),
                      const_cast<float*>(q.ds16));
    });
  }
  auto act = [&](int slot, int64_t t) {
    ActRow a;
    if (!slot_is_float(slot)) a.q = quant_row_at(qbuf + t * qbytes, n);
    else a.f = x + t * n;
    return a;
  };
  pool.parallel_for(total, [&](int64_t c, int) {
    size_t j = 0;
    while (c >= jobs[j].n_chunks) c -= jobs[j++].n_chunks;
    const int64_t r0 = c * jobs[j].chunk, r1 = std::min(jobs[j].w->rows(), r0 + jobs[j].chunk);
    vec_dot_rows(k, jobs[j], r0, r1, n_tokens, act);
  });
}

constexpr size_t kActBlockBytes = 256 * 1024;  // packed activations revisited per row block (L2)
constexpr int64_t kTokenMultiple = 12;         // token runs split evenly into the tiles' 2, 3, 4 or 6 tokens

// One weight of a prefill pass: its rows are cut into blocks of g->block_rows.
struct GemmJob {
  const GemmKernels* g;
  const TensorView* w;
  float* y;
  int64_t n_blocks;
};

// Prefill of one or more weights over the same input, all with the same activation packing:
// the activations are packed once, then per block of block_rows weight rows (of any of the
// weights, one pool dispatch for all): pack the rows into a per-thread buffer and run the
// tile kernel over the tokens in L2-sized runs.
void matmul_gemm(std::span<GemmJob> jobs, const float* x, int64_t n_tokens, ThreadPool& pool) {
  const GemmKernels& g0 = *jobs[0].g;
  const int64_t n = jobs[0].w->ne[0];
  const size_t ab = g0.act_bytes(n);
  const uint8_t* acts = reinterpret_cast<const uint8_t*>(x);
  if (!g0.acts_are_rows || ab != static_cast<size_t>(n) * sizeof(float)) {
    uint8_t* packed = act_scratch().get(ab * static_cast<size_t>(n_tokens));
    for_each_token(n_tokens, n, pool, [&](int64_t t) { g0.pack_acts(x + t * n, n, packed + t * ab); });
    acts = packed;
  }
  int64_t token_block = static_cast<int64_t>(kActBlockBytes / ab) / kTokenMultiple * kTokenMultiple;
  token_block = std::min(std::max(token_block, kTokenMultiple), n_tokens);
  int64_t total = 0;
  for (GemmJob& j : jobs) total += j.n_blocks = (j.w->rows() + j.g->block_rows - 1) / j.g->block_rows;
  pool.parallel_for(total, [&](int64_t c, int) {
    size_t j = 0;
    while (c >= jobs[j].n_blocks) c -= jobs[j++].n_blocks;
    const GemmKernels& g = *jobs[j].g;
    const TensorView& w = *jobs[j].w;
    const int64_t block_rows = g.block_rows;
    const int64_t out = w.rows(), r0 = c * block_rows, nr = std::min(block_rows, out - r0);
    const size_t wb = g.w_bytes(n);
    uint8_t* buf = tile_scratch().get(wb * static_cast<size_t>(block_rows));
    if (nr < block_rows) std::memset(buf, 0, wb * static_cast<size_t>(block_rows));  // absent rows give 0
    if (w.interleaved != nullptr && g.pack_w_interleaved != nullptr) {
      const size_t gb = interleaved_group_bytes(w.type, n);
      g.pack_w_interleaved(w.interleaved + static_cast<size_t>(r0 / kInterleaveRows) * gb, gb, nr, n, buf);
    } else {
      uint8_t* row = w.interleaved ? row_buffer(w.row_stride()) : nullptr;
      for (int64_t i = 0; i < nr; ++i) g.pack_w_row(original_row(w, r0 + i, row), n, buf, static_cast<int>(i));
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += token_block) {
      const int64_t nt = std::min(token_block, n_tokens - t0);
      g.tile(buf, nr, acts + t0 * ab, nt, n, jobs[j].y + t0 * out + r0, out);
    }
  });
}

// Types without dedicated kernels: dequantize each row, then an F32 dot per token.
void matmul_generic(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t in = w.ne[0], out = w.rows();
  const int64_t chunk = rows_per_chunk(out, w.row_stride(), pool.size());
  pool.parallel_for((out + chunk - 1) / chunk, [&](int64_t c, int) {
    thread_local std::vector<float> buf;
    if (static_cast<int64_t>(buf.size()) < in) buf.resize(static_cast<size_t>(in));
    const int64_t r0 = c * chunk, r1 = std::min(out, r0 + chunk);
    for (int64_t r = r0; r < r1; ++r) {
      dequantize_row(w.type, w.row(r), buf.data(), in);
      for (int64_t t = 0; t < n_tokens; ++t) y[t * out + r] = dot_f32(buf.data(), x + t * in, in);
    }
  });
}

}  // namespace

const IsaKernels& isa_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    case Isa::Scalar: break;
  }
  return scalar_kernels();
}

bool matmul_has_fast_path(DType type) { return weight_slot(type) >= 0; }

bool matmul_has_gemm(DType type, Isa isa) {
  const int slot = weight_slot(type);
  return slot >= 0 && isa <= detected_isa() && isa_kernels(isa).gemm[slot].valid();
}

namespace {

// Whether this product takes the tiled prefill kernel.
bool use_gemm(const IsaKernels& k, int slot, int64_t n_tokens, const MatmulOptions& opt) {
  return k.gemm[slot].valid() &&
         (opt.path == MatmulPath::Gemm || (opt.path == MatmulPath::Auto && n_tokens >= kGemmMinTokens));
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            const MatmulOptions& opt) {
  if (n_tokens <= 0) return;
  const int slot = weight_slot(w.type);
  if (slot < 0) {
    matmul_generic(w, x, n_tokens, y, pool);
    return;
  }
  const IsaKernels& k = isa_kernels(resolve_isa(opt));
  if (use_gemm(k, slot, n_tokens, opt)) {
    GemmJob job{&k.gemm[slot], &w, y, 0};
    matmul_gemm(std::span<GemmJob>(&job, 1), x, n_tokens, pool);
  } else {
    VecDotJob job{&w, y, slot, 0, 0};
    matmul_vec_dot(k, std::span<VecDotJob>(&job, 1), x, n_tokens, pool);
  }
}

void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens, ThreadPool& pool,
                  const MatmulOptions& opt) {
  if (n_tokens <= 0 || outs.empty()) return;
  const IsaKernels& k = isa_kernels(resolve_isa(opt));
  // Together when every weight has the same row length and takes the same path: all decode
  // (one activation quantization), or all prefill with the same activation packing.
  bool vec_dot = outs.size() <= kMaxMatmulOuts, gemm = vec_dot;
  for (size_t i = 0; i < outs.size() && (vec_dot || gemm); ++i) {
    const int slot = weight_slot(outs[i].w->type);
    const bool same_n = outs[i].w->ne[0] == outs[0].w->ne[0];
    const bool tiled = slot >= 0 && use_gemm(k, slot, n_tokens, opt);
    vec_dot = vec_dot && slot >= 0 && !tiled && same_n;
    gemm = gemm && tiled && same_n && k.gemm[slot].pack_acts == k.gemm[weight_slot(outs[0].w->type)].pack_acts;
  }
  if (vec_dot) {
    VecDotJob jobs[kMaxMatmulOuts];
    for (size_t i = 0; i < outs.size(); ++i) jobs[i] = {outs[i].w, outs[i].y, weight_slot(outs[i].w->type), 0, 0};
    matmul_vec_dot(k, std::span<VecDotJob>(jobs, outs.size()), x, n_tokens, pool);
  } else if (gemm) {
    GemmJob jobs[kMaxMatmulOuts];
    for (size_t i = 0; i < outs.size(); ++i) jobs[i] = {&k.gemm[weight_slot(outs[i].w->type)], outs[i].w, outs[i].y, 0};
    matmul_gemm(std::span<GemmJob>(jobs, outs.size()), x, n_tokens, pool);
  } else {
    for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y, pool, opt);
  }
}

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  matmul(w, x, n_tokens, y, pool, MatmulOptions{});
}

void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t in = w.ne[0], out = w.rows();
  std::vector<float> row(static_cast<size_t>(in));
  for (int64_t r = 0; r < out; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), in);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0.0;
      for (int64_t i = 0; i < in; ++i) s += static_cast<double>(row[i]) * x[t * in + i];
      y[t * out + r] = static_cast<float>(s);
    }
  }
}

}  // namespace trellis
