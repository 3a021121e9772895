#!/usr/bin/env bash
# A run killed with SIGKILL mid-training is marked crashed by the next `xp run`, and
# `xp run --resume RUN_DIR` (no experiment file: the run's recorded config) finishes it with the
# same per-epoch metrics as an uninterrupted run of the same seed. Also: --tag is recorded.
set -euo pipefail
: "${XP:?path of the xp binary}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat > "$tmp/resume.toml" <<'TOML'
[experiment]
name = "resume"
seeds = [5]
[data]
plugin = "fashion_mnist"
limit = 1500
[model]
plugin = "simple_cnn"
in_channels = 1
channels = [8, 16]
hidden = 32
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[train]
epochs = 6
batch_size = 32
workers = 2
threads = 1
optimizer = { name = "sgd", lr = 0.05 }
schedule = { name = "cosine" }
checkpoint = { monitor = "val_top1", mode = "max" }
TOML
cd "$tmp"
reg="$tmp/runs/registry.db"

# Reference: the same run, uninterrupted, in its own registry.
"$XP" run resume.toml --registry "$tmp/ref/registry.db" --tag purpose=reference > ref.txt 2>&1 || { cat ref.txt; fail "reference run"; }
ref_dir=$(ls -d "$tmp"/ref/resume/*/)
"$XP" runs --registry "$tmp/ref/registry.db" --where "tags.purpose = 'reference'" --format csv > tagged.csv
[ "$(wc -l < tagged.csv)" -eq 2 ] || { cat tagged.csv; fail "--tag purpose=reference not queryable"; }

# Kill -9 once the first epoch's checkpoint exists.
"$XP" run resume.toml --registry "$reg" > first.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if compgen -G "$tmp/runs/resume/*/checkpoints/last.pt" > /dev/null; then break; fi
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "the run finished before it could be killed; make it longer"
wait "$pid" 2>/dev/null || true
run_dir=$(ls -d "$tmp"/runs/resume/*/)
run_id=$(basename "$run_dir")
grep -q "^epoch 6/6" first.txt && fail "the killed run reached the last epoch"

# --set with --resume and no experiment file is refused: the recorded config is the truth.
set +e
"$XP" run --resume "$run_id" --registry "$reg" --set train.epochs=9 > /dev/null 2> err.txt
rc=$?
set -e
[ $rc -eq 2 ] || { cat err.txt; fail "--set with --resume: expected exit 2, got $rc"; }

# Resume from the folder alone.
"$XP" run --resume "$run_dir" --registry "$reg" > second.txt 2> second_err.txt || { cat second.txt second_err.txt; fail "resume"; }
grep -q "marked crashed" second_err.txt || { cat second_err.txt; fail "the killed run was not marked crashed"; }
grep -q "resumed from" second.txt || { cat second.txt; fail "no 'resumed from' line"; }
grep -q "missing ones stay missing" second.txt && { cat second.txt; fail "a finished epoch lost its metrics.csv row to the kill"; }
grep -q "finished" second.txt || { cat second.txt; fail "resumed run did not finish"; }
"$XP" runs --registry "$reg" --format csv | grep >/dev/null finished || fail "registry does not show the run finished"

# Same metrics as the uninterrupted run, epoch by epoch (time and memory columns differ, drop them).
strip_time() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i !~ /^(time|mem)_/) }
           { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i ","; print line }' "$1"
}
strip_time "$ref_dir/metrics.csv" > ref_metrics.txt
strip_time "$run_dir/metrics.csv" > resumed_metrics.txt
[ "$(wc -l < ref_metrics.txt)" -eq 7 ] || { cat ref_metrics.txt; fail "reference should have 6 epochs"; }
diff ref_metrics.txt resumed_metrics.txt || fail "resumed metrics differ from the uninterrupted run"
echo ok
