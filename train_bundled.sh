#!/usr/bin/env bash
# How the bundled models in data/ were trained (CPU, 2 cores; see BENCHMARKS.md for times).
# DATA points at the shared training photos; imagenette/val is never used for training and
# the seeded 10% "test" split of every --data folder is held back: both are the validation
# photos of the README's quality table (see `python -m colorize.data --help` to list them).
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/bundled}
FOLDERS="$DATA/imagenette/train $DATA/faces $DATA/scenes"

python train_simple.py --data $FOLDERS --size 64 --width 0.5 --epochs 40 --batch-size 32 \
    --lr 1e-3 --min-delta 5e-5 --output "$OUT/simple.keras" "$@"
python train_complex.py --data $FOLDERS --size 64 --width 0.25 --middle-blocks 2 --epochs 40 \
    --batch-size 32 --lr 1e-3 --min-delta 1e-3 --output "$OUT/complex.keras" "$@"
# A run cut short (Colab, a closed laptop) continues with the same command plus --resume.
