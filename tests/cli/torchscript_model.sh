#!/usr/bin/env bash
# The torchscript model plugin end to end on the shipped tiny backbone (exported by
# tools/export_torchscript.py --tiny --features; no Python here): a linear-probe stage with
# "backbone.*" frozen, then fine-tuning with a discriminative learning rate; and the errors a user
# meets first (missing file, a file that is not TorchScript, logits of the wrong size).
set -euo pipefail
: "${XP:?path of the xp binary}"
asset="$XP_SOURCE_DIR/experiments/assets/tiny_backbone.pt"
[ -f "$asset" ] || { echo "missing $asset"; exit 1; }
"$XP" plugins show torchscript | grep >/dev/null "path"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ts.toml" <<TOML
[experiment]
name = "ts"
seeds = [3]
[data]
plugin = "fashion_mnist"
limit = 192
[model]
plugin = "torchscript"
path = "$asset"
mode = "features"
input_size = [3, 28, 28]
in_channels = 1
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[train]
batch_size = 32
workers = 2
threads = 1
optimizer = { name = "adam", lr = 2e-3, groups = [{ params = ["backbone.*"], lr_scale = 0.1 }] }
stages = [{ epochs = 1, freeze = ["backbone.*"] }, { epochs = 1 }]
TOML
cd "$tmp"
"$XP" run ts.toml --registry "$tmp/runs/registry.db" > out.txt 2> err.txt || { cat out.txt err.txt; exit 1; }
cat out.txt
grep -q "epoch 2/2" out.txt
grep -q "finished" out.txt
run_dir=$(ls -d "$tmp"/runs/ts/*/)
# The tiny backbone has 3 conv weights and 3 BatchNorm weight/bias pairs; the new head 2 tensors.
grep -q "stage 1/2: 9 of 11 parameter tensors frozen" "$run_dir/train.log" || { cat "$run_dir/train.log"; exit 1; }
grep -q "stage 2/2: 0 of 11 parameter tensors frozen" "$run_dir/train.log"
[ "$(wc -l < "$run_dir/metrics.csv")" -eq 3 ] || { cat "$run_dir/metrics.csv"; exit 1; }

expect_error() {  # expect_error <override> <text>: the run is refused with exit 2 and the message
  set +e
  "$XP" run ts.toml --registry "$tmp/runs/registry.db" --set "$1" > /dev/null 2> err2.txt
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { echo "--set $1: expected exit 2, got $rc"; cat err2.txt; exit 1; }
  grep -qF "$2" err2.txt || { echo "--set $1: expected '$2' in:"; cat err2.txt; exit 1; }
}
expect_error 'model.path="missing.pt"' "missing.pt does not exist"
echo "not a model" > notes.pt
expect_error 'model.path="notes.pt"' "notes.pt is not a TorchScript archive"
expect_error 'model.mode="logits"' 'outputs 64 values per image but num_classes is 10; to train a new head on its output set mode = "features"'
echo ok
