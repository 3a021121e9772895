#!/usr/bin/env bash
# xp sweep end to end on a tiny segmentation setup: errors in sweep files, a 2-worker random sweep
# whose trials are ordinary tagged runs, status/report/list, --resume of a finished sweep, and
# Ctrl-C leaving a resumable sweep.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reg="$tmp/runs/registry.db"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$tmp/base.toml" <<TOML
[experiment]
name = "sweep_cli"
extends = "$XP_SOURCE_DIR/experiments/examples/focal_vs_tversky.toml"
TOML

write_sweep() {  # name method trials extra
  cat > "$tmp/$1.toml" <<TOML
[sweep]
experiment = "base.toml"
variant = "focal"
method = "$2"
metric = "best_val_loss"
mode = "min"
trials = $3
seeds = [7]
$4
[sweep.fixed]
"train.epochs" = 2
"train.batch_size" = 4
"train.threads" = 1
"train.workers" = 0
"train.checkpoint.monitor" = "val_loss"   # defined even when a tiny val split has no positives
"train.checkpoint.mode" = "min"
"data.image_size" = 32
"data.train_size" = 16
"data.object_tile_fraction" = 0.5
"data.val_size" = 4
"data.test_size" = 4
"model.depth" = 2
"model.base_width" = 4
[space]
"loss.gamma" = { type = "uniform", low = 0.5, high = 5.0, grid_points = 2 }
"loss.alpha" = { type = "choice", values = [0.25, 0.75] }
TOML
}

# A misspelt key: exit 2, file:line:col and a suggestion.
write_sweep bad random 2 'metod = "tpe"'
set +e
out=$("$XP" sweep "$tmp/bad.toml" --registry "$reg" 2>&1); code=$?
set -e
[ $code -eq 2 ] || fail "bad sweep file: exit $code, want 2: $out"
echo "$out" | grep >/dev/null "bad.toml:9:1" || fail "no file:line:col in: $out"
echo "$out" | grep >/dev/null "did you mean 'method'" || fail "no suggestion in: $out"

# A random sweep of 3 trials on 2 workers.
write_sweep rand random 3 ''
out=$("$XP" sweep "$tmp/rand.toml" --workers 2 --registry "$reg" 2>&1) || fail "sweep failed: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^sweep \(sw-[0-9a-f]*\):.*/\1/p' | head -1)
[ -n "$id" ] || fail "no sweep id in output"
echo "$out" | grep >/dev/null "done: 3 complete" || fail "expected 3 complete trials"

status=$("$XP" sweep status "$id" --registry "$reg")
echo "$status" | grep >/dev/null "(finished)" || fail "status: $status"
echo "$status" | grep >/dev/null "3 complete of 3" || fail "status: $status"

report=$("$XP" sweep report "$id" --registry "$reg" --best-config "$tmp/best.toml")
echo "$report"
echo "$report" | grep >/dev/null "best configuration" || fail "report has no best configuration"
grep -q "extends = " "$tmp/best.toml" || fail "best.toml does not extend the experiment"
grep -q "^gamma = " "$tmp/best.toml" || fail "best.toml lacks loss.gamma"
"$XP" validate "$tmp/best.toml" --variant focal > /dev/null || fail "best.toml does not validate"
echo "$report" | grep >/dev/null "^  parameter  *value  *trials  *mean best_val_loss  *best best_val_loss$" ||
  fail "sweep report has no per-parameter table"

