#include "lora/qk_permute.h"

#include <cstring>
#include <vector>

namespace trellis {

int64_t qk_source_row(int64_t row, int64_t head_dim, RopeStyle from, RopeStyle to) {
  if (from == to) return row;
  const int64_t head = row / head_dim, r = row % head_dim, half = head_dim / 2;
  if (to == RopeStyle::Interleaved) {  // dst 2i + j  <-  src j*half + i
    return head * head_dim + (r % 2) * half + r / 2;
  }
  return head * head_dim + 2 * (r % half) + r / half;  // dst j*half + i  <-  src 2i + j
}

void permute_qk_rows(float* rows, int64_t n_heads, int64_t head_dim, int64_t row_len, RopeStyle from,
                     RopeStyle to) {
  if (from == to) return;
  const int64_t n_rows = n_heads * head_dim;
  std::vector<float> src(rows, rows + n_rows * row_len);
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t s = qk_source_row(r, head_dim, from, to);
    std::memcpy(rows + r * row_len, src.data() + s * row_len, static_cast<size_t>(row_len) * sizeof(float));
  }
}

}  // namespace trellis
