// Keys and values of one sequence for every layer, in F32 or F16.
// Layout per layer: K then V, each [n_head_kv][n_ctx][head_dim]: every KV head's rows are one
// contiguous run, so attention reads each head as a single stream the prefetchers follow
// (with the heads side by side in one row per position, decode attention at depth 2048 took
// ~20% longer in bench_attention).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"
#include "kernels/attention.h"
#include "model/hparams.h"

namespace trellis {

class KVCache {
 public:
  // Throws Error when n_ctx is not positive or type is neither F32 nor F16.
  KVCache(const Hparams& hp, int64_t n_ctx, DType type = DType::F32);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t length() const { return length_; }   // positions filled
  DType type() const { return type_; }
  int64_t kv_dim() const { return n_head_kv_ * head_dim_; }
  size_t bytes() const { return n_slots_ * sizeof(uint16_t); }

  void clear() { length_ = 0; }
  // Drops positions >= n (keeps a shared prefix).
  void truncate(int64_t n) { if (n < length_) length_ = n < 0 ? 0 : n; }
  void set_length(int64_t n) { length_ = n; }

  // Stores kv_dim floats of K (or V) for `layer` at `pos`.
  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  // Reads kv_dim floats back (converting from F16 when needed) — used by references and tests.
  void load_k(int64_t layer, int64_t pos, float* out) const;
  void load_v(int64_t layer, int64_t pos, float* out) const;
  // The layer as the attention kernels read it (F32 or F16 rows, head-major).
  KVLayerView layer_view(int64_t layer) const {
    return {row(offset(layer, false, 0, 0)), row(offset(layer, true, 0, 0)), head_dim_, type_, n_ctx_ * head_dim_};
  }

  // Identifies the adapter set (and scales) that produced the cached values; a cache built
  // under one set must not be reused under another.
  const std::string& adapter_key() const { return adapter_key_; }
  void set_adapter_key(const std::string& key) { adapter_key_ = key; }

 private:
  // Element offset of head `head`'s row at `pos`, of K or (value) of V, the layer's second half.
  size_t offset(int64_t layer, bool value, int64_t head, int64_t pos) const {
    return static_cast<size_t>(((layer * 2 + (value ? 1 : 0)) * n_ctx_ * n_head_kv_ + head * n_ctx_ + pos) * head_dim_);
  }
  const void* row(size_t elem_offset) const;
  // One position's kv_dim values, scattered to (or gathered from) the heads' rows.
  void put(int64_t layer, int64_t pos, bool value, const float* src);
  void get(int64_t layer, int64_t pos, bool value, float* dst) const;

  int64_t n_layer_, n_ctx_, head_dim_, n_head_kv_;
  DType type_;
  int64_t length_ = 0;
  // An anonymous mapping (zero pages, touched as positions fill) with transparent huge pages
  // asked for: attention walks the whole cache every token, and 4 KiB pages cost a TLB miss
  // every 8 positions. F32 values take two slots each.
  struct Unmap {
    size_t bytes;  // no default member initializer: it would hide the default constructor here
    void operator()(uint16_t* p) const;
  };
  size_t n_slots_ = 0;
  std::unique_ptr<uint16_t, Unmap> storage_;
  std::string adapter_key_;
};

}  // namespace trellis
