// Work split, threading and the combine step of attention; the arithmetic lives in the
// per-ISA files behind attention_kernels.h.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/attention_kernels.h"

namespace trellis {
namespace {

// A batch with fewer queries than this is also split into position ranges of at least
// kMinSplitLen, so both cores (and a late one) find work at decode.
constexpr int64_t kTargetItems = 32;
constexpr int64_t kMinSplitLen = 256;

AttnPartialFn kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return attn_partial_avx512();
    case Isa::Avx2: return attn_partial_avx2();
    case Isa::Scalar: break;
  }
  return attn_partial_scalar();
}

// The prefill tile kernel (AttnTileJob), where the ISA has one. AVX-512 has none yet: its
// prefill runs row tiles of kAttnMaxRows through its partial kernel.
AttnTileFn tile_kernel_for(Isa isa) { return isa == Isa::Avx2 ? attn_tile_avx2() : nullptr; }

// Positions [p0, p1) of one query, for KV heads [h0, h1) and their row tiles. Normally every
// head, so a position range is read by one thread (with KVCache's head-major layout, one
// contiguous stream per head). A decode step too short to split by positions is split by KV
// head instead (its few rows are in cache), so the second core is not idle.
struct WorkItem {
  int64_t query;
  int64_t p0, p1;
  int64_t h0, h1;
  int64_t partial = -1;  // offset of its states in the partial buffer, or -1: writes the output
  int64_t n_tokens = 1;  // > 1: a query tile, queries [query, query + n_tokens) (run_rows_tile, run_tile)
};

