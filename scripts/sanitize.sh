#!/usr/bin/env bash
# Builds the library and CLI with AddressSanitizer + UndefinedBehaviorSanitizer, and the unit
# tests (plain, linked with the sanitizer runtime) against them, into build-asan,
# and runs them (CI entry point), with gcc unless CC/CXX say otherwise.
#   TRELLIS_TEST_FILTER   gtest filter, e.g. 'Gguf*:Safetensors*' (runs trellis_tests
#                         directly instead of ctest)
#   SANITIZE_BUILD_DIR    build directory (default build-asan)
#   JOBS                  parallel build/test jobs (default: number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SANITIZE_BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
# The same compiler as the main build (gcc); -O1 compiles quickly and keeps the tests fast
# enough under ASan; line tables give readable reports.
export CC=${CC:-gcc} CXX=${CXX:-g++}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=None -DTRELLIS_SANITIZE=ON -DTRELLIS_TESTS=ON \
  -DTRELLIS_BENCH=OFF -DTRELLIS_FUZZ=OFF -DCMAKE_CXX_FLAGS="-O1 -g1" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target trellis_tests

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [[ -n "${TRELLIS_TEST_FILTER:-}" ]]; then
  "$BUILD/trellis_tests" --gtest_filter="$TRELLIS_TEST_FILTER"
else
  ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"
fi
