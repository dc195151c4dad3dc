#!/usr/bin/env bash
# Training of the bundled-candidate guided model (user-guided colorization) on the shared training photos,
# as run on the 2-core CPU (nice 19, beside other jobs). Starts from the bundled GAN generator (gan.keras):
# its U-Net is frozen and only the hint branches learn, so without hints the result colorizes exactly as
# gan.keras does. Resumable: re-running the script continues an interrupted run (--resume).
#
#   bash scripts/train_guided.sh
#
# DATA (default ../shared/data); the output goes to runs/guided/guided.keras (git-ignored), with its log,
# curves and settings beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=runs/guided/guided.keras
mkdir -p runs/guided
FOLDERS=()
for folder in imagenette/train scenes diverse/train; do
  if [ -d "$DATA/$folder" ]; then FOLDERS+=("$DATA/$folder"); else echo "note: $DATA/$folder absent, trained without it" >&2; fi
done
[ "${#FOLDERS[@]}" -gt 0 ] || { echo "no training photos under $DATA" >&2; exit 2; }
if [ -d "$OUT.backup" ]; then
  exec nice -n 19 python -m colorize.cli.train guided --data "${FOLDERS[@]}" --output "$OUT" --resume
fi
exec nice -n 19 python -m colorize.cli.train guided --init colorize/assets/models/gan.keras \
  --backbone efficientnet_lite0 --width 0.5 --size 128 --batch-size 32 --lr 1e-3 --epochs 12 --patience 3 \
  --data "${FOLDERS[@]}" --output "$OUT"
