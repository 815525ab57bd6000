// Run-time instruction-set selection. Kernels for each ISA live in their own file
// (*_avx2.cpp, *_avx512.cpp) and are only ever reached through the table chosen here.
#pragma once

namespace trellis {

// Ordered: a higher level implies every lower one is usable on the machine.
enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);

// The best level this CPU supports (AVX2 needs AVX2+FMA+F16C; AVX-512 needs F, BW, VL, DQ,
// VNNI and BF16, which is what the *_avx512.cpp files are compiled for).
Isa detected_isa();

// The level kernels use: detected_isa(), lowered by TRELLIS_ISA=scalar|avx2|avx512 (read once;
// a request above what the CPU has is ignored) or by set_isa_override.
Isa active_isa();

// For tests and benchmarks: force a level (clamped to detected_isa()); returns the previous one.
Isa set_isa_override(Isa isa);

}  // namespace trellis
