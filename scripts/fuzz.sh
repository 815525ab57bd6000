#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp) with clang, ASan and UBSan into build-fuzz
# and runs each for a bounded time from the seeds in fuzz/corpus/<name>/.
# Exits non-zero if any target finds a crash, leak, timeout or sanitizer report; the
# reproducer is kept under build-fuzz/artifacts/<target>/ (replay: build-fuzz/<target> FILE).
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   space-separated subset, e.g. "fuzz_gguf" (default: all)
#   FUZZ_JOBS      targets run at once (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${FUZZ_JOBS:-1}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed for libFuzzer" >&2; exit 2; }

# The library gets coverage instrumentation too (fuzzer-no-link), not just the targets.
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -gline-tables-only"
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTRELLIS_FUZZ=ON -DTRELLIS_TESTS=OFF -DTRELLIS_BENCH=OFF -DCMAKE_CXX_FLAGS="$SAN" >/dev/null
targets=${FUZZ_TARGETS:-$(cd fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//' | tr '\n' ' ')}
# shellcheck disable=SC2086
cmake --build "$BUILD" -j "$(nproc)" --target $targets

run_target() {
  local t=$1 name=${1#fuzz_}
  local work="$BUILD/corpus/$name" art="$BUILD/artifacts/$t/"
  mkdir -p "$work" "$art"
  local dict=()
  [[ -f fuzz/corpus/$name.dict ]] && dict=(-dict="fuzz/corpus/$name.dict")
  echo "== $t: ${SECS}s" >&2
  # New inputs go to the scratch corpus in $BUILD; the committed seeds stay untouched.
  "$BUILD/$t" "$work" "fuzz/corpus/$name" "${dict[@]}" -max_total_time="$SECS" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len=65536 -timeout=10 -artifact_prefix="$art" -print_final_stats=1 \
    > "$BUILD/$t.log" 2>&1
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
pids=()
names=()
for t in $targets; do
  run_target "$t" &
  pids+=($!)
  names+=("$t")
  if (( ${#pids[@]} >= JOBS )); then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
for t in $targets; do
  grep -E "DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/$t.log" | sed "s/^/$t: /" >&2 || true
done
if (( ${#failed[@]} )); then
  for t in "${failed[@]}"; do
    echo "fuzz.sh: $t FAILED; see $BUILD/$t.log and $BUILD/artifacts/$t/" >&2
    grep -E -m5 "ERROR|runtime error|SUMMARY" "$BUILD/$t.log" >&2 || true
  done
  exit 1
fi
echo "fuzz.sh: all targets ran ${SECS}s without findings" >&2
