#!/usr/bin/env bash
# xp report --html, xp report --sweep ID --html and xp show RUN --html, opened in a real headless
# Chromium: every chart renders with data marks, no JavaScript error, no network request (the
# page's Content-Security-Policy blocks any and the page reports it), and the numbers of the
# page's ablation table equal `xp report --format json`. A failed and a crashed run are listed and
# marked. Two broken copies of the page (a remote image, a script error) must be caught, so the
# checks can fail. The study page's screenshot is kept in build/test-artifacts/.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}" "${XP_BINARY_DIR:?}"
chrome=${XP_CHROMIUM:-/usr/bin/chromium}
[[ -x "$chrome" ]] || { echo "FAIL: no Chromium at $chrome (scripts/install-deps installs it)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reg="$tmp/runs/registry.db"
artifacts="$XP_BINARY_DIR/test-artifacts"
mkdir -p "$artifacts"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A real study, tiny: the main job's file (pixel, object and AP metrics, calibration), two variants
# x two seeds, two epochs of 32-pixel tiles.
cat > "$tmp/study.toml" <<TOML
[experiment]
name = "html_study"
extends = "$XP_SOURCE_DIR/experiments/focal_vs_tversky.toml"
seeds = [1, 2]
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
checkpoint = { monitor = "val_loss", mode = "min" }
TOML
for v in focal tversky; do
  "$XP" run "$tmp/study.toml" --variant "$v" --registry "$reg" > "$tmp/run_$v.log" 2>&1 || { cat "$tmp/run_$v.log"; fail "xp run $v"; }
done
# A failed and a crashed run of the same study (as a killed or broken run leaves them).
sqlite3 "$reg" "INSERT INTO runs(id, experiment, variant, seed, status, message, start_time, end_time, heartbeat, duration)
  VALUES ('r0failed000001', 'html_study', 'focal', 3, 'failed', 'loss is nan at step 7', 1700000000, 1700000010, 1700000010, 10),
         ('r0crashed00001', 'html_study', 'tversky', 4, 'crashed', 'no heartbeat for 10m', 1700000000, NULL, 1700000005, NULL)"

# Chromium: the DOM after the page's scripts ran (virtual time lets every chart finish).
render() {  # render PAGE OUT.dom [extra flags...]
  local page=$1 out=$2; shift 2
  rm -rf "$tmp/profile"
  timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --disable-component-update --disable-sync --disable-default-apps --user-data-dir="$tmp/profile" \
    --virtual-time-budget=15000 "$@" --dump-dom "file://$page" > "$out" 2> "$out.log" ||
    { tail -20 "$out.log"; fail "chromium failed on $page"; }
}
# check_dom DOM: the page finished, every chart drew data marks, no error was recorded.
check_dom() {
  python3 - "$1" <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
body = re.search(r"<body([^>]*)>", dom)
assert body, "no <body> in the dumped DOM"
attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
errors = re.search(r'<div id="xp-errors"[^>]*>(.*?)</div>', dom, re.S)
assert attrs.get("data-done") == "1", f"page scripts did not finish: {attrs}"
assert attrs.get("data-errors") == "0", f"errors on the page: {errors.group(1) if errors else attrs}"
charts = int(attrs["data-charts"])
assert charts > 0 and attrs.get("data-charts-ok") == str(charts), f"charts rendered: {attrs}"
tags = re.findall(r'<div [^>]*data-chart="\d+"[^>]*>', dom)
states = [(re.search(r'data-rendered="(\w+)"', t) or re.search("()", t)).group(1) for t in tags]
marks = [int((re.search(r'data-marks="(\d+)"', t) or re.search("(0)", "0")).group(1)) for t in tags]
assert len(states) == charts and set(states) == {"ok"}, states
assert len(marks) == charts and min(marks) > 0, marks
assert "<svg" in dom
print(f"{charts} charts rendered, {sum(marks)} data marks, no errors")
PY
}

# The study page.
"$XP" report html_study --registry "$reg" --metric best_val_loss --metric test_loss --html "$tmp/study.html" \
  > "$tmp/report.txt" 2> "$tmp/report.err" || { cat "$tmp/report.err"; fail "xp report --html"; }
grep -q "wrote $tmp/study.html" "$tmp/report.err" || fail "no 'wrote' line"
"$XP" report html_study --registry "$reg" --metric best_val_loss --metric test_loss > "$tmp/plain.txt"
cmp -s "$tmp/report.txt" "$tmp/plain.txt" || fail "--html changed the text report"
"$XP" report html_study --registry "$reg" --metric best_val_loss --metric test_loss --format json > "$tmp/report.json"
size=$(stat -c %s "$tmp/study.html")
(( size < 3000000 )) || fail "study page is $size bytes"
render "$tmp/study.html" "$tmp/study.dom"
check_dom "$tmp/study.dom"
# The segmentation task panels, from what the runs recorded (check_dom: each drew data marks).
for title in "object precision-recall over IoU thresholds (test)" "reliability diagram (test, mean over runs)"; do
  grep -qF "$title" "$tmp/study.dom" || fail "study page lacks the panel '$title'"
done

# The table's numbers are the JSON report's; failed and crashed runs are listed, marked.
python3 - "$tmp/study.dom" "$tmp/report.json" <<'PY'
import html, json, math, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
rep = json.load(open(sys.argv[2]))
checked = 0
for metric in rep["metrics"]:
    name = metric["name"]
    table = re.search(r'<table class="sortable" id="ablation-%s">(.*?)</table>' % re.escape(name), dom, re.S)
    assert table, f"no ablation table for {name}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)[1:]
    assert len(rows) == len(rep["groups"]), (len(rows), len(rep["groups"]))
    for row, group in zip(rows, rep["groups"]):
        cells = {m.group(2): m.group(1) for m in re.finditer(r'<td(?: data-v="([^"]*)")? class="f-([\w]+)[^"]*"', row)}
        label = html.unescape(re.search(r'class="f-group">([^<]*)<', row).group(1))
        assert label.startswith(group["group"]), (label, group["group"])
        want = group["metrics"][name]
        for field in ["n", "mean", "std", "min", "max", "ci95_low", "ci95_high", "p_value"]:
            w = want.get(field)
            got = cells.get(field)
            if w is None:
                assert got is None, f"{name} {group['group']} {field}: page {got}, json null"
                continue
            assert got is not None, f"{name} {group['group']} {field}: page has none, json {w}"
            assert math.isclose(float(got), w, rel_tol=1e-12, abs_tol=1e-15), f"{name} {group['group']} {field}: page {got}, json {w}"
            checked += 1
assert checked >= 20, checked
runs = re.search(r'<table class="sortable" id="runs">(.*?)</table>', dom, re.S).group(1)
for rid, status in [("r0failed000001", "failed"), ("r0crashed00001", "crashed")]:
    row = re.search(r'<tr class="status-%s">(?:(?!</tr>).)*%s' % (status, rid), runs, re.S)
    assert row, f"{rid} not listed as {status}"
assert "loss is nan at step 7" in runs
print(f"{checked} table numbers equal the JSON report; failed and crashed runs marked")
PY

# A screenshot of the study page, kept as a test artifact.
rm -rf "$tmp/profile"
timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
  --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --hide-scrollbars \
  --virtual-time-budget=15000 --window-size=1400,3200 --screenshot="$artifacts/html_report_study.png" \
  "file://$tmp/study.html" > /dev/null 2>&1 || fail "screenshot"
(( $(stat -c %s "$artifacts/html_report_study.png") > 50000 )) || fail "screenshot looks blank"
cp "$tmp/study.html" "$artifacts/html_report_study.html"

# The checks can fail: a copy of the page with a remote image and a script error must fail them,
# and the page must name both.
sed -e 's|<main>|<main><img src="http://127.0.0.1:9/pixel.png" alt="">|' \
    -e 's|</main>|</main><script>window.setTimeout(function () { no_such_function(); }, 0);</script>|' \
    "$tmp/study.html" > "$tmp/broken.html"
render "$tmp/broken.html" "$tmp/broken.dom"
if check_dom "$tmp/broken.dom" > /dev/null 2>&1; then fail "a page with a remote image and a script error passed"; fi
grep -q "blocked a network request to http://127.0.0.1:9/pixel.png" "$tmp/broken.dom" || fail "the blocked request is not reported"
grep -q "no_such_function" "$tmp/broken.dom" || fail "the script error is not reported"

# The run page of one run.
run_id=$("$XP" runs --registry "$reg" -e html_study --status finished --format json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
"$XP" show "$run_id" --registry "$reg" --html "$tmp/run.html" > /dev/null 2> "$tmp/show.err" || { cat "$tmp/show.err"; fail "xp show --html"; }
render "$tmp/run.html" "$tmp/run.dom"
check_dom "$tmp/run.dom"
grep -q 'id="epochs"' "$tmp/run.dom" || fail "run page lacks the per-epoch table"
for title in "object precision-recall over IoU thresholds (test)" "reliability diagram (test)"; do
  grep -qF "$title" "$tmp/run.dom" || fail "run page lacks the panel '$title'"
done

# A classification run's panels: the confusion_matrix metric's counts and per-class recall, and
# per-class F1, as a run records them in its summary (a 3-class run, written into the registry).
sqlite3 "$reg" "INSERT INTO runs(id, experiment, variant, seed, status, start_time, end_time, heartbeat, duration)
    VALUES ('r0classify0001', 'html_classify', '', 0, 'finished', 1700000000, 1700000100, 1700000100, 100);
  INSERT INTO summary(rid, name, value, seq)
    SELECT r.rid, v.name, v.value, v.seq FROM runs r, (SELECT 'test_cm_0_0' AS name, 8 AS value, 1 AS seq
      UNION ALL SELECT 'test_cm_0_1', 2, 2 UNION ALL SELECT 'test_cm_1_1', 9, 3 UNION ALL SELECT 'test_cm_1_2', 1, 4
      UNION ALL SELECT 'test_cm_2_0', 3, 5 UNION ALL SELECT 'test_cm_2_2', 7, 6
      UNION ALL SELECT 'test_recall_class_0', 0.8, 7 UNION ALL SELECT 'test_recall_class_1', 0.9, 8
      UNION ALL SELECT 'test_recall_class_2', 0.7, 9 UNION ALL SELECT 'test_f1_class_0', 0.75, 10
      UNION ALL SELECT 'test_f1_class_1', 0.88, 11 UNION ALL SELECT 'test_f1_class_2', 0.74, 12
      UNION ALL SELECT 'test_top1', 0.8, 13) v WHERE r.id = 'r0classify0001';"
"$XP" show r0classify0001 --registry "$reg" --html "$tmp/classify.html" > /dev/null 2>&1 || fail "xp show --html (classification)"
render "$tmp/classify.html" "$tmp/classify.dom"
check_dom "$tmp/classify.dom"
for title in "confusion matrix (test, share of each true class)" "f1 per class (test)" "recall per class (test)"; do
  grep -qF "$title" "$tmp/classify.dom" || fail "classification run page lacks the panel '$title'"
done

# An ensemble of two of those runs (as `xp ensemble` records one): its page sets the members'
# values beside the ensemble's.
members=$("$XP" runs --registry "$reg" -e html_study --status finished --format json |
  python3 -c "import json,sys; print(','.join(r['id'] for r in json.load(sys.stdin)[:2]))")
metric=$(sqlite3 "$reg" "SELECT s.name FROM summary s JOIN runs r ON r.rid = s.rid WHERE r.id = '${members%%,*}' ORDER BY s.seq LIMIT 1")
[[ -n "$metric" ]] || fail "the runs recorded no summary"
sqlite3 "$reg" "INSERT INTO runs(id, experiment, variant, seed, status, start_time, end_time, heartbeat, duration)
    VALUES ('r0ensemble0001', 'html_study_ensemble', '', 0, 'finished', 1700000000, 1700000100, 1700000100, 100);
  INSERT INTO tags(rid, key, value) SELECT rid, 'ensemble_of', '$members' FROM runs WHERE id = 'r0ensemble0001';
  INSERT INTO summary(rid, name, value, seq) SELECT rid, '$metric', 0.5, 1 FROM runs WHERE id = 'r0ensemble0001';"
"$XP" show r0ensemble0001 --registry "$reg" --html "$tmp/ensemble.html" > /dev/null 2>&1 || fail "xp show ENSEMBLE --html"
render "$tmp/ensemble.html" "$tmp/ensemble.dom"
check_dom "$tmp/ensemble.dom"
grep -q "Members vs ensemble (2 members)" "$tmp/ensemble.dom" || fail "ensemble page lacks its members"

# A sweep of two trials on the same tiny setup, and its page.
cat > "$tmp/sweep.toml" <<TOML
[sweep]
experiment = "study.toml"
variant = "focal"
method = "random"
metric = "best_val_loss"
mode = "min"
trials = 2
seeds = [7]
[sweep.fixed]
"train.epochs" = 1
[space]
"loss.gamma" = { type = "uniform", low = 0.5, high = 5.0 }
"loss.alpha" = { type = "choice", values = [0.25, 0.75] }
TOML
out=$("$XP" sweep "$tmp/sweep.toml" --registry "$reg" 2>&1) || { echo "$out"; fail "xp sweep"; }
sweep_id=$(echo "$out" | sed -n 's/^sweep \(sw-[0-9a-f]*\):.*/\1/p' | head -1)
[[ -n "$sweep_id" ]] || { echo "$out"; fail "no sweep id"; }
"$XP" report --sweep "$sweep_id" --registry "$reg" --html "$tmp/sweep.html" > "$tmp/sweep.txt" || fail "xp report --sweep --html"
grep -q "wrote $tmp/sweep.html" "$tmp/sweep.txt" || fail "no 'wrote' line for the sweep page"
render "$tmp/sweep.html" "$tmp/sweep.dom"
check_dom "$tmp/sweep.dom"
grep -q 'id="best-config"' "$tmp/sweep.dom" || fail "sweep page lacks the best configuration"

# Errors: an unwritable path names the OS's reason, exit 2, and no page is left behind.
set +e
"$XP" report html_study --registry "$reg" --html "$tmp/no/such/dir/page.html" > /dev/null 2> "$tmp/err"; rc=$?
set -e
[[ $rc == 2 ]] || fail "unwritable --html: exit $rc, expected 2"
grep -q "cannot write '$tmp/no/such/dir/page.html': No such file or directory" "$tmp/err" || { cat "$tmp/err"; fail "unwritable message"; }
echo "html report: OK"
