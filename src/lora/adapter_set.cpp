#include "lora/adapter_set.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace trellis {

void AdapterSet::add(std::shared_ptr<const LoraAdapter> adapter, float scale) {
  if (!adapter) fail("adapter set: null adapter");
  if (!std::isfinite(scale)) fail(adapter->meta().path, ": adapter scale must be finite");
  entries_.push_back({std::move(adapter), scale});
}

void AdapterSet::set_scale(size_t i, float scale) {
  if (i >= entries_.size()) fail("adapter set: no adapter #", i);
  if (!std::isfinite(scale)) fail(entries_[i].adapter->meta().path, ": adapter scale must be finite");
  entries_[i].scale = scale;
}

std::string AdapterSet::key() const {
  std::string k;
  char buf[64];
  for (const Entry& e : entries_) {
    if (e.scale == 0.0f) continue;  // a zero-scaled adapter changes nothing
    std::snprintf(buf, sizeof buf, "%016llx@%.9g;", static_cast<unsigned long long>(e.adapter->fingerprint()),
                  static_cast<double>(e.scale));
    k += buf;
  }
  return k;
}

}  // namespace trellis