# xp report --sweep: the same report (one function behind both), --top cuts the ranking.
report2=$("$XP" report --sweep "$id" --registry "$reg" --best-config "$tmp/best2.toml")
echo "$report2"
[ "$report2" = "${report//best.toml/best2.toml}" ] || fail "xp report --sweep differs from xp sweep report"
cmp -s "$tmp/best.toml" "$tmp/best2.toml" || fail "--best-config files differ"
# Ranking: rank 1..3, completed trials ordered by the objective (min best_val_loss).
ranks=$(echo "$report2" | awk '$1 ~ /^[0-9]+$/ && $3 == "complete" {print $1}' | tr '\n' ' ')
[ "$ranks" = "1 2 3 " ] || fail "ranking rows: '$ranks'"
values=$(echo "$report2" | awk '$1 ~ /^[0-9]+$/ && $3 == "complete" {print $4}')
[ "$values" = "$(echo "$values" | sort -g)" ] || fail "trials not ranked by best_val_loss: $values"
# The best configuration as a TOML block that extends the experiment.
echo "$report2" | grep >/dev/null "^best configuration (trial [0-9]*):" || fail "no best configuration heading"
echo "$report2" | grep >/dev/null "^extends = " || fail "no TOML block in the report"
echo "$report2" | grep >/dev/null "^\[loss\]$" || fail "no [loss] table in the TOML block"
echo "$report2" | grep >/dev/null "^or: xp run " || fail "no xp run line"
# Per-parameter table: both searched parameters, every alpha choice with its trial count.
table=$(echo "$report2" | sed -n '/^  parameter /,/^$/p')
echo "$table" | grep >/dev/null "^  loss.alpha  *0.25 " || fail "per-parameter table lacks loss.alpha 0.25: $table"
echo "$table" | grep >/dev/null "^  *0.75 " || fail "per-parameter table lacks loss.alpha 0.75: $table"
echo "$table" | grep >/dev/null "^  loss.gamma  " || fail "per-parameter table lacks loss.gamma: $table"
# A row is "  KEY  VALUE  TRIALS ..." or, under its key, "  VALUE  TRIALS ...": 3 trials per key.
n=$(echo "$table" | awk 'NR > 1 && NF > 0 {n += ($1 ~ /^loss\./) ? $3 : $2} END {print n + 0}')
[ "$n" -eq 6 ] || fail "per-parameter table: trials should add up to 3 per parameter, got $n: $table"
top=$("$XP" report --sweep "$id" --registry "$reg" --top 1)
[ "$(echo "$top" | awk '$1 ~ /^[0-9]+$/ && $3 == "complete"' | wc -l)" -eq 1 ] || fail "--top 1: $top"
set +e
"$XP" report focal_vs_tversky --sweep "$id" --registry "$reg" > /dev/null 2>&1; code=$?
"$XP" report --sweep sw-nope --registry "$reg" > /dev/null 2>&1; code2=$?
"$XP" report --top 2 --registry "$reg" > /dev/null 2>&1; code3=$?
set -e
[ $code -eq 2 ] && [ $code2 -eq 2 ] && [ $code3 -eq 2 ] ||
  fail "report --sweep misuse: exit $code (experiment too), $code2 (unknown id), $code3 (--top alone), want 2"

# Every trial is an ordinary run, tagged with the sweep.
if "$XP" runs --help > /dev/null 2>&1; then
  runs=$("$XP" runs --registry "$reg" --where "tags.sweep = '$id'" --format csv 2>&1)
  n=$(echo "$runs" | tail -n +2 | grep -c . || true)
  [ "$n" -ge 3 ] || fail "expected 3 tagged runs, got: $runs"
fi

"$XP" sweep list --registry "$reg" | grep >/dev/null "$id" || fail "sweep list misses $id"

# Resuming a finished sweep reruns nothing.
out=$("$XP" sweep --resume "$id" --registry "$reg" 2>&1) || fail "resume failed: $out"
echo "$out" | grep >/dev/null "done: 3 complete" || fail "resume changed the trials: $out"

# Unknown sweep id: exit 2.
set +e
"$XP" sweep status sw-nope --registry "$reg" > /dev/null 2>&1; code=$?
set -e
[ $code -eq 2 ] || fail "unknown sweep id: exit $code, want 2"

# Ctrl-C: the sweep stops with 130, its trial is interrupted, --resume finishes it.
write_sweep grid grid 4 ''
"$XP" sweep "$tmp/grid.toml" --workers 1 --registry "$reg" > "$tmp/grid.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "^sweep sw-" "$tmp/grid.out" && break
  sleep 0.1
done
gid=$(sed -n 's/^sweep \(sw-[0-9a-f]*\):.*/\1/p' "$tmp/grid.out" | head -1)
[ -n "$gid" ] || fail "grid sweep did not start: $(cat "$tmp/grid.out")"
for _ in $(seq 1 100); do
  "$XP" sweep status "$gid" --registry "$reg" | grep >/dev/null "running: trial" && break
  sleep 0.1
done
kill -INT $pid
set +e
wait $pid; code=$?
set -e
cat "$tmp/grid.out"
[ $code -eq 130 ] || fail "interrupted sweep: exit $code, want 130"
"$XP" sweep status "$gid" --registry "$reg" | grep >/dev/null "(interrupted)" || fail "sweep not marked interrupted"
out=$("$XP" sweep --resume "$gid" --registry "$reg" 2>&1) || fail "resume failed: $out"
echo "$out"
echo "$out" | grep >/dev/null "done: 4 complete" || fail "resume did not finish the grid: $out"
echo "sweep_cli: ok"
