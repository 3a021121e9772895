#!/usr/bin/env bash
# Sweeps across machines on a real (throwaway) PostgreSQL registry: the sweep is recorded with
# --launcher none, independent `xp sweep worker` processes lease its trials; one worker is killed
# with -9 mid-trial, its lease expires and another worker runs the trial again. Every trial ends
# complete exactly once; the killed attempt's run is not counted. Also `xp registry copy` of the
# result into a SQLite file, twice (the second adds nothing), and `xp runs`/`xp report` on the URL.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
pgdir=$(mktemp -d /tmp/xp-pg-XXXXXX)
pg="$XP_SOURCE_DIR/tests/support/pg_server.sh"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  bash "$pg" stop "$pgdir"
  rm -rf "$tmp" "$pgdir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }

bash "$pg" start "$pgdir" > /dev/null
reg=$(bash "$pg" createdb "$pgdir" lab)
psql_q() { /usr/lib/postgresql/15/bin/psql "$reg" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
export XP_RUN_ROOT="$tmp/runs"  # run folders of a server registry

cat > "$tmp/base.toml" <<TOML
[experiment]
name = "sweep_pg"
extends = "$XP_SOURCE_DIR/experiments/examples/focal_vs_tversky.toml"
TOML
cat > "$tmp/s.toml" <<TOML
[sweep]
experiment = "base.toml"
variant = "focal"
method = "grid"
metric = "best_val_loss"
mode = "min"
seeds = [7]
lease_seconds = 8   # renewed every 2 s; a loaded CI machine must not lose leases by stalling
max_retries = 2
[sweep.fixed]
"train.epochs" = 30   # long enough that worker A is still in trial 0 when it is killed (an idle machine trains 3 epochs in under a second)
"train.batch_size" = 4
"train.threads" = 1
"train.workers" = 0
"train.checkpoint.monitor" = "val_loss"
"train.checkpoint.mode" = "min"
"data.image_size" = 32
"data.train_size" = 16
"data.object_tile_fraction" = 0.5
"data.val_size" = 4
"data.test_size" = 4
"model.depth" = 2
"model.base_width" = 4
[space]
"loss.gamma" = { type = "choice", values = [1.0, 2.0, 3.0] }
TOML

out=$("$XP" sweep "$tmp/s.toml" --launcher none --registry "$reg" 2>&1) || fail "recording the sweep: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^sweep \(sw-[0-9a-f]*\):.*/\1/p' | head -1)
[ -n "$id" ] || fail "no sweep id in: $out"
echo "$out" | grep >/dev/null "xp sweep worker $id --registry postgresql://" || fail "no worker command in: $out"

# Worker A takes trial 0; once its run is recording epochs, kill -9 (no chance to clean up).
"$XP" sweep worker "$id" --registry "$reg" --name A > "$tmp/A.log" 2>&1 &
apid=$!
pids+=("$apid")
for _ in $(seq 1 600); do
  n=$(psql_q "SELECT COUNT(*) FROM metrics m JOIN tags t ON t.rid = m.rid AND t.key = 'sweep' AND t.value = '$id'")
  [ "$n" -gt 0 ] && break
  sleep 0.1
done
[ "$n" -gt 0 ] || fail "worker A's trial never logged an epoch"
kill -9 "$apid"
wait "$apid" 2>/dev/null || true
[ "$(psql_q "SELECT state || ' ' || worker || ' ' || attempts FROM sweep_trials WHERE sweep_id = '$id' AND number = 0")" = "running A 1" ] ||
  fail "trial 0 should still be leased by the dead worker A"

# Two more workers, as if on other machines: they finish the sweep, trial 0 again once its lease expires.
"$XP" sweep worker "$id" --registry "$reg" --name B > "$tmp/B.log" 2>&1 &
pids+=($!)
"$XP" sweep worker "$id" --registry "$reg" --name C > "$tmp/C.log" 2>&1 &
pids+=($!)
for p in "${pids[@]:1}"; do wait "$p" || fail "a worker exited with $?"; done

psql_q "SELECT number, state, attempts, worker FROM sweep_trials WHERE sweep_id = '$id' ORDER BY number"
[ "$(psql_q "SELECT COUNT(*) FROM sweep_trials WHERE sweep_id = '$id' AND state = 'complete'")" = 3 ] ||
  fail "not every trial completed"
row0=$(psql_q "SELECT attempts, worker FROM sweep_trials WHERE sweep_id = '$id' AND number = 0")
case "$row0" in [2-9]\|B | [2-9]\|C) ;; *) fail "trial 0 should have been re-run by B or C, got '$row0'" ;; esac
# Never duplicated: one finished run per trial, and the trial counts only that one.
dups=$(psql_q "SELECT t.value, COUNT(*) FROM runs r JOIN tags t ON t.rid = r.rid AND t.key = 'trial'
               JOIN tags s ON s.rid = r.rid AND s.key = 'sweep' AND s.value = '$id'
               WHERE r.status = 'finished' GROUP BY t.value HAVING COUNT(*) <> 1")
[ -z "$dups" ] || fail "trials with other than one finished run: $dups"
ids=$(psql_q "SELECT run_ids FROM sweep_trials WHERE sweep_id = '$id' AND number = 0")
[ "$(psql_q "SELECT status FROM runs WHERE id = '$ids'")" = finished ] || fail "trial 0 points at run '$ids'"
[ "$(psql_q "SELECT COUNT(*) FROM runs r JOIN tags t ON t.rid = r.rid AND t.key = 'trial' AND t.value = '0'
             JOIN tags s ON s.rid = r.rid AND s.key = 'sweep' AND s.value = '$id'")" -ge 2 ] ||
  fail "the killed attempt's run should be recorded too"

status=$("$XP" sweep status "$id" --registry "$reg")
echo "$status"
echo "$status" | grep >/dev/null "3 complete of 3" || fail "status: $status"

# The ordinary queries on the server.
"$XP" runs --registry "$reg" --where "tags.sweep = '$id' and status = 'finished' and params.loss.gamma >= 2" \
  --format csv > "$tmp/runs.csv"
[ "$(tail -n +2 "$tmp/runs.csv" | grep -c .)" -eq 2 ] || fail "xp runs --where on PostgreSQL: $(cat "$tmp/runs.csv")"
"$XP" report sweep_pg --registry "$reg" > "$tmp/report.txt" || fail "xp report on PostgreSQL: $(cat "$tmp/report.txt")"

# Into a SQLite file and again: the second copy adds nothing.
out=$("$XP" registry copy "$reg" "$tmp/copy.db")
echo "$out"
echo "$out" | grep >/dev/null "sweeps: 1 copied" || fail "copy: $out"
out=$("$XP" registry copy "$reg" "$tmp/copy.db")
echo "$out" | grep >/dev/null "^copied 0 run(s), updated 0, [0-9]* already there; sweeps: 0 copied, 0 updated, 1 already there (0 rows)" ||
  fail "second copy was not a no-op: $out"
"$XP" sweep status "$id" --registry "$tmp/copy.db" | grep >/dev/null "3 complete of 3" || fail "the copied sweep differs"
info=$("$XP" registry info --registry "$reg")
echo "$info" | grep >/dev/null "backend: postgresql, schema version 3" || fail "registry info: $info"
echo "OK"
