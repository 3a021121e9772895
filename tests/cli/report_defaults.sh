#!/usr/bin/env bash
# `xp report EXPERIMENT` without --metric and --baseline answers the study, tried as a new user
# would: a focal_vs_tversky-like study is compared against the variant its file declares first
# (focal; alphabetically compound is first) on the checkpoint monitor (val_ap) and the test metrics
# of its metric plugins (not best_epoch, the test loss, the calibrated re-test or per-bin values),
# from what the runs recorded in the registry. [experiment] baseline and metric, recorded by the
# newest run, change that; --baseline and --metric win over both. Text, JSON and HTML agree.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reg="$tmp/runs/registry.db"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 CLI not installed"

# The main job's experiment file, tiny: its variants are focal, tversky, compound, in that order.
study() {  # study FILE [extra [experiment] lines]
  cat > "$1" <<TOML
[experiment]
name = "defaults_study"
extends = "$XP_SOURCE_DIR/experiments/focal_vs_tversky.toml"
seeds = [1, 2]
$2
[data]
image_size = 32
train_size = 16
val_size = 8
test_size = 8
object_tile_fraction = 0.5
[model]
depth = 2
base_width = 4
[train]
epochs = 2
batch_size = 4
threads = 1
workers = 0
tta = "none"
TOML
}
study "$tmp/study.toml" ""
"$XP" run "$tmp/study.toml" --variant compound --variant focal --registry "$reg" > "$tmp/run.log" 2>&1 ||
  { tail -30 "$tmp/run.log"; fail "xp run"; }
[[ "$(sqlite3 "$reg" "SELECT DISTINCT value FROM tags WHERE key = 'report_variants'")" == "focal,tversky,compound" ]] ||
  fail "runs did not record the file's variants in order"
# The calibration callback recorded the reliability diagram, before and after temperature scaling.
[[ "$(sqlite3 "$reg" "SELECT COUNT(*) FROM summary WHERE name LIKE 'test\_reliability\_%\_freq' ESCAPE '\'")" -gt 0 ]] ||
  fail "no reliability bins recorded"
[[ "$(sqlite3 "$reg" "SELECT COUNT(*) FROM summary WHERE name LIKE 'test\_cal\_reliability\_%\_freq' ESCAPE '\'")" -gt 0 ]] ||
  fail "no calibrated reliability bins recorded"

# A plain call, as a new user types it.
"$XP" report defaults_study --registry "$reg" --format json > "$tmp/report.json"
python3 - "$tmp/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = [m["name"] for m in r["metrics"]]
assert r["baseline"] == "focal", r["baseline"]
assert r["baseline_reason"] == "declared first", r["baseline_reason"]
assert [g["group"] for g in r["groups"]] == ["focal", "compound"], [g["group"] for g in r["groups"]]
assert names[0] == "val_ap" and r["metrics"][0]["mode"] == "max", r["metrics"][0]
tests = names[1:]
for want in ["test_ap", "test_iou", "test_f1", "test_obj_f1_30"]:
    assert want in tests, (want, names)
for name in tests:
    assert name.startswith("test_") and not name.startswith("test_cal_"), name
    assert name not in ("test_loss", "test_epoch"), name
    assert "reliability" not in name and "obj_precision_" not in name and "obj_recall_" not in name, name
assert "best_epoch" not in names
for g in r["groups"]:
    assert g["metrics"]["val_ap"]["n"] == 2, g
print("defaults:", names[:3], "...", len(names), "metrics; baseline", r["baseline"])
PY
"$XP" report defaults_study --registry "$reg" > "$tmp/report.txt"
head -1 "$tmp/report.txt" | grep >/dev/null "baseline 'focal' (declared first in the experiment file)" ||
  { cat "$tmp/report.txt"; fail "the text report does not name the baseline and why"; }
grep -q "^val_ap (higher is better)" "$tmp/report.txt" || fail "the text report lacks val_ap"
grep -q "^test_iou (higher is better)" "$tmp/report.txt" || fail "the text report lacks test_iou"
grep -q "p vs focal" "$tmp/report.txt" || fail "the text table does not test against focal"
! grep -q "best_epoch" "$tmp/report.txt" || fail "best_epoch reported"

# The page: the same metrics and baseline (its embedded report is the JSON report).
"$XP" report defaults_study --registry "$reg" --html "$tmp/study.html" > /dev/null 2>&1 || fail "xp report --html"
python3 - "$tmp/study.html" "$tmp/report.json" <<'PY'
import html, json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
want = json.load(open(sys.argv[2]))
data = re.search(r'<script type="application/json" id="xp-data-report">(.*?)</script>', page, re.S).group(1)
got = json.loads(data.replace("<\\/", "</"))
assert got == want, "the page's report differs from --format json"
for m in want["metrics"]:
    assert 'id="ablation-%s"' % m["name"] in page, m["name"]
assert "p vs focal" in page
print("page: same report,", len(want["metrics"]), "ablation tables")
PY

# [experiment] baseline and metric: the newest run records them and the report follows.
study "$tmp/marked.toml" 'baseline = "compound"
metric = "test_cal_f1"'
"$XP" run "$tmp/marked.toml" --variant tversky --seeds 3 --registry "$reg" > "$tmp/run2.log" 2>&1 ||
  { tail -30 "$tmp/run2.log"; fail "xp run (marked)"; }
"$XP" report defaults_study --registry "$reg" --format json > "$tmp/marked.json"
python3 - "$tmp/marked.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = [m["name"] for m in r["metrics"]]
assert r["baseline"] == "compound" and r["baseline_reason"] == "[experiment] baseline", (r["baseline"], r["baseline_reason"])
assert names[:2] == ["test_cal_f1", "val_ap"], names
assert [g["group"] for g in r["groups"]] == ["focal", "tversky", "compound"], [g["group"] for g in r["groups"]]
PY
"$XP" report defaults_study --registry "$reg" > "$tmp/marked.txt"
head -1 "$tmp/marked.txt" | grep >/dev/null "baseline 'compound' (the experiment's baseline)" || { head -3 "$tmp/marked.txt"; fail "marked baseline line"; }

# The command line wins.
"$XP" report defaults_study --registry "$reg" --baseline focal --metric test_iou --format json > "$tmp/told.json"
python3 -c "
import json, sys
r = json.load(open('$tmp/told.json'))
assert r['baseline'] == 'focal' and r['baseline_reason'] == '--baseline', r['baseline']
assert [m['name'] for m in r['metrics']] == ['test_iou'], r['metrics']"
echo "report defaults: OK"
