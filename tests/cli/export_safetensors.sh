#!/usr/bin/env bash
# xp export: a tiny finished resnet18 run (synthetic leaves, 32 px, 3 channels) to safetensors with
# torchvision's key names. The file is read back with plain Python (json + struct, layout checked),
# then loaded into torchvision.models.resnet18 (Debian python3-torchvision): its probabilities on
# an image equal xp predict's. A simple_cnn run keeps xp's names. Errors exit 2.
set -euo pipefail
: "${XP:?path of the xp binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" -c "import torchvision" 2>/dev/null || { echo "FAIL: python3-torchvision missing (scripts/install-deps installs it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
db="$tmp/runs/registry.db"
cat > "$tmp/leaves.toml" <<'TOML'
[experiment]
name = "leaves"
seeds = [1]
[data]
plugin = "synthetic_leaves"
image_size = 32
train_size = 32
val_size = 8
test_size = 8
[model]
plugin = "resnet"
depth = 18
[loss]
plugin = "cross_entropy"
[[eval_augment]]
plugin = "normalize"
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
[train]
epochs = 1
batch_size = 16
workers = 0
threads = 2
[variants.resnet18]
[variants.cnn]
model = { plugin = "simple_cnn", in_channels = 3, channels = [4, 8], hidden = 16 }
TOML
cd "$tmp"
expect_rc 0 "$XP" run leaves.toml --registry "$db"
resnet=$(sqlite3 "$db" "SELECT id FROM runs WHERE variant = 'resnet18' AND status = 'finished'")
cnn=$(sqlite3 "$db" "SELECT id FROM runs WHERE variant = 'cnn' AND status = 'finished'")
[[ -n "$resnet" && -n "$cnn" ]] || fail "runs did not finish"

expect_rc 0 "$XP" export "$resnet" --out r18.safetensors --registry "$db"
cat "$tmp/out"
grep -q "torchvision.models.resnet18" "$tmp/out" || fail "no torchvision names"
"$py" "$here/write_png.py" leaf.png 32 32 3 7
classes=$("$py" -c "import json; print(json.load(open('r18.json'))['num_classes'])")
expect_rc 0 "$XP" predict "$resnet" leaf.png --out leaf.csv --top-k "$classes" --registry "$db"
"$py" "$here/check_safetensors.py" r18.safetensors --torchvision leaf.png 7 leaf.csv || fail "torchvision comparison"
# Hierarchical class names ("species/disease"): species, disease and the cascade probability.
"$py" - <<'PY' || fail "hierarchical columns"
import csv
row = next(csv.DictReader(open("leaf.csv")))
species, disease = row["predicted"].split("/")
assert row["species"] == species and row["disease"] == disease, row
assert abs(float(row["cascade_probability"]) - float(row["probability"])) < 1e-12
probs = {row["class_%d" % j]: float(row["probability_%d" % j]) for j in range(1, 100) if "class_%d" % j in row}
assert abs(sum(p for c, p in probs.items() if c.startswith(species + "/")) - float(row["species_probability"])) < 1e-6
PY

expect_rc 0 "$XP" export "$cnn" --out cnn.safetensors --dtype f16 --registry "$db"
grep -q "xp key names: model 'simple_cnn' has no torchvision equivalent" "$tmp/out" || fail "xp names note: $(cat "$tmp/out")"
"$py" "$here/check_safetensors.py" cnn.safetensors > "$tmp/check"
grep -q "key_names xp" "$tmp/check" || fail "cnn key names"
"$py" -c "
import json, struct
f = open('cnn.safetensors', 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n))
d = {v['dtype'] for k, v in h.items() if k != '__metadata__'}
assert 'F16' in d and 'F32' not in d, d
assert any(k.startswith('backbone.') for k in h), list(h)"
[[ $(sqlite3 "$db" "SELECT COUNT(*) FROM artifacts a JOIN runs r ON r.rid = a.rid WHERE r.id = '$resnet' AND a.kind = 'export'") == 1 ]] \
  || fail "export not recorded"

expect_rc 2 "$XP" export "$cnn" --out x.safetensors --names torchvision --registry "$db"
grep -q "no torchvision twin" "$tmp/err" || fail "--names torchvision message"
expect_rc 2 "$XP" export "$cnn" --out x.safetensors --dtype f8 --registry "$db"
expect_rc 2 "$XP" export "$cnn" --registry "$db"
expect_rc 2 "$XP" export "$cnn" --out /nonexistent/dir/x.safetensors --registry "$db"
grep -q "No such file or directory" "$tmp/err" || fail "OS reason: $(cat "$tmp/err")"
echo "ok"
