#!/usr/bin/env bash
# Peak host memory of `xp predict` on whole scenes of growing size: with strip reading and writing
# (GDAL) it should grow with the scene's width, not its area. A tiny UNet keeps the CPU time short;
# its activations are the same for every scene, so the differences are the scene's own buffers.
#
#   bench/predict/memory.sh [BUILD_DIR] [WINDOW] [SIDE...]
#   bench/predict/memory.sh build 128 4096 8192        # docs/performance.md
# Needs python3-numpy (to write the scenes) and GNU time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
window="${2:-128}"
shift 2 || true
sides=("$@")
[ $# -gt 0 ] || sides=(4096 8192)
xp="$build/xp"
py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
db="$tmp/runs/registry.db"
cat > seg.toml <<'TOML'
[experiment]
name = "bench_predict_memory"
seeds = [1]
[data]
plugin = "rare_blobs"
image_size = 32
train_size = 16
val_size = 8
test_size = 8
[model]
plugin = "unet"
depth = 2
base_width = 4
[loss]
plugin = "bce"
[train]
epochs = 1
batch_size = 8
workers = 0
TOML
"$xp" run seg.toml --registry "$db" > train.log 2>&1 || { cat train.log; exit 1; }
run=$("$py" -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT id FROM runs WHERE status = 'finished'\").fetchone()[0])" "$db")
for side in "${sides[@]}"; do
  # Dark noise with bright discs, an RGB PNG, written a band of rows at a time.
  "$py" - "$side" <<'PY'
import struct, sys, zlib
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(0)
comp = zlib.compressobj(1)
out = [b"\x89PNG\r\n\x1a\n"]
def chunk(k, b): return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
out.append(chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 2, 0, 0, 0)))
discs = [(rng.integers(0, n), rng.integers(0, n), rng.integers(3, 20)) for _ in range(n * n // 20000)]
data = []
for y0 in range(0, n, 512):
    h = min(512, n - y0)
    img = rng.integers(0, 120, size=(h, n, 3), dtype=np.uint8)
    yy, xx = np.mgrid[y0:y0 + h, 0:n]
    for cy, cx, r in discs:
        if y0 - r <= cy < y0 + h + r:
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 230
    data.append(comp.compress(b"".join(b"\x00" + img[r].tobytes() for r in range(h))))
data.append(comp.flush())
out.append(chunk(b"IDAT", b"".join(data)))
out.append(chunk(b"IEND", b""))
open("scene_%d.png" % n, "wb").write(b"".join(out))
PY
  /usr/bin/time -v "$xp" predict "$run" "scene_$side.png" --out "out_$side" --window "$window" --overlap 0.25 \
    --batch-size 8 --no-record --registry "$db" > "xp_$side.log" 2> "xp_$side.time" || { cat "xp_$side.log" "xp_$side.time"; exit 1; }
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "xp_$side.time")
  mpx=$(sed -n 's/.* s (\([0-9.e+-]*\) Mpx\/s).*$/\1/p' "xp_$side.log")
  printf "scene %5d x %5d  window %4d  peak RSS %6d MiB  %8.3f Mpx/s  scene %6d MiB as uint8 RGB\n" "$side" "$side" \
    "$window" $((kb / 1024)) "$mpx" $((side * side * 3 / 1048576))
done
