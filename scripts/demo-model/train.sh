#!/usr/bin/env bash
# Pre-trains the project's demo base model from scratch on the King James Bible with
# Trellis's own tools only: `trellis vocab` (a 4096-token byte-level BPE vocabulary),
# `trellis gen-model` (a random llama-architecture model carrying that vocabulary) and
# `trellis train --full` (every weight trained). See models/trellis-kjv-3m/MODEL_CARD.md.
#
#   bash scripts/demo-model/train.sh WORK_DIR [extra trellis train options, e.g. --resume]
#
# Needs a built trellis (build/bin/trellis) and apt access for the corpus. The result is
# WORK_DIR/run/model.gguf (F16); copy it to models/trellis-kjv-3m/ to update the committed one.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:?usage: train.sh WORK_DIR [train options]}
shift
trellis=build/bin/trellis
mkdir -p "$work"
[[ -f "$work/corpus/kjv.txt" ]] || bash scripts/demo-model/make-corpus.sh "$work/corpus"
# Every 50th verse is held out for evaluation.
awk 'NR % 50 != 0' "$work/corpus/kjv.txt" > "$work/train.txt"
awk 'NR % 50 == 0' "$work/corpus/kjv.txt" > "$work/eval.txt"
[[ -f "$work/vocab.gguf" ]] || "$trellis" vocab -i "$work/train.txt" --size 4096 -o "$work/vocab.gguf"
[[ -f "$work/init.gguf" ]] || "$trellis" gen-model --shape custom --arch llama --dim 192 --layers 6 --heads 6 \
  --kv-heads 3 --ff 512 --vocab 4096 --ctx 256 --tokenizer-from "$work/vocab.gguf" --type F32 --seed 1 \
  --std 0.02 -o "$work/init.gguf"
"$trellis" train --full -m "$work/init.gguf" --data "$work/train.txt" --eval-data "$work/eval.txt" \
  --ctx 256 --micro-batch 4 --epochs 1 --lr 2e-3 --warmup 30 --min-lr-ratio 0.1 --weight-decay 0.1 \
  --clip 1.0 --seed 1 --eval-every 200 --save-every 50 --save-type F16 --name "Trellis KJV 3M" \
  -o "$work/run" "$@"
