#include "lora/tensor_f32.h"

#include "core/error.h"
#include "core/quant.h"

namespace trellis {

std::vector<float> tensor_to_f32(const TensorView& t, const std::string& file) {
  if (!can_dequantize(t.type) || t.type == DType::Q8_K) {
    fail(file, ": tensor '", t.name, "' has type ", dtype_name(t.type), " (expected F32, F16, BF16 or a GGUF block type)");
  }
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.type, t.row(r), out.data() + r * t.ne[0], t.ne[0]);
  return out;
}

}  // namespace trellis
