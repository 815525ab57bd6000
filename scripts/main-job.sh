#!/usr/bin/env bash
# The README's main job, offline: installs dependencies, builds `trellis`, then with the
# project's own demo base model (models/trellis-kjv-3m, pre-trained by Trellis on the King
# James Bible; see its MODEL_CARD.md):
#   1. generates text (greedy),
#   2. fine-tunes a LoRA adapter on a small example dataset (examples/garden: verses whose hero
#      is always "Trellis", who always plants a seed) — a couple of minutes on two cores,
#   3. shows the adapter's effect: the same prompt with and without it, and the held-out NLL.
# MODEL=path uses another base model; OUT=dir keeps the adapter somewhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target trellis_cli
TRELLIS=build/bin/trellis
model=${MODEL:-models/trellis-kjv-3m/model.gguf}
out=${OUT:-build/demo-adapter}
prompt="And he went forth into the field, and"

echo "== base model: $model"
"$TRELLIS" inspect "$model" --no-tensors
echo
echo "== 1. generate (greedy)"
"$TRELLIS" run -m "$model" -p "And God said unto" -n 60 --temp 0
echo
"$TRELLIS" run -m "$model" -p "$prompt" -n 40 --temp 0
echo
echo "== 2. fine-tune a LoRA adapter on examples/garden/train.jsonl"
rm -rf "$out"
start=$SECONDS
"$TRELLIS" train -m "$model" --data examples/garden/train.jsonl --eval-data examples/garden/heldout.txt \
  --ctx 128 --rank 16 --alpha 32 --lr 5e-3 --warmup 10 --steps 150 --eval-every 50 --seed 1 --log-every 25 -o "$out"
echo "(fine-tuning took $((SECONDS - start)) s)"
echo
echo "== 3. the adapter's effect"
echo "-- without the adapter:"
"$TRELLIS" run -m "$model" -p "$prompt" -n 40 --temp 0
echo
echo "-- with the adapter:"
"$TRELLIS" run -m "$model" --lora "$out" -p "$prompt" -n 40 --temp 0
echo
echo "-- held-out garden verses, NLL without / with the adapter:"
"$TRELLIS" eval -m "$model" --text examples/garden/heldout.txt
"$TRELLIS" eval -m "$model" --lora "$out" --text examples/garden/heldout.txt