// Owned by the calling thread; only grow, so steady-state calls do not allocate.
struct PlanBuffers {
  std::vector<WorkItem> items;
  std::vector<float> partials;  // per split item and (KV head, tile): acc [rows, head_dim], m, l [rows]
};
PlanBuffers& plan_buffers() {
  thread_local PlanBuffers b;
  return b;
}
std::vector<float>& worker_scratch(int64_t n) {
  thread_local std::vector<float> s;
  if (static_cast<int64_t>(s.size()) < n) s.resize(static_cast<size_t>(n));
  return s;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How the query heads of one KV head are cut into row tiles of at most kAttnMaxRows.
struct Tiling {
  int64_t group, n_tiles, rows;  // rows per tile (the last may have fewer)
  int64_t state_floats(int64_t head_dim) const { return rows * (head_dim + 2); }
};
Tiling tiling(const AttentionShape& s) {
  Tiling t;
  t.group = s.n_head / s.n_head_kv;
  t.n_tiles = ceil_div(t.group, kAttnMaxRows);
  t.rows = ceil_div(t.group, t.n_tiles);
  return t;
}

// Position ranges per query: forced by opt.split_len, else one range unless the batch has
// fewer queries than kTargetItems (decode), then ranges of at least kMinSplitLen.
int64_t n_splits(int64_t n_pos, int64_t n_queries, const AttentionOptions& opt) {
  if (opt.split_len > 0) return ceil_div(n_pos, opt.split_len);
  if (n_queries >= kTargetItems) return 1;
  return std::clamp<int64_t>(ceil_div(kTargetItems, n_queries), 1, std::max<int64_t>(1, n_pos / kMinSplitLen));
}

// Queries per tile in a prefill batch: as many tokens' groups of query rows as fit one kernel
// call (kAttnTileRows with a tile kernel, else kAttnMaxRows), so each cache block is read
// once for them all instead of once per token. 1 (no tiles) for decode-sized batches, forced
// position splits, or groups too large.
int64_t query_tile_tokens(const AttentionShape& s, int64_t n_queries, const AttentionOptions& opt, bool tile_kernel) {
  if (n_queries < kTargetItems || opt.split_len > 0) return 1;
  return std::max<int64_t>(1, (tile_kernel ? kAttnTileRows : kAttnMaxRows) / (s.n_head / s.n_head_kv));
}

bool same_cache(const AttentionQuery& a, const AttentionQuery& b) {
  return a.kv.k == b.kv.k && a.kv.v == b.kv.v && a.kv.stride == b.kv.stride && a.kv.type == b.kv.type &&
         a.kv.head_stride == b.kv.head_stride;
}

void plan(std::span<const AttentionQuery> queries, const AttentionShape& s, const AttentionOptions& opt,
          bool tile_kernel, PlanBuffers& b) {
  const int64_t item_floats = s.n_head_kv * tiling(s).n_tiles * tiling(s).state_floats(s.head_dim);
  b.items.clear();
  size_t partial_floats = 0;
  // Last queries first (in a prefill they attend to the most positions, so the pool's tail is
  // short); the position ranges of one query in order, so a thread that runs consecutive
  // items continues where its last one ended (and prefetches across, see run_item).
  const int64_t tile_tokens = query_tile_tokens(s, static_cast<int64_t>(queries.size()), opt, tile_kernel);
  for (size_t t = queries.size(); t-- > 0;) {
    const int64_t n_pos = queries[t].n_pos;
    if (n_pos <= 0) continue;
    if (tile_tokens > 1) {
      // This query and up to tile_tokens - 1 before it that read the same cache.
      int64_t n = 1;
      while (n < tile_tokens && t >= static_cast<size_t>(n) && same_cache(queries[t - n], queries[t]) &&
             queries[t - n].n_pos > 0) {
        ++n;
      }
      t -= static_cast<size_t>(n - 1);
      // A tile kernel's items take one KV head each: more items for the pool (a tile is most
      // of a sequence's queries).
      if (n > 1 && tile_kernel) {
        for (int64_t h = 0; h < s.n_head_kv; ++h) b.items.push_back({static_cast<int64_t>(t), 0, 0, h, h + 1, -1, n});
      } else if (n > 1) {
        b.items.push_back({static_cast<int64_t>(t), 0, 0, 0, s.n_head_kv, -1, n});
      } else {
        b.items.push_back({static_cast<int64_t>(t), 0, n_pos, 0, s.n_head_kv, -1});
      }
      continue;
    }
    const int64_t splits = n_splits(n_pos, static_cast<int64_t>(queries.size()), opt);
    if (splits == 1 && static_cast<int64_t>(queries.size()) < kTargetItems) {
      for (int64_t h = 0; h < s.n_head_kv; ++h) b.items.push_back({static_cast<int64_t>(t), 0, n_pos, h, h + 1, -1});
      continue;
    }
    const int64_t len = ceil_div(n_pos, splits);
    for (int64_t p0 = 0; p0 < n_pos; p0 += len) {
      WorkItem w{static_cast<int64_t>(t), p0, std::min(n_pos, p0 + len), 0, s.n_head_kv, -1};
      if (splits > 1) {
        w.partial = static_cast<int64_t>(partial_floats);
        partial_floats += static_cast<size_t>(item_floats);
      }
      b.items.push_back(w);
    }
  }
  if (b.partials.size() < partial_floats) b.partials.resize(partial_floats);
}

// A kernel call's cache side: KV head h of `kv`, positions [p0, p1) (the caller fills in the
// rows, the state and the scratch).
AttnJob cache_job(const KVLayerView& kv, const AttentionShape& s, int64_t h, int64_t p0, int64_t p1) {
  const int64_t esize = kv.type == DType::F16 ? 2 : 4;
  AttnJob j;
  const int64_t head_bytes = kv.head_offset(h, s.head_dim) * esize;
  j.k = static_cast<const uint8_t*>(kv.k) + head_bytes;
  j.v = static_cast<const uint8_t*>(kv.v) + head_bytes;
  j.stride = kv.stride;
  j.f16 = kv.type == DType::F16;
  j.head_dim = s.head_dim;
  j.p0 = p0;
  j.p1 = p1;
  j.scale = s.scale;
  return j;
}

// Runs one item: its KV heads (normally all) and row tiles over the item's positions, block by
// block with the heads interleaved, so each head's stream advances a block at a time (the
// kernels prefetch that head's next block while they consume this one).
void run_item(const WorkItem& w, const AttentionQuery& q, const AttentionShape& s, const Tiling& tl,
              AttnPartialFn kernel, float* partials) {
  const int64_t hd = s.head_dim;
  const int64_t n_states = s.n_head_kv * tl.n_tiles;
  const int64_t q_prep_floats = attn_q_prep_floats(hd);
  std::vector<float>& scratch =
      worker_scratch(attn_scratch_floats(hd) + (2 * kAttnMaxRows + q_prep_floats) * n_states);
  float* ml = scratch.data() + attn_scratch_floats(hd);  // m, l per (KV head, tile) of a direct item
  float* q_prep = ml + 2 * kAttnMaxRows * n_states;       // per (KV head, tile)
  // A split item's thread most often runs the next range of the query next (the pool hands
  // out consecutive items), so the kernels may prefetch that range's first block too.
  const int64_t prefetch_end = w.partial >= 0 ? std::min(q.n_pos, w.p1 + kAttnBlock) : w.p1;
  for (int64_t b0 = w.p0; b0 < w.p1; b0 += kAttnBlock) {
    const int64_t b1 = std::min(w.p1, b0 + kAttnBlock);
    for (int64_t h = w.h0; h < w.h1; ++h) {
      for (int64_t tile = 0; tile < tl.n_tiles; ++tile) {
        const int64_t row0 = tile * tl.rows, first_row = h * tl.group + row0, state = h * tl.n_tiles + tile;
        AttnJob j = cache_job(q.kv, s, h, b0, b1);
        j.q = q.q + first_row * hd;
        j.n_rows = std::min(tl.rows, tl.group - row0);
        if (w.partial < 0) {
          j.acc = q.out + first_row * hd;
          j.m = ml + state * 2 * kAttnMaxRows;
          j.l = j.m + kAttnMaxRows;
          j.finalize = b1 == w.p1;
        } else {
          j.acc = partials + w.partial + state * tl.state_floats(hd);
          j.m = j.acc + j.n_rows * hd;
          j.l = j.m + j.n_rows;
        }
        j.init = b0 == w.p0;
        j.scratch = scratch.data();
        j.q_prep = q_prep + state * q_prep_floats;
        j.prefetch_end = prefetch_end;
        kernel(j);
      }
    }
  }
}

// Folds the online-softmax state b (rows of acc, m, l) into a: both then describe the union of
// their positions.
void merge_state(int64_t n_rows, int64_t hd, float* acc_a, float* m_a, float* l_a, const float* acc_b, const float* m_b,
                 const float* l_b) {
  for (int64_t r = 0; r < n_rows; ++r) {
    if (m_b[r] == -INFINITY) continue;
    const float mx = std::max(m_a[r], m_b[r]);
    const float fa = m_a[r] == -INFINITY ? 0.0f : std::exp(m_a[r] - mx), fb = std::exp(m_b[r] - mx);
    for (int64_t i = 0; i < hd; ++i) acc_a[r * hd + i] = acc_a[r * hd + i] * fa + acc_b[r * hd + i] * fb;
    l_a[r] = l_a[r] * fa + l_b[r] * fb;
    m_a[r] = mx;
  }
}

// A query tile (prefill): per KV head, the query rows of all its tokens run as one row tile
// over the positions every token sees, [0, min n_pos), so those cache blocks are read once for
// the tile; each token's further positions (its diagonal, a few) run as a fresh state of its
// own rows that is merged in before the division by l.
void run_tile(const WorkItem& w, std::span<const AttentionQuery> queries, const AttentionShape& s, const Tiling& tl,
              AttnPartialFn kernel) {
  const int64_t hd = s.head_dim, group = tl.group, n_rows = group * w.n_tokens;
  const AttentionQuery* tq = queries.data() + w.query;
  int64_t common = tq[0].n_pos;
  for (int64_t i = 1; i < w.n_tokens; ++i) common = std::min(common, tq[i].n_pos);
  const int64_t state = kAttnMaxRows * (hd + 2), q_prep_floats = attn_q_prep_floats(hd);
  std::vector<float>& scratch = worker_scratch(attn_scratch_floats(hd) + 2 * (state + q_prep_floats) + kAttnMaxRows * hd);
  float* q_rows = scratch.data() + attn_scratch_floats(hd);
  float* tile = q_rows + kAttnMaxRows * hd;  // acc [rows, hd], m [rows], l [rows]
  float* tail = tile + state;
  float* q_prep = tail + state;
  auto job = [&](const float* q, int64_t rows, int64_t h, int64_t p0, int64_t p1, float* st, float* prep, bool init) {
    AttnJob j = cache_job(tq[0].kv, s, h, p0, p1);
    j.q = q;
    j.n_rows = rows;
    j.acc = st;
    j.m = st + rows * hd;
    j.l = j.m + rows;
    j.init = init;
    j.scratch = scratch.data();
    j.q_prep = prep;
    j.prefetch_end = p1;
    kernel(j);
  };
  for (int64_t h = w.h0; h < w.h1; ++h) {
    for (int64_t i = 0; i < w.n_tokens; ++i) {
      std::copy_n(tq[i].q + h * group * hd, group * hd, q_rows + i * group * hd);
    }
    for (int64_t b0 = 0; b0 < common; b0 += kAttnBlock) {
      job(q_rows, n_rows, h, b0, std::min(common, b0 + kAttnBlock), tile, q_prep, b0 == 0);
    }
    float* acc = tile;
    float* m = tile + n_rows * hd;
    float* l = m + n_rows;
    for (int64_t i = 0; i < w.n_tokens; ++i) {
      float* acc_i = acc + i * group * hd;
      // The tile state keeps acc, m, l as [rows, hd], [rows], [rows]: token i's rows of each.
      if (tq[i].n_pos > common) {
        job(q_rows + i * group * hd, group, h, common, tq[i].n_pos, tail, q_prep + q_prep_floats, true);
        merge_state(group, hd, acc_i, m + i * group, l + i * group, tail, tail + group * hd, tail + group * hd + group);
      }
      float* out = tq[i].out + h * group * hd;
      for (int64_t r = 0; r < group; ++r) {
        const float inv = 1.0f / l[i * group + r];
        for (int64_t d = 0; d < hd; ++d) out[r * hd + d] = acc_i[r * hd + d] * inv;
      }
    }
  }
}

// A query tile through the ISA's tile kernel: the rows of its tokens that share KV head w.h0,
// each with its own causal limit.
void run_rows_tile(const WorkItem& w, std::span<const AttentionQuery> queries, const AttentionShape& s,
                   AttnTileFn tile_kernel) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv, h = w.h0;
  const AttentionQuery* tq = queries.data() + w.query;
  const float* q[kAttnTileRows];
  float* out[kAttnTileRows];
  int64_t n_pos[kAttnTileRows];
  for (int64_t i = 0; i < w.n_tokens; ++i) {
    for (int64_t g = 0; g < group; ++g) {
      const int64_t r = i * group + g, head = h * group + g;
      q[r] = tq[i].q + head * hd;
      out[r] = tq[i].out + head * hd;
      n_pos[r] = tq[i].n_pos;
    }
  }
  std::vector<float>& scratch = worker_scratch(attn_tile_scratch_floats(hd));
  AttnTileJob j;
  j.q = q;
  j.n_pos = n_pos;
  j.out = out;
  j.n_rows = group * w.n_tokens;
  const AttnJob c = cache_job(tq[0].kv, s, h, 0, 1);
  j.k = c.k;
  j.v = c.v;
  j.stride = c.stride;
  j.f16 = c.f16;
  j.head_dim = hd;
  j.scale = s.scale;
  j.scratch = scratch.data();
  tile_kernel(j);
}

