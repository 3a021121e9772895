#!/usr/bin/env bash
# xp predict with a tiny finished Fashion-MNIST run: its test split reproduces the recorded test
# top-1 exactly; image files, folders and CSVs give a CSV (top-k) or a submission; unreadable files
# are skipped, listed and counted; the job is recorded with the run; bad input exits 2.
set -euo pipefail
: "${XP:?path of the xp binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "FAIL: no Fashion-MNIST (scripts/install-deps installs it)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc CODE CMD...: runs CMD, output to $tmp/out and $tmp/err
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
db="$tmp/runs/registry.db"
cat > "$tmp/tiny.toml" <<'TOML'
[experiment]
name = "tiny"
seeds = [5]
[data]
plugin = "fashion_mnist"
limit = 256
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
epochs = 1
batch_size = 32
workers = 1
threads = 1
checkpoint = { monitor = "val_top1", mode = "max" }
TOML
cd "$tmp"
expect_rc 0 "$XP" run tiny.toml --registry "$db"
run=$(sqlite3 "$db" "SELECT id FROM runs WHERE status = 'finished'")
[[ -n "$run" ]] || fail "no finished run"
summary() { sqlite3 "$db" "SELECT s.value FROM summary s JOIN runs r ON r.rid = s.rid WHERE r.id = '$run' AND s.name = '$1'"; }

# The test split: the CSV's correct column gives back the recorded test top-1, exactly (as counts).
expect_rc 0 "$XP" predict "$run" --split test --out split.csv --registry "$db"
cat "$tmp/out"
head -1 split.csv | grep >/dev/null "^index,path,label,correct,predicted,probability,class_1,probability_1" || fail "split header: $(head -1 split.csv)"
"$py" - "$(summary test_top1)" <<'PY' || fail "test top-1 not reproduced"
import csv, sys
rows = list(csv.DictReader(open("split.csv")))
correct = sum(int(r["correct"]) for r in rows)
recorded = float(sys.argv[1])
print("rows", len(rows), "correct", correct, "recorded top1", recorded)
assert len(rows) > 0
assert round(recorded * len(rows)) == correct and abs(recorded - correct / len(rows)) < 1e-9, (correct, recorded)
PY
grep -q "test_top1 $(summary test_top1 | cut -c1-6)" "$tmp/out" || fail "printed top-1 differs from the recorded one"

# Files, a folder (recursive) and a CSV of paths; one corrupt file and one missing path are skipped.
mkdir -p imgs/sub
for i in 1 2 3; do "$py" "$here/write_png.py" "imgs/sub/g$i.png" 28 28 1 "$i"; done
"$py" "$here/write_png.py" imgs/rgb.png 28 28 3 9        # colour: converted to grey as the dataset does
"$py" "$here/write_png.py" imgs/alpha.png 28 28 2 10     # grey + alpha
echo "not an image" > imgs/broken.png
printf 'path,note\nsub/g1.png,x\n"sub/g2.png",y\n' > imgs/list.csv
expect_rc 0 "$XP" predict "$run" imgs imgs/list.csv missing.png --out files.csv --top-k 3 --registry "$db"
cat "$tmp/out" "$tmp/err"
[[ $(tail -n +2 files.csv | wc -l) == 7 ]] || fail "expected 7 rows (5 images in the folder + 2 from the CSV): $(cat files.csv)"
grep -q "skipped .*broken.png" "$tmp/err" || fail "the broken file is not listed"
grep -q "skipped missing.png: no such file" "$tmp/err" || fail "the missing file is not listed"
grep -q "predicted 7 of 9 inputs .* 2 skipped" "$tmp/out" || fail "summary line"
head -1 files.csv | grep >/dev/null "^path,predicted,probability,class_1,probability_1,class_2,probability_2,class_3,probability_3$" \
  || fail "header: $(head -1 files.csv)"
