#!/usr/bin/env bash
# On a CUDA machine: xp predict gives the same predictions on the GPU as on the CPU. Classification
# images travel to the GPU as uint8 and are normalized there (the CPU normalizes on the host);
# scene windows likewise, and blending happens on the device. Both must agree with the CPU path:
# same top-1 for every file and probabilities within 1e-4, and 16-bit probability maps within 2
# units (3e-5) with masks differing in at most 0.1 % of pixels.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
png="$XP_SOURCE_DIR/tests/cli/write_png.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
# Classification: 2 classes of files of different sizes (so that resize and crop matter).
for c in 0 1; do
  mkdir -p "images/$c"
  for i in $(seq 1 12); do "$py" "$png" "images/$c/$i.png" $((30 + 3 * i)) $((60 - 2 * i)) 3 $((100 * c + i)); done
done
cat > cls.toml <<TOML
[experiment]
name = "gpu_predict_cls"
seeds = [3]
[data]
plugin = "image_folder"
root = "$tmp/images"
val_fraction = 0.0
test_fraction = 0.0
[model]
plugin = "simple_cnn"
in_channels = 3
channels = [4, 8]
hidden = 16
[loss]
plugin = "cross_entropy"
[[augment]]
plugin = "resize"
size = [32, 32]
[[augment]]
plugin = "normalize"
[[eval_augment]]
plugin = "resize"
size = [36]
[[eval_augment]]
plugin = "center_crop"
size = [32, 32]
[[eval_augment]]
plugin = "normalize"
[train]
epochs = 1
batch_size = 8
workers = 0
threads = 2
device = "cpu"
checkpoint = { monitor = "train_loss", mode = "min" }
TOML
"$XP" run cls.toml --registry runs/registry.db > train.log 2>&1 || { cat train.log; fail "classification run"; }
run=$(awk '/ finished /{print $2}' train.log)
[[ -n "$run" ]] || { cat train.log; fail "no finished run"; }
"$XP" predict "$run" images --out cpu.csv --device cpu --top-k 2 --no-record --registry runs/registry.db > /dev/null
"$XP" predict "$run" images --out cuda.csv --device cuda --top-k 2 --workers 3 --batch-size 5 --no-record \
  --registry runs/registry.db > /dev/null
"$py" - <<'PY' || fail "classification: GPU and CPU predictions differ"
import csv
cpu = {r["path"]: r for r in csv.DictReader(open("cpu.csv"))}
gpu = {r["path"]: r for r in csv.DictReader(open("cuda.csv"))}
assert len(cpu) == 24 and cpu.keys() == gpu.keys(), (len(cpu), len(gpu))
worst = max(abs(float(cpu[k]["probability"]) - float(gpu[k]["probability"])) for k in cpu)
same = sum(cpu[k]["predicted"] == gpu[k]["predicted"] for k in cpu)
print("classification: %d of %d same top-1, max |p_cpu - p_cuda| %.2g" % (same, len(cpu), worst))
assert same == len(cpu) and worst <= 1e-4
PY
# Segmentation: a scene several windows wide, on both devices.
cat > seg.toml <<'TOML'
[experiment]
name = "gpu_predict_seg"
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
threads = 2
device = "cpu"
TOML
"$XP" run seg.toml --registry runs/registry.db > seg.log 2>&1 || { cat seg.log; fail "segmentation run"; }
seg=$(awk '/ finished /{print $2}' seg.log)
"$py" "$png" scene.png 203 331 3 7
for d in cpu cuda; do
  "$XP" predict "$seg" scene.png --out "seg_$d" --device "$d" --overlap 0.25 --batch-size 4 --no-record \
    --registry runs/registry.db > "seg_$d.log" || { cat "seg_$d.log"; fail "segmentation predict on $d"; }
done
"$py" - <<'PY' || fail "segmentation: GPU and CPU maps differ"
import zlib, struct
def read_png(path):  # 8/16-bit grey, no interlace, as xp writes them
    b = open(path, "rb").read()
    w, h, depth = struct.unpack(">IIB", b[16:25])
    data, at = b"", 8
    while at < len(b):
        n, kind = struct.unpack(">I4s", b[at:at + 8])
        if kind == b"IDAT": data += b[at + 8:at + 8 + n]
        at += 12 + n
    raw, bpp = zlib.decompress(data), depth // 8
    stride, rows, prev = w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            up, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + up) & 255
            elif f == 3: line[i] = (line[i] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c; pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        rows.append(line); prev = line
    if bpp == 2: return [[(r[2 * i] << 8) | r[2 * i + 1] for i in range(w)] for r in rows]
    return [list(r) for r in rows]
pc, pg = read_png("seg_cpu/scene_prob.png"), read_png("seg_cuda/scene_prob.png")
mc, mg = read_png("seg_cpu/scene_mask.png"), read_png("seg_cuda/scene_mask.png")
worst = max(abs(a - b) for ra, rb in zip(pc, pg) for a, b in zip(ra, rb))
differ = sum(a != b for ra, rb in zip(mc, mg) for a, b in zip(ra, rb))
n = len(mc) * len(mc[0])
print("segmentation: max |map_cpu - map_cuda| %d of 65535, masks differ in %d of %d pixels" % (worst, differ, n))
assert len(pc) == 203 and len(pc[0]) == 331 and worst <= 2 and differ <= n // 1000
PY
echo ok
