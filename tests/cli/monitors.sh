#!/usr/bin/env bash
# The metrics a run watches are checked before anything trains (xp validate and xp run): typos in
# checkpoint/early-stopping monitors and console names are file:line:col errors with did-you-mean,
# exit 2, and no run is recorded. Without a val split, checkpoint and early stopping both watch
# train_loss, minimized.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > base.toml <<'TOML'
[experiment]
name = "monitors"
seeds = [1]

[data]
plugin = "rare_blobs"
image_size = 32
train_size = 32
val_size = 16
test_size = 16

[model]
plugin = "unet"
depth = 2
base_width = 4

[loss]
plugin = "binary_focal"

[[metrics]]
plugin = "pixel"

[[metrics]]
plugin = "object"

[train]
epochs = 3
batch_size = 8
workers = 0
tensorboard = { enabled = false }
TOML

# expect FILE WANT...: validate and run both exit 2 naming every WANT; run records nothing.
expect() {
  local file=$1; shift
  for cmd in validate run; do
    local rc=0
    local registry=(); [[ $cmd == run ]] && registry=(--registry reg.db)
    "$XP" $cmd "$file" "${registry[@]}" > out.txt 2> err.txt || rc=$?
    [[ $rc -eq 2 ]] || { echo "$cmd $file: expected exit 2, got $rc"; cat out.txt err.txt; exit 1; }
    for want in "$@"; do
      grep -qF -- "$want" err.txt || { echo "$cmd $file: missing '$want' in:"; cat err.txt; exit 1; }
    done
  done
  if [[ -f reg.db ]] && [[ -n "$("$XP" runs --registry reg.db --format json 2>/dev/null | grep -o '"id"' || true)" ]]; then
    echo "a rejected experiment left a run in the registry"; exit 1
  fi
}

{ cat base.toml; echo 'checkpoint = { monitor = "val_iuo", mode = "max" }'; } > ck.toml
expect ck.toml "ck.toml:31:26:" "train.checkpoint.monitor = 'val_iuo'" "did you mean 'val_iou'"

{ cat base.toml; echo 'early_stopping = { enabled = true, monitor = "val_obj_f1", mode = "max" }'; } > es.toml
expect es.toml "es.toml:31:" "train.early_stopping.monitor = 'val_obj_f1'" "val_obj_f1_*"

{ cat base.toml; echo 'console = ["iou", "f1_obj"]'; } > console.toml
expect console.toml "console.toml:31:" "train.console names 'f1_obj'"

# --set reaches the same check, located at the override.
rc=0
"$XP" validate base.toml --set 'train.checkpoint.monitor="val_precison"' 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "--set monitor typo: expected exit 2, got $rc"; exit 1; }
grep -qF "did you mean 'val_precision'" err.txt || { cat err.txt; exit 1; }

# A declared pattern accepts its concrete names; the valid file passes.
{ cat base.toml; echo 'checkpoint = { monitor = "val_obj_f1_30", mode = "max" }'; } > good.toml
"$XP" validate good.toml > /dev/null

# No val split: both monitors fall back to train_loss (min). A falling training loss must not
# stop the run early (it used to: early stopping kept mode "max" and waited for the loss to rise).
{ sed 's/^val_size = 16/val_size = 0/' base.toml
  echo 'optimizer = { name = "adamw", lr = 1e-3 }'
  echo 'checkpoint = { monitor = "val_iou", mode = "max" }'
  echo 'early_stopping = { enabled = true, monitor = "val_iou", mode = "max", patience = 1 }'; } > noval.toml
"$XP" run noval.toml --registry reg.db > run.txt 2>&1 || { cat run.txt; exit 1; }
grep -qF "falls back to train_loss (min)" run.txt || { cat run.txt; exit 1; }
losses=$(grep -o 'train_loss [0-9.]*' run.txt | awk '{print $2}')
if grep -qF "early stopping" run.txt; then
  # Allowed only when the training loss really did not fall.
  python3 - "$losses" <<'PY' || { cat run.txt; exit 1; }
import sys
v = [float(x) for x in sys.argv[1].split()]
assert any(b >= a for a, b in zip(v, v[1:])), f"stopped early although train_loss fell every epoch: {v}"
PY
else
  [[ $(grep -c '^epoch ' run.txt) -eq 3 ]] || { echo "expected 3 epochs"; cat run.txt; exit 1; }
fi
echo ok
