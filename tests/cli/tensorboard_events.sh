#!/usr/bin/env bash
# TensorBoard event files of a tiny run, read back by an independent Python reader (read_tfevents.py:
# framing and CRC-32C, file_version, every metrics.csv value at its step, per-step lr and loss,
# hparams, PNG images); and a run with train.tensorboard.enabled = false writes none.
set -euo pipefail
: "${XP:?path of the xp binary}"
here=$(cd "$(dirname "$0")" && pwd)
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
command -v python3 > /dev/null || { echo "python3 is needed (scripts/install-deps installs it)"; exit 1; }
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
batch_size = 16
workers = 2
threads = 1
checkpoint = { monitor = "val_top1", mode = "max" }
tensorboard = { log_every_n_steps = 2, images = 5 }
TOML
cd "$tmp"
"$XP" run tiny.toml --registry "$tmp/runs/registry.db" > out.txt 2>&1 || { cat out.txt; exit 1; }
run_dir=$(ls -d "$tmp"/runs/tiny/*/)
ls "$run_dir/tensorboard"
python3 "$here/read_tfevents.py" "$run_dir" --every 2 --images 5 \
  --hparam seed=3 --hparam train.optimizer.lr=0.001 --hparam train.batch_size=16 \
  --hparam model.plugin=simple_cnn --hparam train.tensorboard.enabled=true

# The reader must be able to fail: a flipped byte in the data breaks a CRC.
events=$(ls "$run_dir"/tensorboard/events.out.tfevents.* | head -1)
cp "$events" "$tmp/saved"
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[100] ^= 0xFF; open(p, "wb").write(b)' "$events"
if python3 "$here/read_tfevents.py" "$run_dir" --every 2 --images 5 2> err.txt; then
  echo "a corrupted events file passed the reader"; exit 1
fi
grep -q "CRC" err.txt || { cat err.txt; exit 1; }
cp "$tmp/saved" "$events"

"$XP" run tiny.toml --registry "$tmp/runs/registry.db" --set train.tensorboard.enabled=false > out2.txt 2>&1 ||
  { cat out2.txt; exit 1; }
second=$(awk '/^run .* -> /{print $NF; exit}' out2.txt)
[ -d "$second" ] && [ "$second/" != "$run_dir" ] || { echo "expected a second run folder"; cat out2.txt; exit 1; }
[ ! -e "$second/tensorboard" ] || { echo "tensorboard disabled but $second/tensorboard exists"; exit 1; }
echo ok