// For each head: out = Σ_c acc_c·e^(m_c − M) / Σ_c l_c·e^(m_c − M), M = max_c m_c, over the
// n split items of one query, in position order.
void combine(const WorkItem* items, int64_t n, const AttentionQuery& q, const AttentionShape& s, const Tiling& tl,
             const float* partials) {
  const int64_t hd = s.head_dim;
  for (int64_t h = 0; h < s.n_head_kv; ++h) {
    for (int64_t tile = 0; tile < tl.n_tiles; ++tile) {
      const int64_t row0 = tile * tl.rows, nr = std::min(tl.rows, tl.group - row0);
      const int64_t off = (h * tl.n_tiles + tile) * tl.state_floats(hd);
      for (int64_t r = 0; r < nr; ++r) {
        float mx = -INFINITY;
        for (int64_t c = 0; c < n; ++c) mx = std::max(mx, partials[items[c].partial + off + nr * hd + r]);
        float* out = q.out + (h * tl.group + row0 + r) * hd;
        std::fill(out, out + hd, 0.0f);
        float total = 0.0f;
        for (int64_t c = 0; c < n; ++c) {
          const float* st = partials + items[c].partial + off;
          const float f = std::exp(st[nr * hd + r] - mx);
          total += st[nr * hd + nr + r] * f;
          for (int64_t i = 0; i < hd; ++i) out[i] += f * st[r * hd + i];
        }
        const float inv = 1.0f / total;
        for (int64_t i = 0; i < hd; ++i) out[i] *= inv;
      }
    }
  }
}

}  // namespace

