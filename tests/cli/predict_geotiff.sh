#!/usr/bin/env bash
# xp predict on a GeoTIFF scene (written here with gdal_translate: a known geotransform and EPSG
# code): the probability map and the mask are GeoTIFFs with the input's geotransform and CRS
# (read back with gdalinfo -json), their pixels equal the predictions for the same scene as a PNG,
# and --georef yes / no behave. Built without GDAL, `--georef yes` must be a clear exit-2 error.
set -euo pipefail
: "${XP:?path of the xp binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
command -v gdal_translate >/dev/null || { echo "gdal_translate not installed (Debian gdal-bin, scripts/install-deps)"; exit 77; }
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
name = "tinygeo"
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
threads = 1
TOML
cd "$tmp"
expect_rc 0 "$XP" run seg.toml --registry "$db"
run=$(sqlite3 "$db" "SELECT id FROM runs WHERE status = 'finished'")
[[ -n "$run" ]] || fail "no finished run"
"$py" "$here/write_png.py" scene.png 75 101 3 4      # 75 x 101: not a multiple of the 32 px tiles
# UTM 33N, 3 m pixels, upper-left corner (500000, 4200000).
gdal_translate -q -of GTiff -a_srs EPSG:32633 -a_ullr 500000 4200000 500303 4199775 scene.png scene.tif

set +e; "$XP" predict "$run" scene.tif --out geo --georef yes --overlap 0.5 --registry "$db" > out 2> err; rc=$?; set -e
if grep -q "built without" err; then
  [[ $rc == 2 ]] || fail "no GDAL: exit $rc, expected 2"
  echo "ok (xp without GDAL: --georef yes is a clear error)"; exit 0
fi
[[ $rc == 0 ]] || { cat out err; fail "exit $rc"; }
grep -q "georeferenced" out || fail "not reported as georeferenced: $(cat out)"
for f in scene_prob.tif scene_mask.tif scene_objects.csv; do [[ -s "geo/$f" ]] || fail "missing geo/$f"; done
for f in scene.tif geo/scene_prob.tif geo/scene_mask.tif; do gdalinfo -json "$f" > "$(basename "$f").json"; done
"$py" - <<'PY' || fail "georeference not carried"
import json
src = json.load(open("scene.tif.json"))
assert src["geoTransform"] == [500000.0, 3.0, 0.0, 4200000.0, 0.0, -3.0], src["geoTransform"]
for name, dtype in (("scene_prob.tif.json", "UInt16"), ("scene_mask.tif.json", "Byte")):
    out = json.load(open(name))
    assert out["size"] == [101, 75], (name, out["size"])
    assert out["geoTransform"] == src["geoTransform"], (name, out["geoTransform"])
    wkt = out["coordinateSystem"]["wkt"]
    assert wkt == src["coordinateSystem"]["wkt"], name
    assert 'ID["EPSG",32633]' in wkt, wkt[-200:]
    assert out["bands"][0]["type"] == dtype, (name, out["bands"][0]["type"])
PY
# The same pixels as a PNG: the same probabilities and mask (GDAL strips == OpenCV whole decode).
expect_rc 0 "$XP" predict "$run" scene.png --out plain --overlap 0.5 --registry "$db"
[[ -s plain/scene_prob.png && -s plain/scene_mask.png ]] || fail "PNG outputs missing"
for k in prob mask; do
  gdal_translate -q -of ENVI "plain/scene_$k.png" "plain_$k.raw"
  gdal_translate -q -of ENVI "geo/scene_$k.tif" "geo_$k.raw"
  cmp -s "plain_$k.raw" "geo_$k.raw" || fail "$k differs between the GeoTIFF and the PNG of the same scene"
done
cmp -s plain/scene_objects.csv geo/scene_objects.csv || fail "objects differ"
# float probabilities keep the georeference too; --georef no gives plain PNGs.
expect_rc 0 "$XP" predict "$run" scene.tif --out geof --prob-format tiff --registry "$db"
gdalinfo -json geof/scene_prob.tif | "$py" -c "import json,sys; j=json.load(sys.stdin); assert j['bands'][0]['type']=='Float32' and j['geoTransform'][0]==500000.0, j['geoTransform']" \
  || fail "float map"
expect_rc 0 "$XP" predict "$run" scene.tif --out nogeo --georef no --registry "$db"
[[ -s nogeo/scene_prob.png && -s nogeo/scene_mask.png ]] || fail "--georef no: PNG outputs expected"
# A plain PNG cannot be georeferenced on demand; an unknown mode gets a suggestion.
expect_rc 2 "$XP" predict "$run" scene.png --out x --georef yes --registry "$db"
grep -q "no georeference" "$tmp/err" || fail "--georef yes on a PNG: $(cat "$tmp/err")"
expect_rc 2 "$XP" predict "$run" scene.tif --out x --georef yse --registry "$db"
grep -q "did you mean 'yes'" "$tmp/err" || fail "--georef suggestion: $(cat "$tmp/err")"
echo "ok"
