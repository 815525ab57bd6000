// An ordered list of (adapter, scale) applied together to one sequence:
// y = W·x + Σᵢ scaleᵢ · adapter_scaleᵢ · Bᵢ(Aᵢ·x). Scales can change between forward calls
// at no cost; key() identifies the adapters and scales, so a KV cache filled under one set
// is never reused under another.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "lora/adapter.h"

namespace trellis {

class AdapterSet {
 public:
  struct Entry {
    std::shared_ptr<const LoraAdapter> adapter;
    float scale = 1.0f;
  };

  // Throws Error when the scale is not finite.
  void add(std::shared_ptr<const LoraAdapter> adapter, float scale = 1.0f);
  void set_scale(size_t i, float scale);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const Entry& operator[](size_t i) const { return entries_[i]; }
  const std::vector<Entry>& entries() const { return entries_; }

  // "<fingerprint hex>@<scale>;..." in order; "" for an empty set (the base alone).
  std::string key() const;

 private:
  std::vector<Entry> entries_;
};

// The KV-cache key of a possibly null set.
inline std::string adapter_set_key(const AdapterSet* set) { return set ? set->key() : std::string(); }

}  // namespace trellis
