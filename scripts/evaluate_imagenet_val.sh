#!/usr/bin/env bash
# Measure colorizers on sharp ImageNet validation photos of 709 classes (594 never trained on), beside
# the gray baseline: AuC, colour ratio, false colour on neutral pixels, and the semantic top-1 of
# EfficientNet-Lite2 (the judge; never in a training loss) on all photos and on the untrained classes.
#
#   bash scripts/evaluate_imagenet_val.sh [MODEL.keras ...]     (from the repository root)
#
# MODEL: default the bundled gan (default) model. LIMIT (default: all 1,262 photos), seeded;
# DATA (default ../shared/data). Writes runs/eval_imagenet_val/{results.json,comparison.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/eval_imagenet_val}
models=()
for model in "${@:-colorize/assets/models/gan.keras}"; do models+=(--model "$model"); done
limit=()
[ -n "${LIMIT:-}" ] && limit=(--limit "$LIMIT")
set -x
python -m colorize.cli.evaluate "${models[@]}" --data "$DATA/imagenet_val" "${limit[@]}" --semantic --rows 24 \
    --json "$OUT/results.json" --figures "$OUT"