void attention(std::span<const AttentionQuery> queries, const AttentionShape& s, ThreadPool& pool,
               const AttentionOptions& opt) {
  if (s.n_head_kv <= 0 || s.head_dim <= 0 || s.n_head % s.n_head_kv != 0) {
    fail("attention: ", s.n_head, " query heads do not group over ", s.n_head_kv, " KV heads");
  }
  Isa isa = opt.isa.value_or(active_isa());
  if (isa > detected_isa()) isa = detected_isa();
  const AttnPartialFn kernel = kernel_for(isa);
  const AttnTileFn tile_kernel = tile_kernel_for(isa);
  const Tiling tl = tiling(s);
  for (const AttentionQuery& q : queries) {
    if (q.n_pos <= 0) std::fill(q.out, q.out + s.n_head * s.head_dim, 0.0f);
  }
  PlanBuffers& b = plan_buffers();
  plan(queries, s, opt, tile_kernel != nullptr, b);
  const auto n_items = static_cast<int64_t>(b.items.size());
  float* partials = b.partials.data();
  pool.parallel_for(n_items, [&](int64_t i, int) {
    const WorkItem& w = b.items[i];
    if (w.n_tokens > 1 && tile_kernel != nullptr) run_rows_tile(w, queries, s, tile_kernel);
    else if (w.n_tokens > 1) run_tile(w, queries, s, tl, kernel);
    else run_item(w, queries[w.query], s, tl, kernel, partials);
  });
  for (int64_t i = 0; i < n_items;) {
    int64_t n = 1;
    if (b.items[i].partial >= 0) {
      while (i + n < n_items && b.items[i + n].query == b.items[i].query) ++n;
      combine(&b.items[i], n, queries[b.items[i].query], s, tl, partials);
    }
    i += n;
  }
}

