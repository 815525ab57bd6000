#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian packages), builds, and runs
#   1. the whole unit/integration suite (ctest) on a Release build,
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. each libFuzzer target (GGUF, safetensors parsers) for a bounded time.
# Set TRELLIS_SKIP_SANITIZE=1 / TRELLIS_SKIP_FUZZ=1 to leave steps 2 / 3 out locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=$(nproc)
echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j "$JOBS"
if [[ "${TRELLIS_SKIP_SANITIZE:-0}" != 1 ]]; then
  echo "== tests under ASan + UBSan"
  bash scripts/sanitize.sh
fi
if [[ "${TRELLIS_SKIP_FUZZ:-0}" != 1 ]]; then
  echo "== fuzzing"
  # Both targets at once, a core each: the run stays 60 s per target in half the wall time.
  FUZZ_SECONDS=${FUZZ_SECONDS:-60} FUZZ_JOBS=${FUZZ_JOBS:-$JOBS} bash scripts/fuzz.sh
fi
