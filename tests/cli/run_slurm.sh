#!/usr/bin/env bash
# xp run --launcher slurm on a real single-node Slurm started for the test (munged, slurmctld,
# slurmd; tests/support/slurm_cluster.sh): a 2-variant x 2-seed experiment is one job array
# (--array=0-3%2) whose tasks each lease one planned run from the registry. Every (variant, seed)
# is recorded exactly once with its job id and array index; submitting again, or a stray task
# started again (a requeued one), trains nothing more.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d /tmp/xp-run-slurm-XXXXXX)
chmod 755 "$tmp"
cluster="$XP_SOURCE_DIR/tests/support/slurm_cluster.sh"
cleanup() {
  bash "$cluster" stop "$tmp/slurm"
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 30 "$tmp"/runs/batches/*/slurm-*.out "$tmp"/slurm/log/*.log 2>/dev/null >&2 || true; exit 1; }

# Not eval "$(...)": that would hide a cluster that failed to start.
env_line=$(bash "$cluster" start "$tmp/slurm") || fail "the throwaway Slurm did not start"
eval "$env_line"
reg="$tmp/runs/registry.db"

cat > "$tmp/e.toml" <<TOML
[experiment]
name = "run_slurm"
extends = "$XP_SOURCE_DIR/experiments/examples/focal_vs_tversky.toml"
seeds = [7, 8]
[train]
epochs = 2
batch_size = 4
threads = 1
workers = 0
checkpoint = { monitor = "val_loss", mode = "min" }
[data]
image_size = 32
train_size = 8
object_tile_fraction = 0.5
val_size = 4
test_size = 4
[model]
depth = 2
base_width = 4
TOML
run=("$XP" run "$tmp/e.toml" --variant focal --variant tversky --set train.epochs=1 --registry "$reg")

# Usage errors: exit 2, before anything is recorded or submitted.
set +e
out=$("${run[@]}" --launcher slurmm 2>&1); code=$?
set -e
[ $code -eq 2 ] && echo "$out" | grep >/dev/null "did you mean 'slurm'" || fail "--launcher slurmm: exit $code: $out"
set +e
out=$("${run[@]}" --parallel 2 2>&1); code=$?
set -e
[ $code -eq 2 ] && echo "$out" | grep >/dev/null "need --launcher slurm" || fail "--parallel without slurm: exit $code: $out"

out=$("${run[@]}" --launcher slurm --parallel 2 --sbatch "--time=10:00" --wait 2>&1) || fail "slurm run: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^batch \(rb-[0-9a-f]*\): .*/\1/p' | head -1)
job=$(echo "$out" | sed -n 's/^  submitted Slurm job \([0-9]*\): array 0-3%2, .*/\1/p')
[ -n "$id" ] && [ -n "$job" ] || fail "no batch id or job id (array 0-3%2) in: $out"
echo "$out" | grep >/dev/null "^done: batch $id, 4 runs: 4 finished$" || fail "not every run finished: $out"

# Each (variant, seed) exactly once, finished, with the job id and its own array index.
check_runs() {
  json=$("$XP" runs --registry "$reg" --format json)
  echo "$json" | python3 -c '
import json, sys
job, batch = sys.argv[1], sys.argv[2]
runs = json.load(sys.stdin)
pairs = sorted((r["variant"], r["seed"]) for r in runs)
want = [("focal", 7), ("focal", 8), ("tversky", 7), ("tversky", 8)]
assert pairs == want, f"runs (variant, seed): {pairs}, want each of {want} once"
assert all(r["status"] == "finished" for r in runs), [r["status"] for r in runs]
assert all(r["tags"].get("slurm_job") == job for r in runs), [r["tags"] for r in runs]
assert all(r["tags"].get("xp_batch") == batch for r in runs), [r["tags"] for r in runs]
tasks = sorted(r["tags"]["slurm_array_task"] for r in runs)
assert tasks == ["0", "1", "2", "3"], f"array indices {tasks}"
' "$job" "$id" || fail "registry after the job: $json"
}
check_runs

table=$("$XP" runs --registry "$reg")
echo "$table"
echo "$table" | grep -Eq " ${job}_[0-3]( |$)" || fail "xp runs shows no JOB_TASK column: $table"
echo "$table" | grep >/dev/null "^batch $id (run_slurm, slurm job $job): 4 runs: 4 finished$" || fail "xp runs batch line: $table"

# Submitting the same experiment again finds the batch and submits nothing.
out=$("${run[@]}" --launcher slurm --parallel 2 2>&1) || fail "resubmission: $out"
echo "$out"
echo "$out" | grep >/dev/null "^batch $id: run_slurm, 4 runs: 4 finished$" || fail "resubmission: $out"
echo "$out" | grep >/dev/null "nothing to submit" || fail "resubmission submitted something: $out"
[ -z "$(squeue -h)" ] || fail "resubmission queued a job: $(squeue)"

# A task started again (what Slurm does with a requeued task) leases nothing and trains nothing.
out=$("$XP" run "$tmp/e.toml" --variant focal --variant tversky --set train.epochs=1 --registry "$reg" \
  --lease-from "$id" 2>&1) || fail "stray task: $out"
echo "$out" | grep >/dev/null "nothing left to run (4 runs: 4 finished)" || fail "stray task: $out"
check_runs

echo "OK"
