#include "core/tensor.h"

namespace trellis {

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < (n_dims > 0 ? n_dims : 1); ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

}  // namespace trellis
