#!/usr/bin/env bash
# How the bundled models in data/ were trained (CPU, 2 cores; see BENCHMARKS.md for times).
# DATA points at the shared training photos. imagenette/val is never used for training and the
# seeded 10% "test" split of every --data folder is held back: together they are the validation
# photos of the README's quality table (scripts/evaluate_bundled.sh).
# Both runs were stopped by the session's time limit, not by early stopping; the same
# commands with --resume continue them from the last finished epoch.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/bundled}
FOLDERS="$DATA/imagenette/train $DATA/faces $DATA/scenes"

python train_simple.py --data $FOLDERS --size 64 --width 0.5 --epochs 40 --batch-size 32 \
    --lr 1e-3 --min-delta 5e-5 --output "$OUT/simple.keras" "$@" &
python train_complex.py --data $FOLDERS --size 64 --width 0.25 --middle-blocks 2 --epochs 40 \
    --batch-size 32 --lr 1e-3 --min-delta 1e-3 --output "$OUT/complex.keras" "$@" &
wait

# Ship the best checkpoints without their optimizer state (3x smaller), with their settings
# (the CLI reads the training size from NAME_settings.json as the default working size).
for kind in simple complex; do
    python -c "import colorize, sys; from colorize.training import export_for_inference as e; e(sys.argv[1], sys.argv[2])" \
        "$OUT/$kind.keras" "data/$kind.keras"
    cp "$OUT/${kind}_settings.json" "data/${kind}_settings.json"
done
