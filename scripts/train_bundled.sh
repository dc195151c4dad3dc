#!/usr/bin/env bash
# How the bundled models (colorize/assets/models/, data/ at the time) were trained: on this project's 2-core CPU, both models in
# parallel, two stages each (see BENCHMARKS.md for the times). DATA points at the shared
# training photos. imagenette/val is never used for training and the seeded 10% "test" split
# of every --data folder is held back: together they are the validation photos of the
# README's quality table (scripts/evaluate_bundled.sh).
#
# Stages 1 and 2 were stopped by the session's time budget where noted (the best checkpoint by
# validation loss is what ships); `--resume` on the same command continues a stopped stage.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/bundled}
FOLDERS="$DATA/imagenette/train $DATA/faces $DATA/scenes"
COMMON="--data $FOLDERS --size 64 --batch-size 32 --epochs 40"

# Stage 1 (both in parallel, about 4 minutes an epoch each on 2 cores).
#  simple: early-stopped after 17 epochs (val loss had not improved by 1e-3 for 7 epochs).
#  complex: class-rebalanced (lambda 0.5); stopped by time after 14 epochs. Colourful (colour
#  ratio 0.83) but below the gray baseline's AuC: rare colours are over-predicted.
python train_simple.py $COMMON --width 0.5 --lr 1e-3 --min-delta 1e-3 --output "$OUT/simple_stage1.keras" &
python train_complex.py $COMMON --width 0.25 --middle-blocks 2 --lr 1e-3 --lam 0.5 \
    --output "$OUT/complex_rebal05.keras" &
wait

# Stage 2: fine-tune at a lower learning rate. For the classifier, lambda 0.8 (milder
# rebalancing) trades some of the colour for accuracy; --plain-ce (lambda 1) was tried too and
# gave the best AuC but sepia output (colour ratio 0.27), see the README's quality section.
python train_simple.py $COMMON --width 0.5 --lr 3e-4 --min-delta 5e-5 \
    --init "$OUT/simple_stage1.keras" --output "$OUT/simple_ft.keras" &
python train_complex.py $COMMON --width 0.25 --middle-blocks 2 --lr 3e-4 --lam 0.8 \
    --init "$OUT/complex_rebal05.keras" --output "$OUT/complex_lam08_ft.keras" &
wait

# Stage 3 (session 3).
#  simple: one more fine-tune at 64 px WITHOUT augmentation (the photos it colorizes are whole,
#  unrotated photos) at lr 1e-4; best validation loss after 2 epochs (0.01375 vs 0.01390), stopped
#  by hand after epoch 4 as it began to overfit. A fine-tune at 128 px was tried first and did not
#  help the simple model (validation loss rose for 3 epochs; its receptive field, about 61 px,
#  sees the whole photo only at 64).
#  complex: fine-tuned at 128 px (the networks are fully convolutional, so the 64 px weights
#  carry over): finer colour detail, higher AuC than at 64, and 4x the network work per photo.
#  Its settings record size 128, which becomes the CLI's default working size.
python train_simple.py $COMMON --width 0.5 --lr 1e-4 --min-delta 1e-5 --no-augment --epochs 6 \
    --init "$OUT/simple_ft.keras" --output "$OUT/simple_noaug.keras" &
python train_complex.py --data $FOLDERS --size 128 --batch-size 32 --epochs 24 --width 0.25 --middle-blocks 2 \
    --lr 3e-4 --lam 0.8 --init "$OUT/complex_lam08_ft.keras" --output "$OUT/complex_128.keras" &
wait

# Stage 4 (session 4). complex: like the simple model's stage 3, a fine-tune at 128 px WITHOUT
#  augmentation at lr 1e-4 from the best 128 px checkpoint (the 19th epoch, validation loss 3.0923):
#  best validation loss 3.0686 after 2 of 6 epochs (about 2.6 minutes an epoch alone on the CPU),
#  AuC 0.9010 vs 0.9002 on 300 held-back photos at colourfulness ratio 0.80.
python train_complex.py --data $FOLDERS --size 128 --batch-size 32 --epochs 6 --width 0.25 --middle-blocks 2 \
    --lr 1e-4 --min-delta 1e-4 --lam 0.8 --no-augment --init "$OUT/complex_128.keras" \
    --output "$OUT/complex_noaug.keras"

# Ship the best checkpoints as self-describing colorizers (no optimizer state; the training size
# inside the file). Runs of the earlier format are converted from their settings file beside them.
for pair in simple:simple_noaug zhang:complex_noaug; do
    kind=${pair%%:*} run=${pair##*:}
    python -m colorize.cli.export "$OUT/$run.keras" "colorize/assets/models/$kind.keras" --overwrite
    cp "$OUT/${run}_settings.json" "scripts/bundled/${kind}_settings.json"
done
