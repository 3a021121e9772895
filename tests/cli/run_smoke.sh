#!/usr/bin/env bash
# xp run end to end on a few hundred Fashion-MNIST images: run folder contents, registry, exit codes.
set -euo pipefail
: "${XP:?path of the xp binary}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/tiny.toml" <<'TOML'
[experiment]
name = "tiny"
seeds = [3]
[data]
plugin = "fashion_mnist"
limit = 192
[model]
plugin = "simple_cnn"
in_channels = 1
channels = [4, 8]
hidden = 16
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[train]
epochs = 2
batch_size = 32
workers = 2
threads = 1
checkpoint = { monitor = "val_top1", mode = "max" }
TOML
cd "$tmp"
"$XP" run tiny.toml --registry "$tmp/runs/registry.db" > out.txt 2> err.txt || { cat out.txt err.txt; exit 1; }
cat out.txt
grep -q "epoch 2/2" out.txt
grep -q "finished" out.txt
run_dir=$(ls -d "$tmp"/runs/tiny/*/)
for f in config.toml metrics.csv train.log skipped_samples.txt checkpoints/last.pt checkpoints/best.pt; do
  [ -e "$run_dir/$f" ] || { echo "missing $f in $run_dir"; ls -R "$run_dir"; exit 1; }
done
[ "$(wc -l < "$run_dir/metrics.csv")" -eq 3 ] || { echo "metrics.csv should have a header and 2 rows"; cat "$run_dir/metrics.csv"; exit 1; }
head -1 "$run_dir/metrics.csv" | grep >/dev/null "val_top1"
# Not a TTY: no carriage-return progress bar in the output.
if grep -q $'\r' out.txt; then echo "progress bar written to a non-TTY"; exit 1; fi
# A finished run cannot be resumed: configuration error, exit 2.
set +e
"$XP" run tiny.toml --registry "$tmp/runs/registry.db" --resume "$(basename "$run_dir")" > /dev/null 2> err2.txt
rc=$?
set -e
[ $rc -eq 2 ] || { echo "resume of a finished run: expected exit 2, got $rc"; cat err2.txt; exit 1; }
grep -q "already finished" err2.txt
# A typo in a freeze glob is a configuration error, not a crash.
set +e
"$XP" run tiny.toml --registry "$tmp/runs/registry.db" --set 'train.stages=[{epochs=1, freeze=["backbon.*"]}]' > /dev/null 2> err3.txt
rc=$?
set -e
[ $rc -eq 2 ] || { echo "bad freeze glob: expected exit 2, got $rc"; cat err3.txt; exit 1; }
grep -q "matches no parameter" err3.txt
echo ok