void attention_head_reference(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim,
                              int64_t n_pos, float scale, float* out) {
  std::vector<double> s(static_cast<size_t>(n_pos));
  std::vector<float> row(static_cast<size_t>(head_dim));
  auto load = [&](const void* base, int64_t p) {
    const int64_t off = p * kv.stride + kv.head_offset(kv_head, head_dim);
    for (int64_t i = 0; i < head_dim; ++i) {
      row[i] = kv.type == DType::F32 ? static_cast<const float*>(base)[off + i]
                                     : fp16_to_fp32(static_cast<const uint16_t*>(base)[off + i]);
    }
  };
  double mx = -INFINITY;
  for (int64_t p = 0; p < n_pos; ++p) {
    load(kv.k, p);
    double d = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) d += static_cast<double>(q[i]) * row[i];
    s[p] = d * scale;
    mx = std::max(mx, s[p]);
  }
  double total = 0.0;
  for (auto& x : s) total += (x = std::exp(x - mx));
  std::vector<double> acc(static_cast<size_t>(head_dim), 0.0);
  for (int64_t p = 0; p < n_pos; ++p) {
    load(kv.v, p);
    for (int64_t i = 0; i < head_dim; ++i) acc[i] += s[p] / total * row[i];
  }
  for (int64_t i = 0; i < head_dim; ++i) out[i] = static_cast<float>(acc[i]);
}

}  // namespace trellis
