#include "lora/lora_apply.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "lora/adapter_set.h"

namespace trellis {
namespace {
// Output rows per job in the up-projection: enough work per job to hide scheduling cost,
// small enough to spread a 576-row projection over 16+ threads.
constexpr int64_t kRowsPerJob = 32;
}  // namespace

void LoraBatch::begin() { n_groups_ = 0; }

void LoraBatch::add_sequence(const AdapterSet* set, int64_t t0, int64_t n) {
  if (!set) return;
  for (const AdapterSet::Entry& e : set->entries()) {
    if (e.scale == 0.0f) continue;
    size_t g = 0;
    while (g < n_groups_ && groups_[g].adapter != e.adapter.get()) ++g;
    if (g == n_groups_) {
      if (groups_.size() == n_groups_) groups_.emplace_back();
      groups_[g].adapter = e.adapter.get();
      groups_[g].spans.clear();
      groups_[g].n_tokens = 0;
      ++n_groups_;
    }
    groups_[g].spans.push_back({t0, n, e.scale});
    groups_[g].n_tokens += n;
  }
}

void LoraBatch::apply(int64_t layer, Projection p, const float* x, float* y, ThreadPool& pool) {
  active_.clear();
  int64_t u_size = 0, out = 0;
  n_jobs_ = 0;
  for (size_t g = 0; g < n_groups_; ++g) {
    const LoraTarget* t = groups_[g].adapter->find(layer, p);
    if (!t) continue;
    active_.push_back({&groups_[g], t, u_size, n_jobs_});
    u_size += groups_[g].n_tokens * t->rank;
    n_jobs_ += t->rank;
    out = t->out;
  }
  if (active_.empty()) return;
  if (static_cast<int64_t>(u_.size()) < u_size) u_.resize(static_cast<size_t>(u_size));
  down_project(x, pool);
  up_project(y, out, pool);
}

// u[t, j] = A[j, :] · x[t, :], one job per (group, rank row j): A's row is read once for all
// of the group's tokens.
void LoraBatch::down_project(const float* x, ThreadPool& pool) {
  pool.parallel_for(n_jobs_, [&](int64_t job, int) {
    size_t a = 0;
    while (a + 1 < active_.size() && active_[a + 1].first_job <= job) ++a;
    const Active& act = active_[a];
    const LoraTarget& t = *act.target;
    const int64_t j = job - act.first_job;
    const float* arow = t.a_row(j);
    float* u = u_.data() + act.u_offset;
    int64_t local = 0;
    for (const Span& s : act.group->spans) {
      for (int64_t i = 0; i < s.n; ++i, ++local) u[local * t.rank + j] = dot_f32(x + (s.t0 + i) * t.in, arow, t.in);
    }
  });
}

// y[t, o] += s_t · B[o, :] · u[t, :], one job per block of output rows covering every group,
// so no two jobs write the same element even when a sequence uses several adapters.
void LoraBatch::up_project(float* y, int64_t out, ThreadPool& pool) {
  const int64_t n_blocks = (out + kRowsPerJob - 1) / kRowsPerJob;
  pool.parallel_for(n_blocks, [&](int64_t block, int) {
    const int64_t o0 = block * kRowsPerJob, o1 = std::min(out, o0 + kRowsPerJob);
    for (const Active& act : active_) {
      const LoraTarget& t = *act.target;
      const float* u = u_.data() + act.u_offset;
      int64_t local = 0;
      for (const Span& s : act.group->spans) {
        const float scale = s.scale * t.scale;
        for (int64_t i = 0; i < s.n; ++i, ++local) {
          float* yt = y + (s.t0 + i) * out;
          const float* ut = u + local * t.rank;
          for (int64_t o = o0; o < o1; ++o) yt[o] += scale * dot_f32(ut, t.b_row(o), t.rank);
        }
      }
    }
  });
}

}  // namespace trellis
