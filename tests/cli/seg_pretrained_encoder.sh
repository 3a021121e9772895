#!/usr/bin/env bash
# A pretrained encoder under xp's U-Net decoder end to end: `unet` with encoder = { plugin =
# "torchscript" } on rare_blobs with an auxiliary band (the first convolution extended for it),
# staged training (encoder frozen, then a tenth of the learning rate), and the errors a user meets
# first. The TorchScript pyramid module is written by the unit-test binary (no Python here).
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_BINARY_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
XP_WRITE_PYRAMID="$tmp" "$XP_BINARY_DIR/xp_tests" -tc='*pyramid module for the CLI test*' > "$tmp/write.txt" 2>&1 \
  || { cat "$tmp/write.txt"; exit 1; }
[ -f "$tmp/pyramid.pt" ] || { echo "xp_tests wrote no pyramid.pt"; cat "$tmp/write.txt"; exit 1; }
cat > "$tmp/seg.toml" <<TOML
[experiment]
name = "seg_pretrained"
seeds = [5]
[data]
plugin = "rare_blobs"
image_size = 32
train_size = 16
val_size = 8
test_size = 8
bands = ["red", "green", "blue", "dem"]
[model]
plugin = "unet"
base_width = 4
[model.encoder]
plugin = "torchscript"
path = "$tmp/pyramid.pt"
input_size = [3, 32, 32]
new_bands = "first_conv"
[loss]
plugin = "dice"
[[augment]]
plugin = "normalize"
stats = "train"
[[eval_augment]]
plugin = "normalize"
stats = "train"
[[metrics]]
plugin = "pixel"
[train]
batch_size = 8
workers = 1
threads = 1
optimizer = { name = "adam", lr = 1e-3, groups = [{ params = ["encoder.*"], lr_scale = 0.1 }] }
stages = [{ epochs = 1, freeze = ["encoder.*"] }, { epochs = 1 }]
TOML
cd "$tmp"
"$XP" run seg.toml --registry "$tmp/runs/registry.db" > out.txt 2> err.txt || { cat out.txt err.txt; exit 1; }
grep -q "epoch 2/2" out.txt || { cat out.txt err.txt; exit 1; }
run_dir=$(ls -d "$tmp"/runs/seg_pretrained/*/)
# The pyramid module has 10 parameter tensors (3 stages x conv, BatchNorm weight and bias + an
# unused head), all under encoder.*; xp's decoder, final block and head train in both stages.
grep -q "stage 1/2: 10 of [0-9]* parameter tensors frozen" "$run_dir/train.log" || { cat "$run_dir/train.log"; exit 1; }
grep -q "stage 2/2: 0 of [0-9]* parameter tensors frozen" "$run_dir/train.log"
[ "$(wc -l < "$run_dir/metrics.csv")" -eq 3 ] || { cat "$run_dir/metrics.csv"; exit 1; }

expect_error() {  # expect_error <override> <text>: the run is refused with exit 2 and the message
  set +e
  "$XP" run seg.toml --registry "$tmp/runs/registry.db" --set "$1" > /dev/null 2> err2.txt
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { echo "--set $1: expected exit 2, got $rc"; cat err2.txt; exit 1; }
  grep -qF "$2" err2.txt || { echo "--set $1: expected '$2' in:"; cat err2.txt; exit 1; }
}
expect_error 'model.encoder.mode="features"' 'an encoder returns a feature pyramid'
expect_error 'model.encoder.method="tensor"' 'pyramid mode needs a list or tuple of feature maps'
expect_error 'model.encoder.new_bands="first_cnv"' 'first_conv'
expect_error 'model.encoder.pth="x.pt"' 'pth'
echo ok
