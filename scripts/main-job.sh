#!/usr/bin/env bash
# The README's main job, offline: installs dependencies, builds the `trellis` command and
# generates text with a model.
#   - If a real trained model is available (../shared/models/stories260K, or MODEL=path),
#     it is used: greedy output is a coherent little story.
#   - Otherwise the project generates a small random-weight model with its own tooling
#     (`trellis gen-model --byte-vocab`); its output is NOISE, and this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target trellis_cli
TRELLIS=build/bin/trellis

model=${MODEL:-}
if [[ -z "$model" && -f ../shared/models/stories260K/stories260K.gguf ]]; then
  model=../shared/models/stories260K/stories260K.gguf
fi
if [[ -n "$model" ]]; then
  echo "== model: $model"
  "$TRELLIS" inspect "$model" --no-tensors
  echo "== trellis run (greedy)"
  "$TRELLIS" run -m "$model" -p "Once upon a time" -n 120 --temp 0
else
  mkdir -p build/models
  model=build/models/demo-random.gguf
  echo "== no trained model available: generating a random-weight model (its output is noise)"
  "$TRELLIS" gen-model --arch llama --shape tiny --byte-vocab --type Q8_0 --seed 1 -o "$model"
  echo "== trellis run (random weights: the text below is NOISE, not a trained model)"
  "$TRELLIS" run -m "$model" -p "Hello" -n 48 --seed 1 | cat -v
fi
