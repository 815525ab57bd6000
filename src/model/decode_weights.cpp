#include "model/decode_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/interleave.h"

namespace trellis {
namespace {

constexpr size_t kAlign = 4096;            // each copy starts on a page
constexpr size_t kReleaseBytes = 4 << 20;  // source bytes consumed between page releases

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Drops the whole pages of [begin, end) from this process's page tables. The file mapping is
// read-only, so nothing is lost: a later read faults the page back in from the page cache.
void release_pages(const uint8_t* begin, const uint8_t* end) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t e = reinterpret_cast<uintptr_t>(end) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);  // advice: failure only costs memory
}

// Copies one matrix group by group, releasing the consumed source pages every kReleaseBytes.
void interleave_matrix(const TensorView& w, uint8_t* dst) {
  const int64_t n = w.ne[0], rows = w.rows();
  const size_t group_bytes = interleaved_group_bytes(w.type, n);
  const size_t source_group_bytes = w.row_stride() * kInterleaveRows;
  const uint8_t* released = w.data;
  for (int64_t g = 0; g * kInterleaveRows < rows; ++g) {
    interleave_group(w.type, w.data, rows, n, g, dst + static_cast<size_t>(g) * group_bytes);
    const uint8_t* consumed = w.data + std::min(w.nbytes, static_cast<size_t>(g + 1) * source_group_bytes);
    if (static_cast<size_t>(consumed - released) >= kReleaseBytes || consumed == w.data + w.nbytes) {
      release_pages(released, consumed);
      released = consumed;
    }
  }
}

// The same for a plain copy, kReleaseBytes at a time.
void copy_matrix(const TensorView& w, uint8_t* dst) {
  for (size_t off = 0; off < w.nbytes; off += kReleaseBytes) {
    const size_t len = std::min(kReleaseBytes, w.nbytes - off);
    std::memcpy(dst + off, w.data + off, len);
    release_pages(w.data + off, w.data + off + len);
  }
}

// Where one source's copy lives in the mapping, and in which layout.
struct Placement {
  size_t offset;
  bool interleaved;
};

}  // namespace

DecodeWeights::DecodeWeights(std::span<TensorView* const> tensors, Isa isa) {
  // One copy per distinct source (tied embeddings share theirs), at its offset in the mapping.
  std::map<const uint8_t*, Placement> placement_of;
  std::vector<const TensorView*> sources;
  for (TensorView* t : tensors) {
    if (!t->valid() || placement_of.count(t->data)) continue;
    const bool interleave = interleave_preferred(t->type, t->ne[0], isa);
    const size_t size = interleave ? trellis::interleaved_bytes(t->type, t->rows(), t->ne[0]) : t->nbytes;
    placement_of[t->data] = {bytes_, interleave};
    sources.push_back(t);
    bytes_ += round_up(size, kAlign);
    if (interleave) interleaved_bytes_ += size;
  }
  if (bytes_ == 0) return;
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate ", bytes_ >> 20, " MiB for the decode copies of the weights");
  madvise(p, bytes_, MADV_HUGEPAGE);  // advice only
  base_ = static_cast<uint8_t*>(p);
  // Matrices spread over the cores, largest first so no thread is left with a big one at the
  // end (the copy is memory bound; two cores still nearly halve it).
  std::sort(sources.begin(), sources.end(), [](const TensorView* a, const TensorView* b) { return a->nbytes > b->nbytes; });
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < sources.size();) {
      const Placement& at = placement_of.at(sources[i]->data);
      if (at.interleaved) interleave_matrix(*sources[i], base_ + at.offset);
      else copy_matrix(*sources[i], base_ + at.offset);
    }
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < std::min<int>(available_cores(), static_cast<int>(sources.size())); ++t) helpers.emplace_back(worker);
  worker();
  for (std::thread& h : helpers) h.join();
  mprotect(base_, bytes_, PROT_READ);  // immutable from here on, like the file's weights
  for (TensorView* t : tensors) {
    const auto it = placement_of.find(t->data);
    if (it == placement_of.end()) continue;
    if (it->second.interleaved) t->interleaved = base_ + it->second.offset;
    else t->data = base_ + it->second.offset;
  }
}

DecodeWeights::~DecodeWeights() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

}  // namespace trellis