# The same image predicted twice (folder and CSV) gets the same row.
[[ $(grep -c "/sub/g1.png," files.csv) == 2 ]] || fail "g1 twice"
[[ $(grep "/sub/g1.png," files.csv | cut -d, -f2- | sort -u | wc -l) == 1 ]] || fail "g1 predicted differently"
# Read on 3 threads, in batches of 2 (a batch boundary beside the broken file): the same rows in the same
# order, the same skips.
expect_rc 0 "$XP" predict "$run" imgs imgs/list.csv missing.png --out files3.csv --top-k 3 --workers 3 --batch-size 2 \
  --no-record --registry "$db"
grep -q "predicted 7 of 9 inputs .* 2 skipped" "$tmp/out" || fail "summary line with --workers 3"
cmp files.csv files3.csv || fail "--workers 3 --batch-size 2 predicts differently: $(diff files.csv files3.csv)"

# Kaggle submission.
expect_rc 0 "$XP" predict "$run" imgs/sub --out sub.csv --format submission --id-column image_id --label-column label --registry "$db"
[[ $(head -1 sub.csv) == "image_id,label" ]] || fail "submission header"
grep -q "^g2.png," sub.csv || fail "submission ids are file names"

# Recorded with the run: xp show lists the predictions.
expect_rc 0 "$XP" show "$run" --registry "$db"
grep -q "predictions" "$tmp/out" || fail "xp show does not list the prediction jobs"
[[ $(sqlite3 "$db" "SELECT COUNT(*) FROM artifacts a JOIN runs r ON r.rid = a.rid WHERE r.id = '$run' AND a.kind = 'predictions'") == 3 ]] \
  || fail "three prediction jobs recorded"
"$py" -c "import json; j = json.load(open('files.csv.predict.json')); assert j['inputs'] == 9 and j['predicted'] == 7 and j['skipped'] == 2 and len(j['inputs_sha256']) == 64, j"

# Nothing predictable: exit 1. Bad input: exit 2 with a clear message.
expect_rc 1 "$XP" predict "$run" imgs/broken.png --out none.csv --registry "$db"
grep -q "nothing could be predicted" "$tmp/err" || fail "no-prediction message"
# An id that is no prefix of the run's: its 7th character changed (a fixed "x" matched run rmx7m9x… once).
other=$([ "${run:6:1}" = x ] && echo y || echo x)
expect_rc 2 "$XP" predict "${run:0:6}$other" imgs --out x.csv --registry "$db"
grep -q "no run '${run:0:6}$other'" "$tmp/err" || fail "unknown run message: $(cat "$tmp/err")"
expect_rc 2 "$XP" predict "$run" imgs --out x.csv --tta flipz --registry "$db"
grep -q "did you mean 'flips'" "$tmp/err" || fail "tta suggestion: $(cat "$tmp/err")"
expect_rc 2 "$XP" predict "$run" --split tset --out x.csv --registry "$db"
grep -q "did you mean 'test'" "$tmp/err" || fail "split suggestion"
expect_rc 2 "$XP" predict "$run" imgs/list.csv --path-column file --out x.csv --registry "$db"
grep -q "no column 'file'" "$tmp/err" || fail "csv column message: $(cat "$tmp/err")"
expect_rc 2 "$XP" predict "$run" imgs --registry "$db"
grep -q "\-\-out is required" "$tmp/err" || fail "--out message"
rundir=$(sqlite3 "$db" "SELECT run_dir FROM runs WHERE id = '$run'")
mv "$rundir/checkpoints/best.pt" "$tmp/best.pt"
expect_rc 2 "$XP" predict "$run" imgs --out x.csv --registry "$db"
grep -q "has no checkpoint .*best.pt (try --checkpoint last)" "$tmp/err" || fail "missing checkpoint message: $(cat "$tmp/err")"
mv "$tmp/best.pt" "$rundir/checkpoints/best.pt"
echo "ok"
