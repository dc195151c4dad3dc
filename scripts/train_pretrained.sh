#!/usr/bin/env bash
# Training of the pretrained-semantics families on the shared photos (all but diverse/unseen/),
# as it was run on the 2-core CPU. Each stage is resumable: re-run the same line with --resume
# after an interruption (the script does that by itself when a stage's backup folder exists).
#
#   bash scripts/train_pretrained.sh [STAGE...]     # stages: unet_bins (default), unet_reg, fusion, fusion_bins,
#                                                    #         gan_l1, gan (after gan_l1)
#
# DATA (default ../shared/data) holds the photos; outputs go under runs/pretrained/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=runs/pretrained
mkdir -p "$OUT"
source scripts/training_folders.sh

run() { run_stage "$@"; }  # see scripts/training_folders.sh

for stage in "${@:-unet_bins}"; do
  case $stage in
    # U-Net decoder (width 0.5) on frozen EfficientNet-Lite0 features, Zhang bins head, lambda 0.8.
    unet_bins) run unet_bins unet --backbone efficientnet_lite0 --head bins --lam 0.8 --width 0.5 \
                 --size 128 --epochs 30 --patience 5 --lr 1e-3 --batch-size 32 --min-delta 0.001 ;;
    # The same with the L2 regression head.
    unet_reg) run unet_reg unet --backbone efficientnet_lite0 --head regression --width 0.5 \
                --size 128 --epochs 30 --patience 5 --lr 1e-3 --batch-size 32 --min-delta 0.0001 ;;
    # The reports' fusion encoder-decoder (Lite0 embedding fused at the bottleneck), regression head.
    fusion) run fusion fusion --backbone efficientnet_lite0 --head regression --width 0.5 \
              --size 128 --epochs 30 --patience 5 --lr 1e-3 --batch-size 32 --min-delta 0.0001 ;;
    # Fusion with the Zhang bins head (lambda 0.8), as the default U-Net.
    fusion_bins) run fusion_bins fusion --backbone efficientnet_lite0 --head bins --lam 0.8 --width 0.5 \
              --size 128 --epochs 30 --patience 5 --lr 1e-3 --batch-size 32 --min-delta 0.001 ;;
    # The GAN family's generator (unet regression network on frozen Lite0 features) on L1 alone ...
    gan_l1) run gan_l1 gan --backbone efficientnet_lite0 --width 0.5 --size 128 --batch-size 32 \
              --gan-weight 0 --epochs 5 --patience 3 --lr 1e-3 --min-delta 0.0005 ;;
    # ... then adversarial + 100 x L1 from it (pix2pix's Adam), best epoch by validation L1.
    gan) run gan gan --backbone efficientnet_lite0 --width 0.5 --size 128 --batch-size 32 \
           --init "$OUT/gan_l1.keras" --gan-weight 1 --l1-weight 100 --epochs 2 --patience 2 --lr 2e-4 \
           --min-delta 0.0005 ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
