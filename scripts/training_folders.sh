# Sourced by the training scripts: FOLDERS = every shared training folder under $DATA that exists here
# (a machine may hold only diverse/train). Never diverse/unseen or imagenet_val: those are for validation.
FOLDERS=()
for folder in imagenette/train imagenette/val scenes faces diverse/train; do
  if [ -d "$DATA/$folder" ]; then FOLDERS+=("$DATA/$folder"); else echo "note: $DATA/$folder absent, trained without it" >&2; fi
done
[ "${#FOLDERS[@]}" -gt 0 ] || { echo "no training photos under $DATA" >&2; exit 2; }
