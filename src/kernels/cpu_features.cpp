#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace trellis {
namespace {

Isa probe() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  if (avx512 && avx2) return Isa::Avx512;
  if (avx2) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

Isa from_env(Isa best) {
  const char* v = std::getenv("TRELLIS_ISA");
  if (v == nullptr) return best;
  Isa want = best;
  if (std::strcmp(v, "scalar") == 0) want = Isa::Scalar;
  if (std::strcmp(v, "avx2") == 0) want = Isa::Avx2;
  if (std::strcmp(v, "avx512") == 0) want = Isa::Avx512;
  return want < best ? want : best;
}

std::atomic<int>& current() {
  static std::atomic<int> isa{static_cast<int>(from_env(detected_isa()))};
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa detected_isa() {
  static const Isa best = probe();
  return best;
}

Isa active_isa() { return static_cast<Isa>(current().load(std::memory_order_relaxed)); }

Isa set_isa_override(Isa isa) {
  if (isa > detected_isa()) isa = detected_isa();
  return static_cast<Isa>(current().exchange(static_cast<int>(isa)));
}

}  // namespace trellis
