#!/usr/bin/env bash
# Iizuka et al.'s global + local network (family iizuka) on diverse/train, with and without the joint
# classification loss (same epochs, seed and data), as it was run on the 2-core CPU (~20 min a stage).
# Each stage is resumable: re-run the script after an interruption (a stage whose backup folder
# exists is resumed with --resume; a finished one is skipped).
#
#   bash scripts/train_iizuka.sh [STAGE...]     # stages: joint, plain (default: both), evaluate
#
# DATA (default ../shared/data) holds the photos; outputs go under runs/iizuka/ (git-ignored).
# Class labels are the photos' folder names (252 classes in diverse/train).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=runs/iizuka
EPOCHS=${EPOCHS:-12}
mkdir -p "$OUT"
COMMON=(--data "$DATA/diverse/train" --size 64 --global-size 64 --width 0.25 --epochs "$EPOCHS" --patience 20
        --lr 1e-3 --batch-size 32 --min-delta 0.0001 --seed 0)

run() {  # run NAME ARGS...: train, or resume when an interrupted run of NAME exists
  local name=$1; shift
  local output="$OUT/$name.keras"
  if [ -d "$output.backup" ]; then
    echo "+ python -m colorize.cli.train iizuka ... --output $output --resume"
    python -m colorize.cli.train iizuka "$@" "${COMMON[@]}" --output "$output" --resume
  elif [ -f "$output" ]; then
    echo "$name: finished already ($output)"
  else
    echo "+ python -m colorize.cli.train iizuka $* ${COMMON[*]} --output $output"
    python -m colorize.cli.train iizuka "$@" "${COMMON[@]}" --output "$output"
  fi
}

for stage in "${@:-joint plain}"; do
  for name in $stage; do
    case $name in
      # The paper's joint loss: ab MSE + 1/300 x cross-entropy over the photo's folder (class).
      joint) run joint --class-weight 0.0033333 ;;
      # The same network and epochs on the ab MSE alone.
      plain) run plain --no-classification ;;
      # Both on 300 unseen-class photos and 300 held-out photos of the training classes (the runs' test split),
      # AuC / colourfulness / semantic top-1; then bilinear vs guided upsampling at working size 64 (the photos'
      # short side is 128-192 px: 2-3x the working size; the ab grid is 1/2 of it for iizuka, 1/4 for the
      # bundled U-Net), with the bundled default model beside them.
      evaluate)
        python -m colorize.cli.splits --data "$DATA/diverse/train" --split test --list "$OUT/seen_test.txt"
        for where in unseen seen; do
          data="$DATA/diverse/unseen"; [ "$where" = seen ] && data="$OUT/seen_test.txt"
          python -m colorize.cli.evaluate -m "$OUT/joint.keras" -m "$OUT/plain.keras" --data "$data" --limit 300 \
            --semantic --json "$OUT/eval_$where.json" --figures "$OUT/figures_$where" -q
        done
        for method in bilinear guided; do
          python -m colorize.cli.evaluate -m "$OUT/joint.keras" -m "$OUT/plain.keras" -m colorize/assets/models/unet.keras \
            --data "$DATA/diverse/unseen" --limit 300 --size 64 --upsample "$method" --json "$OUT/upsample_$method.json" -q
        done ;;
      *) echo "unknown stage $name" >&2; exit 2 ;;
    esac
  done
done
