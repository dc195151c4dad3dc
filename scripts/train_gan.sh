#!/usr/bin/env bash
# The GAN family (issue 12) on the shared photos (diverse/train only; diverse/unseen stays for
# validation), as it was run on the 2-core CPU: an L1-only generator first, then the GAN started from
# it, and as a control the same epochs from it on L1 alone, so that what the adversarial term does is
# seen apart from more training (evaluated on unseen classes at the end). Each stage is resumable:
# re-run the script after an interruption (a stage with a backup folder resumes, a finished one is
# skipped).
#
#   bash scripts/train_gan.sh [STAGE...]     # stages: l1 gan l1_more evaluate (default: all four)
#
# DATA (default ../shared/data) holds the photos; outputs go under runs/gan/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=runs/gan
LIMIT=${LIMIT:-300}
mkdir -p "$OUT"
[ -d "$DATA/diverse/train" ] || { echo "no training photos at $DATA/diverse/train" >&2; exit 2; }

run() {  # run NAME ARGS...: train, or resume when an interrupted run of NAME exists
  local name=$1; shift
  local output="$OUT/$name.keras"
  if [ -d "$output.backup" ]; then
    echo "+ python -m colorize.cli.train gan ... --output $output --resume"
    python -m colorize.cli.train gan "$@" --data "$DATA/diverse/train" --output "$output" --resume
  elif [ -f "$output" ]; then
    echo "$name: finished already ($output)"
  else
    echo "+ python -m colorize.cli.train gan $* --output $output"
    python -m colorize.cli.train gan "$@" --data "$DATA/diverse/train" --output "$output"
  fi
}

# Generator: the unet family's regression network (decoder width 0.5) on frozen EfficientNet-Lite0
# features, at 128 px, batch 32.
GENERATOR=(--backbone efficientnet_lite0 --width 0.5 --size 128 --batch-size 32)
# The second phase, from the L1-only model: pix2pix's Adam (2e-4, beta_1 0.5), best epoch by validation L1.
PHASE2=(--init "$OUT/l1.keras" --l1-weight 100 --epochs 5 --patience 5 --lr 2e-4 --min-delta 0.0005)

STAGES=("$@")
[ "${#STAGES[@]}" -gt 0 ] || STAGES=(l1 gan l1_more evaluate)
for stage in "${STAGES[@]}"; do
  case $stage in
    # The L1-only starting point (pix2pix's generator without its discriminator).
    l1) run l1 "${GENERATOR[@]}" --gan-weight 0 --epochs 8 --patience 3 --lr 1e-3 --min-delta 0.0005 ;;
    # The GAN from it: adversarial + 100 x L1.
    gan) run gan "${GENERATOR[@]}" "${PHASE2[@]}" --gan-weight 1 ;;
    # The control: the same phase on L1 alone.
    l1_more) run l1_more "${GENERATOR[@]}" "${PHASE2[@]}" --gan-weight 0 ;;
    # Gray vs L1-only vs GAN on unseen classes: AuC, colourfulness ratio, semantic top-1, comparison grid.
    evaluate) python -m colorize.cli.evaluate -m "$OUT/l1.keras" -m "$OUT/l1_more.keras" -m "$OUT/gan.keras" \
                --data "$DATA/diverse/unseen" \
                --limit "$LIMIT" --semantic --json "$OUT/unseen.json" --figures "$OUT/figures" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
