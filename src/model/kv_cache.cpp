#include "model/kv_cache.h"

#include <sys/mman.h>

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/ops.h"

namespace trellis {

KVCache::KVCache(const Hparams& hp, int64_t n_ctx, DType type)
    : n_layer_(hp.n_layer), n_ctx_(n_ctx), head_dim_(hp.head_dim), n_head_kv_(hp.n_head_kv), type_(type) {
  if (n_ctx <= 0) fail("context size must be positive, got ", n_ctx);
  if (type != DType::F32 && type != DType::F16) fail("KV cache type must be F32 or F16, got ", dtype_name(type));
  const int64_t elems = n_layer_ * 2 * n_ctx_ * kv_dim();
  if (elems > (int64_t(1) << 36)) fail("KV cache of ", n_ctx, " positions is too large");
  n_slots_ = static_cast<size_t>(elems) * (type == DType::F32 ? 2 : 1);
  const size_t bytes = n_slots_ * sizeof(uint16_t);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate a KV cache of ", bytes >> 20, " MiB");
  madvise(p, bytes, MADV_HUGEPAGE);  // advice only: the cache works without huge pages
  storage_ = std::unique_ptr<uint16_t, Unmap>(static_cast<uint16_t*>(p), Unmap{bytes});
}

void KVCache::Unmap::operator()(uint16_t* p) const { munmap(p, bytes); }

const void* KVCache::row(size_t elem_offset) const {
  return type_ == DType::F32 ? static_cast<const void*>(reinterpret_cast<const float*>(storage_.get()) + elem_offset)
                             : static_cast<const void*>(storage_.get() + elem_offset);
}

void KVCache::put(int64_t layer, int64_t pos, bool value, const float* src) {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    const size_t off = offset(layer, value, h, pos);
    const float* s = src + h * head_dim_;
    if (type_ == DType::F32) {
      std::memcpy(reinterpret_cast<float*>(storage_.get()) + off, s, static_cast<size_t>(head_dim_) * sizeof(float));
    } else {
      to_f16(s, storage_.get() + off, head_dim_);
    }
  }
}

void KVCache::get(int64_t layer, int64_t pos, bool value, float* dst) const {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    const size_t off = offset(layer, value, h, pos);
    float* d = dst + h * head_dim_;
    if (type_ == DType::F32) {
      std::memcpy(d, reinterpret_cast<const float*>(storage_.get()) + off, static_cast<size_t>(head_dim_) * sizeof(float));
    } else {
      const uint16_t* src = storage_.get() + off;
      for (int64_t i = 0; i < head_dim_; ++i) d[i] = fp16_to_fp32(src[i]);
    }
  }
}

void KVCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  put(layer, pos, false, k);
  put(layer, pos, true, v);
}

void KVCache::load_k(int64_t layer, int64_t pos, float* out) const { get(layer, pos, false, out); }
void KVCache::load_v(int64_t layer, int64_t pos, float* out) const { get(layer, pos, true, out); }

}  // namespace trellis
