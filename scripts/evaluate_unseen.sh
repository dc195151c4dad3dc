#!/usr/bin/env bash
# Measure colorizers on classes they never saw and on held-out photos of classes they did, with
# semantic interpretability (--semantic: ImageNet top-1/top-5 of EfficientNet-Lite2 on the outputs).
#
#   bash scripts/evaluate_unseen.sh [MODEL.keras ...]     (from the repository root)
#
# MODEL: default the bundled simple, zhang and unet models.
#   unseen: $DATA/diverse/unseen/ (whole classes kept out of training)  -> runs/eval_unseen/
#   seen:   the seeded 10% test split of the training folders            -> runs/eval_seen/
#           (imagenette train+val, scenes, faces, diverse/train; the list is runs/seen_test.txt)
# Each folder gets results.json, comparison.png and temperature_sweep.png.
# LIMIT (default 1000) photos are drawn, seeded, from each set; DATA (default ../shared/data);
# TEMPERATURES (default: each model's own, stored in its file) are the classifiers' annealed-mean temperatures.
# Only photos in ImageNet-class folders (n01440764, tiny_imagenet__n01443537) count for the semantic columns.
set -euo pipefail
DATA=${DATA:-../shared/data}
LIMIT=${LIMIT:-1000}
TEMPERATURES=${TEMPERATURES:-}

run() {  # print the command, then run it
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    "$@"
}

if [ "$#" -gt 0 ]; then
    models=("$@")
else
    models=()
    for name in simple zhang unet; do
        models+=("$(python -c "from colorize.models.presets import bundled_model; print(bundled_model('$name'))")")
    done
fi
model_args=()
for model in "${models[@]}"; do
    model_args+=(-m "$model")
done
temperature_args=()
if [ -n "$TEMPERATURES" ]; then
    # shellcheck disable=SC2206  # TEMPERATURES is a space-separated list on purpose
    temperature_args=(-t $TEMPERATURES)
fi

mkdir -p runs/eval_unseen runs/eval_seen
run python -m colorize.cli.evaluate "${model_args[@]}" --data "$DATA/diverse/unseen" \
    "${temperature_args[@]}" --limit "$LIMIT" --semantic \
    --json runs/eval_unseen/results.json --figures runs/eval_unseen
run python -m colorize.cli.splits --data "$DATA/imagenette/train" "$DATA/imagenette/val" "$DATA/scenes" "$DATA/faces" \
    "$DATA/diverse/train" --split test --list runs/seen_test.txt
run python -m colorize.cli.evaluate "${model_args[@]}" --data runs/seen_test.txt \
    "${temperature_args[@]}" --limit "$LIMIT" --semantic \
    --json runs/eval_seen/results.json --figures runs/eval_seen
