#!/usr/bin/env bash
# Issue 17's classification benchmark: `xp predict` over a folder of JPEG files vs the usual PyTorch
# script (bench/predict/classify.py: torchvision resnet18 with the same exported weights, a DataLoader
# with worker processes, PIL), same machine, same run, images/s and peak memory of each.
#
#   bench/predict/classify.sh [BUILD] [FILES] [SIZE] [DEVICE] [BATCH] [WORKERS] [THREADS]
#   defaults:                  build   2000    320    cpu      64      2         2
# SIZE as bench/gpu/make_jpegs.py takes it (320, 300-500, 640x480). The model is resnet18 (xp's
# `resnet` plugin, depth 18: torchvision's architecture), trained for one step only: its weights do
# not change the cost. Both sides read each file, resize its shorter side to 256, crop the centre
# 224 x 224, normalize, run the model, and write a CSV with the top 5 classes.
# xp's rate is from its own "predicted N ... in S s" (from the start of the command, after parsing
# the options, including loading the run); Python's from before building the model to the CSV
# written (its `import torch` left out). THREADS = torch's intra-op threads on both sides; WORKERS =
# xp's threads reading and preparing files (--workers) and the DataLoader's processes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
files="${2:-2000}"
size="${3:-320}"
device="${4:-cpu}"
batch="${5:-64}"
workers="${6:-2}"
threads="${7:-2}"
py=""
for c in /usr/bin/python3 python3; do "$c" -c "import torch, torchvision, PIL" 2>/dev/null && { py=$c; break; }; done
[ -n "$py" ] || { echo "no python3 with torch, torchvision and PIL"; exit 1; }
xp="$build/xp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
peak() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$1"; }
timed() { local log=$1; shift; if [ -x /usr/bin/time ]; then /usr/bin/time -v "$@" 2> "$log"; else "$@" 2> "$log"; fi; }

"$py" "$root/bench/gpu/make_jpegs.py" jpegs "$files" "$size"
cat > cls.toml <<TOML
[experiment]
name = "bench_predict_classify"
seeds = [1]
[data]
plugin = "image_folder"
root = "$tmp/jpegs"
val_fraction = 0.0
test_fraction = 0.0
[model]
plugin = "resnet"
depth = 18
[loss]
plugin = "cross_entropy"
[[augment]]
plugin = "random_resized_crop"
size = [224, 224]
[[augment]]
plugin = "normalize"
[[eval_augment]]
plugin = "resize"
size = [256]
[[eval_augment]]
plugin = "center_crop"
size = [224, 224]
[[eval_augment]]
plugin = "normalize"
[train]
epochs = 1
batch_size = 8
max_steps_per_epoch = 1
workers = 0
device = "$device"
checkpoint = { monitor = "train_loss", mode = "min" }
TOML
db="$tmp/runs/registry.db"
"$xp" run cls.toml --registry "$db" > train.log 2>&1 || { cat train.log; exit 1; }
run=$("$py" -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT id FROM runs WHERE status = 'finished'\").fetchone()[0])" "$db")
"$xp" export "$run" --names torchvision --out resnet18.safetensors --registry "$db" > /dev/null

timed xp.time "$xp" predict "$run" jpegs --out xp.csv --batch-size "$batch" --threads "$threads" --workers "$workers" \
  --device "$device" \
  --no-record --registry "$db" > xp.log || { cat xp.log xp.time; exit 1; }
xp_n=$(sed -n 's/^predicted \([0-9]*\) of.* in \([0-9.e+-]*\) s;.*/\1/p' xp.log)
xp_s=$(sed -n 's/^predicted \([0-9]*\) of.* in \([0-9.e+-]*\) s;.*/\2/p' xp.log)
timed py.time "$py" -W ignore "$here/classify.py" resnet18.safetensors jpegs --out py.csv --batch "$batch" \
  --workers "$workers" --threads "$threads" --device "$device" > py.log || { cat py.log py.time; exit 1; }
py_n=$(awk '{print $2}' py.log)
py_s=$(awk '{print $4}' py.log)
echo "classification predict: $files JPEG files ($size px), resnet18 at 224 px, batch $batch, device $device, " \
     "$threads torch threads, $workers workers (xp threads, Python processes)"
awk -v n="$xp_n" -v s="$xp_s" -v m="$(peak xp.time)" 'BEGIN { printf "xp      %8.1f images/s  (%d files in %.2f s)  peak RSS %6d MiB\n", n / s, n, s, m / 1024 }'
awk -v n="$py_n" -v s="$py_s" -v m="$(peak py.time)" 'BEGIN { printf "python  %8.1f images/s  (%d files in %.2f s)  peak RSS %6d MiB (main process; workers not counted)\n", n / s, n, s, m / 1024 }'
awk -v a="$xp_n" -v b="$xp_s" -v c="$py_n" -v d="$py_s" 'BEGIN { printf "ratio xp/python %.2f\n", (a / b) / (c / d) }'
# The two sides resize with different libraries (OpenCV, PIL): the same top-1 for nearly every file.
"$py" - <<'PY'
import csv
xp = {r["path"].split("/jpegs/")[-1]: r for r in csv.DictReader(open("xp.csv"))}
py = {r["path"].split("/jpegs/")[-1]: r for r in csv.DictReader(open("py.csv"))}
same = [k for k in py if k in xp]
agree = sum(xp[k]["predicted"] == py[k]["predicted"] for k in same)
diff = max((abs(float(xp[k]["probability"]) - float(py[k]["probability"])) for k in same), default=float("nan"))
print("files in both CSVs %d of %d / %d; same top-1 %d (%.1f %%); max |p_xp - p_python| of the top-1 %.3g"
      % (len(same), len(xp), len(py), agree, 100.0 * agree / max(len(same), 1), diff))
PY
