#!/usr/bin/env bash
# Full-scene segmentation throughput, xp predict vs the same sliding window in Python PyTorch:
# same UNet (the main job's: depth 3, base width 16) and weights (an xp export read by the Python
# side), same generated scene, window, overlap, hann blending, batch, threads and device.
# Prints Mpx/s and peak resident memory of both, and the ratio xp/python; each phase's time goes to
# stderr as it ends. SCENE_SIDE may be a comma-separated list (one trained model, one scene each).
#
#   bench/predict/run.sh [BUILD_DIR] [SCENE_SIDE[,SIDE...]] [WINDOW] [DEVICE] [THREADS] [BATCH]
#   bench/predict/run.sh build 2048 512 cpu 2 8                   # CPU (docs/performance.md)
#   bench/predict/run.sh build 2048,4096,8192 512 cuda 16 16      # the GPU machine
# Needs python3-torch and python3-torchvision (scripts/install-deps --bench) and python3-numpy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
side="${2:-2048}"
window="${3:-512}"
device="${4:-cpu}"
threads="${5:-2}"
batch="${6:-8}"
# The Python with torch (Debian's /usr/bin/python3 here; the GPU machine's is another python3).
py=""
for c in /usr/bin/python3 python3; do "$c" -c "import torch, torchvision" 2>/dev/null && { py=$c; break; }; done
[ -n "$py" ] || { echo "no python3 with torch and torchvision"; exit 1; }
# Peak resident memory: GNU time where installed, else the same number from getrusage of the child.
timed() {
  local log=$1; shift
  if [ -x /usr/bin/time ]; then /usr/bin/time -v "$@" 2> "$log"; return; fi
  "$py" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stderr=open(sys.argv[1] + ".err", "w"))
print("Maximum resident set size (kbytes): %d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=open(sys.argv[1], "w"))
sys.exit(rc)' "$log" "$@"
}
xp="$build/xp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
db="$tmp/runs/registry.db"
t_start=$(date +%s.%N)
phase_start=$t_start
phase() {  # phase NAME: the time since the previous phase ended
  local now; now=$(date +%s.%N)
  awk -v n="$1" -v a="$phase_start" -v b="$now" -v s="$t_start" 'BEGIN { printf "[%7.1f s] %-40s %7.2f s\n", b - s, n, b - a }' >&2
  phase_start=$now
}

# A finished run of the main job's UNet (trained for two steps: throughput does not depend on the weights).
cat > seg.toml <<'TOML'
[experiment]
name = "bench_predict"
seeds = [1]
[data]
plugin = "rare_blobs"
image_size = 64
train_size = 32
val_size = 8
test_size = 8
[model]
plugin = "unet"
depth = 3
base_width = 16
[loss]
plugin = "bce"
[train]
epochs = 1
batch_size = 16
max_steps_per_epoch = 2
workers = 0
TOML
"$xp" run seg.toml --registry "$db" > train.log 2>&1 || { cat train.log; exit 1; }
run=$("$py" -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT id FROM runs WHERE status = 'finished'\").fetchone()[0])" "$db")
phase "train the UNet (2 steps, $device)"
"$xp" export "$run" --names xp --out unet.safetensors --registry "$db" > /dev/null
phase "export"

# The scene: seeded noise plus bright discs, an RGB PNG of side x side pixels (each disc drawn in its
# bounding box: the same pixels as testing every pixel of the scene per disc, which took minutes at 8192).
make_scene() {
"$py" - "$1" <<'PY'
import struct, sys, zlib
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(0)
img = rng.integers(0, 120, size=(n, n, 3), dtype=np.uint8)
for _ in range(max(1, n * n // 200000)):
    cy, cx, r = rng.integers(0, n), rng.integers(0, n), rng.integers(3, 20)
    y0, y1, x0, x1 = max(0, cy - r), min(n, cy + r + 1), max(0, cx - r), min(n, cx + r + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    img[y0:y1, x0:x1][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 230
raw = b"".join(b"\x00" + img[r].tobytes() for r in range(n))
def chunk(k, b): return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
open("scene.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
PY
}

peak() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$1"; }
for side in ${side//,/ }; do
make_scene "$side"
phase "generate the ${side}x${side} scene"
rm -rf out
timed xp.time "$xp" predict "$run" scene.png --out out --window "$window" --overlap 0.25 --batch-size "$batch" \
  --threads "$threads" --device "$device" --no-record --registry "$db" > xp.log 2> xp.err || { cat xp.log xp.err xp.time*; exit 1; }
phase "xp predict ${side}x${side}"
xp_mpx=$(sed -n 's/.* s (\([0-9.e+-]*\) Mpx\/s)$/\1/p' xp.log)
# Scenes up to 4096 px: Python's map is kept (written after its timing) and compared with xp's.
keep=(); [ "$side" -le 4096 ] && keep=(--out prob.pt)
timed py.time "$py" "$here/sliding_window.py" unet.safetensors scene.png --window "$window" --overlap 0.25 \
  --batch "$batch" --threads "$threads" --device "$device" "${keep[@]}" > py.log || { cat py.log py.time*; exit 1; }
phase "python sliding window ${side}x${side}"
py_mpx=$(awk '{print $2}' py.log)
echo "scene ${side}x${side}, window $window, overlap 0.25, batch $batch, threads $threads, device $device"
printf "xp      %8.3f Mpx/s  peak RSS %6d MiB  (segmentation + mask + objects + PNG writes)\n" "$xp_mpx" $(( $(peak xp.time) / 1024 ))
printf "python  %8.3f Mpx/s  peak RSS %6d MiB  (sliding window + blending only)\n" "$py_mpx" $(( $(peak py.time) / 1024 ))
"$py" -c "print('ratio xp/python %.2f' % ($xp_mpx / $py_mpx))"
if [ "$device" != cpu ] && [ -n "${EXTRA:-}" ]; then  # EXTRA=1: rows for reference, not part of the ratio
  "$py" "$here/sliding_window.py" unet.safetensors scene.png --window "$window" --overlap 0.25 --batch "$batch" \
    --threads "$threads" --device "$device" --model-only > pym.log || { cat pym.log; exit 1; }
  printf "floor   %8.3f Mpx/s  the model's forward passes alone (Python, same windows, batch on the device)\n" "$(awk '{print $2}' pym.log)"
  "$xp" predict "$run" scene.png --out outb --window "$window" --overlap 0.25 --batch-size "$batch" --precision bf16 \
    --threads "$threads" --device "$device" --no-record --registry "$db" > xpb.log 2> xpb.err || { cat xpb.log xpb.err; exit 1; }
  printf "xp      %8.3f Mpx/s  with --precision bf16 (autocast; not comparable with the fp32 ratio)\n" \
    "$(sed -n 's/.* s (\([0-9.e+-]*\) Mpx\/s)$/\1/p' xpb.log)"
  rm -rf outb
  phase "reference rows ${side}x${side}"
fi
[ -f prob.pt ] && "$py" - <<'PY' || true
import torch
try:
    import cv2
    xp = torch.from_numpy(cv2.imread("out/scene_prob.png", cv2.IMREAD_UNCHANGED).astype("float32")) / 65535
    py = torch.load("prob.pt")
    print("max |xp - python| probability %.2e, mean %.2e" % ((xp - py).abs().max(), (xp - py).abs().mean()))
except Exception as e:
    print("no comparison with python's map: %s" % e)
PY
rm -f prob.pt
grep -h "windows and rows" xp.err xp.time* 2>/dev/null | sed 's/^[^:]*: /xp split: /' || true
done
