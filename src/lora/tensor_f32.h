// Reading adapter tensors (F32, F16, BF16, or a GGUF block type) into F32.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace trellis {

// Throws Error("<file>: tensor '<name>' ...") for a type that cannot be read.
std::vector<float> tensor_to_f32(const TensorView& t, const std::string& file);

}  // namespace trellis
