// Training attention kernels compiled with AVX2 + FMA (see attention_kernel.h).
#include "train/attention_kernel.h"

namespace trellis::attention_detail {

void attend_one_avx2(const float* q, const float* k, const float* v, int64_t j0, int64_t t, int64_t kv_stride,
                     int64_t hd, float scale, std::vector<float>& scores, float* out, float* lse) {
  attend_one(q, k, v, j0, t, kv_stride, hd, scale, scores, out, lse);
}

void attention_backward_head_avx2(const float* dout, const float* q, const float* k, const float* v, const float* out,
                                  const float* lse, const int32_t* seg_start, const AttentionShape& s, int64_t h,
                                  float* dq, float* dkh, float* dvh) {
  attention_backward_head(dout, q, k, v, out, lse, seg_start, s, h, dq, dkh, dvh);
}

}  // namespace trellis::attention_detail
