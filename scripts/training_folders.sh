# Sourced by the training scripts: FOLDERS = every shared training folder under $DATA that exists here
# (a machine may hold only diverse/train; never diverse/unseen or imagenet_val: those are for validation),
# and run_stage, which trains one resumable stage into $OUT.
FOLDERS=()
for folder in imagenette/train imagenette/val scenes faces diverse/train; do
  if [ -d "$DATA/$folder" ]; then FOLDERS+=("$DATA/$folder"); else echo "note: $DATA/$folder absent, trained without it" >&2; fi
done
[ "${#FOLDERS[@]}" -gt 0 ] || { echo "no training photos under $DATA" >&2; exit 2; }

run_stage() {  # run_stage NAME ARGS...: train $OUT/NAME.keras, resume an interrupted run of it, or say it is done
  local name=$1; shift
  local output="$OUT/$name.keras"
  if [ -d "$output.backup" ]; then
    echo "+ python -m colorize.cli.train ... --output $output --resume"
    python -m colorize.cli.train "$@" --data "${FOLDERS[@]}" --output "$output" --resume
  elif [ -f "$output" ]; then
    echo "$name: finished already ($output)"
  else
    echo "+ python -m colorize.cli.train $* --output $output"
    python -m colorize.cli.train "$@" --data "${FOLDERS[@]}" --output "$output"
  fi
}
