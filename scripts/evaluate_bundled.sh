#!/usr/bin/env bash
# Measure the bundled models on the held-back validation photos and redraw the README's figures.
#   held back: imagenette/val (never trained on) + the seeded 10% test split of the training folders
# LIMIT (default 1000) photos are drawn, seeded, from the held-back set.
# Writes runs/eval/heldout.json (the README's table) and docs/*.png (figures of redistributable images only).
set -euo pipefail
DATA=${DATA:-../shared/data}
MODELS=colorize/assets/models
SAMPLES=colorize/assets/samples
mkdir -p runs/eval docs
python -m colorize.cli.splits --data "$DATA/imagenette/train" "$DATA/faces" "$DATA/scenes" --split test \
    --list runs/eval/test_split.txt
python -m colorize.cli.evaluate -m $MODELS/simple.keras -m $MODELS/zhang.keras -m $MODELS/unet.keras \
    --data "$DATA/imagenette/val" runs/eval/test_split.txt -t 0.1 0.2 0.38 0.6 1 \
    --limit "${LIMIT:-1000}" --json runs/eval/heldout.json --figures runs/eval "$@"
cp runs/eval/temperature_sweep.png docs/temperature_sweep.png
# The comparison grid of the README uses the bundled public-domain / CC0 samples only.
python -m colorize.cli.evaluate -m $MODELS/simple.keras -m $MODELS/zhang.keras -m $MODELS/unet.keras --data $SAMPLES \
    --rows 3 --json runs/eval/samples.json --figures runs/eval/samples -q
cp runs/eval/samples/comparison.png docs/comparison.png
python -m colorize.cli.plots runs/bundled/simple_noaug_log.csv --output docs/simple_loss.png
python -m colorize.cli.plots runs/bundled/complex_128_log.csv --output docs/complex_loss.png
