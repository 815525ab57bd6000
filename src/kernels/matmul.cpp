#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"

namespace trellis {

void dequantize_tensor_row(const TensorView& w, int64_t row, float* out) {
  dequantize_row(w.type, w.row(row), out, w.ne[0]);
}

namespace {

// Rows per work item: small enough that both cores get work on small matrices.
int64_t rows_per_chunk(int64_t rows, int threads) {
  const int64_t target_chunks = static_cast<int64_t>(threads) * 8;
  return std::clamp<int64_t>(rows / target_chunks, 1, 64);
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t in = w.ne[0], out = w.rows();
  const int64_t chunk = rows_per_chunk(out, pool.size());
  const int64_t n_chunks = (out + chunk - 1) / chunk;
  pool.parallel_for(n_chunks, [&](int64_t c, int) {
    thread_local std::vector<float> buf;
    if (static_cast<int64_t>(buf.size()) < in) buf.resize(static_cast<size_t>(in));
    const int64_t r0 = c * chunk, r1 = std::min(out, r0 + chunk);
    for (int64_t r = r0; r < r1; ++r) {
      const float* wr;
      if (w.type == DType::F32) {
        wr = reinterpret_cast<const float*>(w.row(r));
      } else {
        dequantize_row(w.type, w.row(r), buf.data(), in);
        wr = buf.data();
      }
      for (int64_t t = 0; t < n_tokens; ++t) y[t * out + r] = dot_f32(wr, x + t * in, in);
    }
  });
}

void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t in = w.ne[0], out = w.rows();
  std::vector<float> row(static_cast<size_t>(in));
  for (int64_t r = 0; r < out; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), in);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0.0;
      for (int64_t i = 0; i < in; ++i) s += static_cast<double>(row[i]) * x[t * in + i];
      y[t * out + r] = static_cast<float>(s);
    }
  }
}

}  // namespace trellis
