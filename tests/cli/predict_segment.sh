#!/usr/bin/env bash
# xp predict with a tiny finished rare_blobs UNet run on whole scenes larger than its tiles and of
# awkward sizes: probability map (16-bit PNG or float TIFF), mask, objects CSV, scenes.csv; multi-
# scale and TTA options; a scene the model cannot take (channels) is exit 2.
set -euo pipefail
: "${XP:?path of the xp binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
db="$tmp/runs/registry.db"
cat > "$tmp/seg.toml" <<'TOML'
[experiment]
name = "tinyseg"
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
[[metrics]]
plugin = "pixel"
[train]
epochs = 1
batch_size = 8
workers = 0
threads = 1
calibration = { enabled = true }
TOML
cd "$tmp"
expect_rc 0 "$XP" run seg.toml --registry "$db"
run=$(sqlite3 "$db" "SELECT id FROM runs WHERE status = 'finished'")
[[ -n "$run" ]] || fail "no finished run"
"$py" "$here/write_png.py" scene_a.png 75 101 3 1    # 75 x 101: not a multiple of the 32 px tiles
"$py" "$here/write_png.py" scene_b.png 20 24 3 2     # smaller than one tile
expect_rc 0 "$XP" predict "$run" scene_a.png scene_b.png --out pred --overlap 0.5 --registry "$db"
cat "$tmp/out"
for f in scene_a_prob.png scene_a_mask.png scene_a_objects.csv scene_b_prob.png scenes.csv predict.json; do
  [[ -s "pred/$f" ]] || fail "missing pred/$f"
done
"$py" - <<'PY' || fail "output files"
import csv, struct
def ihdr(path):
    b = open(path, "rb").read(33)
    assert b[:8] == b"\x89PNG\r\n\x1a\n", path
    w, h, depth, colour = struct.unpack(">IIBB", b[16:26])
    return w, h, depth, colour
assert ihdr("pred/scene_a_prob.png") == (101, 75, 16, 0), ihdr("pred/scene_a_prob.png")
assert ihdr("pred/scene_a_mask.png") == (101, 75, 8, 0)
assert ihdr("pred/scene_b_prob.png") == (24, 20, 16, 0)
rows = list(csv.DictReader(open("pred/scenes.csv")))
assert [r["width"] for r in rows] == ["101", "24"] and [r["height"] for r in rows] == ["75", "20"], rows
head = open("pred/scene_a_objects.csv").readline().strip()
assert head == "id,area,x,y,width,height,centroid_x,centroid_y,mean_probability,max_probability", head
for r in csv.DictReader(open("pred/scene_a_objects.csv")):
    assert 0 <= int(r["x"]) < 101 and 0 <= int(r["y"]) < 75 and int(r["area"]) >= 1
    assert 0 <= float(r["mean_probability"]) <= float(r["max_probability"]) <= 1
PY
# The run's calibrated threshold is the default; TTA, scales and a float TIFF.
threshold=$(sqlite3 "$db" "SELECT s.value FROM summary s JOIN runs r ON r.rid = s.rid WHERE r.id = '$run' AND s.name = 'calib_threshold'")
[[ -n "$threshold" ]] || fail "the run recorded no calibrated threshold"
"$py" -c "import json; j = json.load(open('pred/predict.json')); assert abs(j['options']['threshold'] - $threshold) < 1e-9, j['options']"
expect_rc 0 "$XP" predict "$run" scene_a.png --out out2 --tta d4 --scales 1,0.5 --merge max --prob-format tiff --threshold 0.3 --registry "$db"
[[ -s out2/scene_a_prob.tif ]] || fail "no float TIFF"
grep -q "\"merge\": \"max\"" out2/predict.json || fail "options not recorded"
# Errors: exit 2.
"$py" "$here/write_png.py" grey.png 40 40 1 3
expect_rc 0 "$XP" predict "$run" grey.png --out out3 --registry "$db"   # grey is converted to RGB as datasets do
expect_rc 2 "$XP" predict "$run" scene_a.png --out out4 --tta d5 --registry "$db"
grep -q "did you mean 'd4'" "$tmp/err" || fail "tta suggestion: $(cat "$tmp/err")"
expect_rc 2 "$XP" predict "$run" scene_a.png --out out4 --merge median --registry "$db"
grep -q "mean or max" "$tmp/err" || fail "merge message"
expect_rc 2 "$XP" predict "$run" scene_a.png --out out4 --window 10x --registry "$db"
expect_rc 2 "$XP" predict "$run" --split test --out x.csv --registry "$db"
grep -q "segmentation run" "$tmp/err" || fail "--split on segmentation: $(cat "$tmp/err")"
echo "ok"
