#!/usr/bin/env bash
# xp augment preview: grids of augmented samples from an experiment's real pipeline, for a
# segmentation experiment (masks overlaid) and a classification one; --each lays out one row per
# transform; the same seed gives the same file; usage and configuration errors exit 2.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
seg="$XP_SOURCE_DIR/experiments/focal_vs_tversky.toml"
# The Fashion-MNIST baseline with one train-time transform (the shipped file trains without any).
cls="$tmp/cls.toml"
cat > "$cls" <<TOML
augment = [{ plugin = "hflip", p = 0.5 }]
[experiment]
name = "cls"
extends = "$XP_SOURCE_DIR/experiments/fashion_mnist_cnn.toml"
TOML

# Width x height from the PNG header (IHDR), independent of what xp says it wrote.
png_size() {
  python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read(24)
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
print(f"{w}x{h}")
PY
}

# Layout (app/preview_grid.h): the longest sample side is scaled up by an integer factor to
# at least 96 px, tiles carry an 18 px caption band, 4 px gaps. 16 tiles are 4 x 4.
#   rare_blobs 64 px -> x2 = 128:   width 4 + 4 * (128 + 4) = 532, height 4 + 4 * (18 + 128 + 4) = 604
#   fashion-mnist 28 px -> x4 = 112: width 4 + 4 * (112 + 4) = 468, height 4 + 4 * (18 + 112 + 4) = 540
out=$("$XP" augment preview "$seg" --variant focal --out "$tmp/seg.png" 2>&1) || fail "segmentation preview: $out"
echo "$out"
[ -f "$tmp/seg.png" ] || fail "no seg.png"
[ "$(png_size "$tmp/seg.png")" = 532x604 ] || fail "seg.png is $(png_size "$tmp/seg.png"), want 532x604"
echo "$out" | grep >/dev/null "wrote $tmp/seg.png: 532x604 px, 4 rows x 4 columns, 16 tiles" || fail "summary line: $out"
echo "$out" | grep >/dev/null "\[\[augment\]\] hflip, vflip, rotate90" || fail "pipeline not named: $out"
# rare_blobs puts objects in ~30 % of the tiles: some of the first 16 carry mask pixels.
masked=$(echo "$out" | sed -n 's/.*(\([0-9]*\) with mask pixels).*/\1/p')
[ -n "$masked" ] && [ "$masked" -gt 0 ] || fail "no tile with a mask overlay: $out"

# Deterministic: the same seed draws the same augmentations; another seed others.
"$XP" augment preview "$seg" --variant focal --out "$tmp/seg2.png" > /dev/null
cmp -s "$tmp/seg.png" "$tmp/seg2.png" || fail "same seed, different grids"
"$XP" augment preview "$seg" --variant focal --seed 7 --out "$tmp/seg7.png" > /dev/null
if cmp -s "$tmp/seg.png" "$tmp/seg7.png"; then fail "--seed 7 drew the same augmentations as seed 42"; fi

# Training's order for an epoch (the balanced sampler: half the tiles hold objects).
out=$("$XP" augment preview "$seg" --variant focal --epoch 1 --n 8 --out "$tmp/epoch.png") || fail "--epoch: $out"
echo "$out" | grep >/dev/null "epoch 1:" || fail "--epoch 1 not reported: $out"
[ "$(png_size "$tmp/epoch.png")" = 400x454 ] || fail "epoch.png is $(png_size "$tmp/epoch.png"), want 400x454"

# --each: one row per transform (3), each sample (4) shown before and after it: 8 columns.
out=$("$XP" augment preview "$seg" --variant focal --each --out "$tmp/each.png") || fail "--each: $out"
echo "$out"
echo "$out" | grep >/dev/null "3 rows x 8 columns, 24 tiles" || fail "--each layout: $out"
each_size=$(png_size "$tmp/each.png")
[ "${each_size#*x}" = 454 ] || fail "each.png is $each_size, want 3 rows: height 4 + 3 * 150 = 454"
[ "$each_size" != "$(png_size "$tmp/seg.png")" ] || fail "--each gave the grid's size"

# Classification: grey 28 px images, captions carry the class.
out=$("$XP" augment preview "$cls" --out "$tmp/cls.png" 2>&1) || fail "classification preview: $out"
echo "$out"
[ "$(png_size "$tmp/cls.png")" = 468x540 ] || fail "cls.png is $(png_size "$tmp/cls.png"), want 468x540"
out=$("$XP" augment preview "$cls" --n 3 --each --out "$tmp/cls_each.png") || fail "classification --each: $out"
echo "$out" | grep >/dev/null "1 row x 6 columns" || fail "classification --each layout: $out"

# Errors: exit 2 with a message, no file, no crash.
expect_usage() {  # what-to-grep args...
  local want=$1; shift
  set +e
  msg=$("$XP" augment "$@" 2>&1); code=$?
  set -e
  [ $code -eq 2 ] || fail "xp augment $*: exit $code, want 2: $msg"
  echo "$msg" | grep >/dev/null -- "$want" || fail "xp augment $*: no '$want' in: $msg"
}
expect_usage "--out GRID.png is required" preview "$seg"
expect_usage "does not exist" preview "$seg" --out "$tmp/no/such/folder/g.png"
touch "$tmp/file"
expect_usage "does not exist" preview "$seg" --out "$tmp/file/g.png"
expect_usage "must name a .png" preview "$seg" --out "$tmp/g.jpg"
expect_usage "did you mean 'preview'" previw "$seg" --out "$tmp/g.png"
expect_usage "unknown variant" preview "$seg" --variant nope --out "$tmp/g.png"
expect_usage "--n must be" preview "$seg" --n 0 --out "$tmp/g.png"
cat > "$tmp/noaug.toml" <<TOML
augment = []   # lists replace: no train-time transforms
[experiment]
name = "noaug"
extends = "$seg"
TOML
expect_usage "no \[\[augment\]\] pipeline" preview "$tmp/noaug.toml" --variant focal --out "$tmp/g.png"
[ ! -e "$tmp/g.png" ] || fail "a failed preview wrote g.png"
echo "augment_preview: ok"
