#!/usr/bin/env bash
# Issue 22's lever table: train each stage of scripts/train_recognition.sh for EPOCHS (default 3) epochs,
# then measure every stage beside the gray baseline and the bundled default on three sets:
#   imagenet_val (LIMIT photos, default 600, seeded; Lite2 semantic top-1 on all and untrained classes),
#   diverse/unseen (600 photos, AuC/colour/false colour) and the scenes' held-out test split.
#
#   nice -n 19 bash scripts/measure_recognition_levers.sh [STAGE...]   (default: balanced neutral recognition vivid)
#
# Resumable like the training script (a finished stage is not trained again). Results: runs/levers/<set>/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
LIMIT=${LIMIT:-600}
export EPOCHS=${EPOCHS:-3}
[ "$#" -gt 0 ] || set -- balanced neutral recognition vivid
for stage in "$@"; do
  start=$(date +%s)
  bash scripts/train_recognition.sh "$stage"
  echo "$stage: trained in $(( $(date +%s) - start )) s (wall, this machine)"
done
models=(--model gan)  # the bundled default
for stage in combined balanced neutral recognition strong vivid l1 l1_recognition; do  # every stage trained so far
  if [ -f "runs/recognition/$stage.keras" ]; then models+=(--model "runs/recognition/$stage.keras"); fi
done
mkdir -p runs/levers
# The scenes of the training runs' own held-out test split (the split is drawn over all training folders).
source scripts/training_folders.sh
python -m colorize.cli.splits --data "${FOLDERS[@]}" --split test --list runs/levers/seen_test.txt
grep '/scenes/' runs/levers/seen_test.txt > runs/levers/scenes_test.txt
set -x
python -m colorize.cli.evaluate "${models[@]}" --data "$DATA/imagenet_val" --limit "$LIMIT" --semantic --rows 24 \
    --json runs/levers/imagenet_val/results.json --figures runs/levers/imagenet_val
python -m colorize.cli.evaluate "${models[@]}" --data "$DATA/diverse/unseen" --limit 600 \
    --json runs/levers/unseen/results.json --figures runs/levers/unseen
python -m colorize.cli.evaluate "${models[@]}" --data runs/levers/scenes_test.txt \
    --json runs/levers/scenes/results.json --figures runs/levers/scenes
