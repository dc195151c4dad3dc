#!/usr/bin/env bash
# Issue 22's recipe: fine-tune the bundled default (the GAN generator, gan.keras) so that its colours help
# an ImageNet classifier recognise the photo instead of misleading it. Each lever is a stage of its own, so
# each can be measured alone, then combined. Every stage starts from the bundled gan.keras, is resumable
# (re-run the same line; the script passes --resume when the stage's backup folder exists) and writes
# under runs/recognition/ (git-ignored). Run it at low priority: nice -n 19 bash scripts/train_recognition.sh combined
#
#   bash scripts/train_recognition.sh [STAGE...]   # stages: balanced, recognition, neutral, combined (default), strong, vivid, l1, l1_recognition
#
# Measure a stage: LIMIT=600 bash scripts/evaluate_imagenet_val.sh runs/recognition/STAGE.keras
# EPOCHS (default 30, early stopping after 4 without improvement) caps a stage: EPOCHS=3 measures a lever
# quickly (each run also spends about 10 min decoding the photos and caching the frozen encoder's features).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=runs/recognition
mkdir -p "$OUT"
source scripts/training_folders.sh

# Shared by every stage: the default's architecture and weights, class-balanced epochs of 2,400 photos
# (the 268 class folders drawn equally often), Adam 1e-4, 100 x L1, a weak adversarial term.
COMMON=(gan --backbone efficientnet_lite0 --width 0.5 --size 128 --batch-size 16 --lr 1e-4
        --init colorize/assets/models/gan.keras --l1-weight 100 --epochs "${EPOCHS:-30}" --patience 4 --min-delta 0.0002)

run() {  # run NAME ARGS...: the stage NAME with COMMON and ARGS (scripts/training_folders.sh)
  local name=$1; shift
  run_stage "$name" "${COMMON[@]}" "$@"
}

for stage in "${@:-combined}"; do
  case $stage in
    # Lever 1 alone: balanced classes, L1 (+ the weak adversarial term), nothing else.
    balanced) run balanced --balance-classes --epoch-photos 2400 --gan-weight 0.1 ;;
    # Lever 2 alone: the recognition term (KL of frozen Lite0 classes, true vs colorized photo, 224 px).
    recognition) run recognition --epoch-photos 2400 --gan-weight 0.1 --recognition-weight 5 ;;
    # Lever 3 alone: the neutral term (chroma added where the truth is neutral).
    neutral) run neutral --epoch-photos 2400 --gan-weight 0.1 --neutral-weight 30 ;;
    # All three together.
    combined) run combined --balance-classes --epoch-photos 2400 --gan-weight 0.1 --recognition-weight 5 \
                --neutral-weight 30 ;;
    # The combination with a four times stronger recognition term: does the classifier's pull keep colour
    # that the L1 term alone averages away?
    strong) run strong --balance-classes --epoch-photos 2400 --gan-weight 0.1 --recognition-weight 20 \
              --neutral-weight 30 ;;
    # The combination at the default's own adversarial weight (1, as scripts/train_pretrained.sh trained
    # it): the stages above use 0.1, which dulls the colours whatever else they do.
    vivid) run vivid --balance-classes --epoch-photos 2400 --gan-weight 1 --recognition-weight 5 \
             --neutral-weight 30 ;;
    # L1 alone at the first stage's learning rate (1e-3), balanced: does retraining the decoder without the
    # adversarial term wash out the tints the GAN stage taught it (the rainbow skies, purple metal)?
    l1) run l1 --balance-classes --epoch-photos 2400 --gan-weight 0 --lr 1e-3 ;;
    # The same with the recognition term: does the classifier's pull add to the retrained decoder?
    l1_recognition) run l1_recognition --balance-classes --epoch-photos 2400 --gan-weight 0 --lr 1e-3 \
                      --recognition-weight 5 ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
