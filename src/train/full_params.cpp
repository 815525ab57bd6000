#include "train/full_params.h"

#include <algorithm>

#include "core/error.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "model/convert.h"
#include "model/model.h"

namespace trellis {

FullParams::FullParams(const Model& model, ThreadPool& pool) {
  int64_t total = 0;
  for (const TensorView* t : model.all_tensors()) {
    if (by_data_.count(t->data)) continue;  // tied: already has an entry
    Entry e;
    e.source = t;
    e.view = *t;
    e.view.type = DType::F32;
    e.view.nbytes = static_cast<size_t>(t->n_elements()) * sizeof(float);
    e.offset = total;
    total += t->n_elements();
    by_data_[t->data] = entries_.size();
    entries_.push_back(e);
  }
  values.assign(static_cast<size_t>(total), 0.0f);
  grads.assign(static_cast<size_t>(total), 0.0f);
  for (const Entry& e : entries_) {
    const TensorView* t = e.source;
    float* dst = values.data() + e.offset;
    const int64_t rows = t->rows(), cols = t->ne[0];
    pool.parallel_for(rows, [&](int64_t r, int) { dequantize_row(t->type, t->row(r), dst + r * cols, cols); });
  }
  for (Entry& e : entries_) e.view.data = reinterpret_cast<const uint8_t*>(values.data() + e.offset);
}

const FullParams::Entry* FullParams::find(const TensorView& t) const {
  if (!t.valid()) return nullptr;
  const auto it = by_data_.find(t.data);
  return it == by_data_.end() ? nullptr : &entries_[it->second];
}

const TensorView& FullParams::view(const TensorView& model_tensor) const {
  const Entry* e = find(model_tensor);
  return e ? e->view : model_tensor;
}

float* FullParams::grad(const TensorView& model_tensor) {
  const Entry* e = find(model_tensor);
  return e ? grads.data() + e->offset : nullptr;
}

void FullParams::zero_grads() { std::fill(grads.begin(), grads.end(), 0.0f); }

std::vector<std::string> FullParams::write_gguf(const Model& base, const std::string& path, const std::string& type,
                            const std::string& name, ThreadPool& pool) const {
  std::vector<bool> used(entries_.size(), false);
  const TensorSubstitute trained = [&](const TensorView& t) -> const TensorView& {
    const Entry* e = find(t);
    if (!e) return t;
    used[static_cast<size_t>(e - entries_.data())] = true;
    return e->view;
  };
  ConvertPlan plan = plan_conversion(base, parse_quant_scheme(type), trained);
  for (size_t i = 0; i < entries_.size(); ++i) {
    // A tensor the converter reads from elsewhere (e.g. a norm the model keeps as an F32
    // copy) would silently be written untrained.
    if (!used[i]) fail("cannot write the trained model: tensor ", entries_[i].view.name, " has no place in the output");
  }
  if (!name.empty()) plan.metadata.set_string("general.name", name);
  write_plan(plan, path, pool);
  return plan.warnings;
}

}  // namespace trellis
