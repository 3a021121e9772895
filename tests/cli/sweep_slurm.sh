#!/usr/bin/env bash
# xp sweep --launcher slurm on a real single-node Slurm started for the test (munged, slurmctld,
# slurmd; tests/support/slurm_cluster.sh): the sweep is one job array (--array=0-N%P) of
# `xp sweep worker` tasks, each leasing one trial from the registry. Every trial is recorded once,
# its run tagged with the job id and array index; status shows the job.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d /tmp/xp-slurm-XXXXXX)
chmod 755 "$tmp"
cluster="$XP_SOURCE_DIR/tests/support/slurm_cluster.sh"
cleanup() {
  bash "$cluster" stop "$tmp/slurm"
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 30 "$tmp"/runs/sweeps/*/slurm-*.out "$tmp"/slurm/log/*.log 2>/dev/null >&2 || true; exit 1; }

# Not eval "$(...)": that would hide a cluster that failed to start.
env_line=$(bash "$cluster" start "$tmp/slurm") || fail "the throwaway Slurm did not start"
eval "$env_line"
reg="$tmp/runs/registry.db"

cat > "$tmp/base.toml" <<TOML
[experiment]
name = "sweep_slurm"
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
[sweep.fixed]
"train.epochs" = 1
"train.batch_size" = 4
"train.threads" = 1
"train.workers" = 0
"train.checkpoint.monitor" = "val_loss"
"train.checkpoint.mode" = "min"
"data.image_size" = 32
"data.train_size" = 8
"data.object_tile_fraction" = 0.5
"data.val_size" = 4
"data.test_size" = 4
"model.depth" = 2
"model.base_width" = 4
[space]
"loss.gamma" = { type = "choice", values = [1.0, 2.0, 3.0] }
TOML

# A bad sbatch option: sbatch's own message, exit 2, nothing left queued.
set +e
out=$("$XP" sweep "$tmp/s.toml" --launcher slurm --parallel 2 --sbatch "--no-such-option" --registry "$reg" 2>&1); code=$?
set -e
[ $code -eq 2 ] || fail "bad --sbatch: exit $code, want 2: $out"
echo "$out" | grep >/dev/null "sbatch refused" || fail "bad --sbatch: $out"

out=$("$XP" sweep "$tmp/s.toml" --launcher slurm --parallel 2 --sbatch "--time=10:00" --wait --registry "$reg" 2>&1) ||
  fail "slurm sweep: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^sweep \(sw-[0-9a-f]*\):.*/\1/p' | tail -1)
job=$(echo "$out" | sed -n 's/^  submitted Slurm job \([0-9]*\): array 0-2%2 .*/\1/p')
[ -n "$id" ] && [ -n "$job" ] || fail "no sweep id or job id (array 0-2%2) in: $out"
echo "$out" | grep >/dev/null "done: 3 complete" || fail "not every trial completed: $out"

# Every trial once, each run tagged with the job and a distinct array index.
csv=$("$XP" runs --registry "$reg" --where "tags.sweep = '$id' and tags.slurm_job = '$job'" --format json)
n=$(echo "$csv" | python3 -c 'import json,sys; runs=json.load(sys.stdin); print(len(runs))')
[ "$n" -eq 3 ] || fail "want 3 runs tagged with job $job, got $n: $csv"
tasks=$(echo "$csv" | python3 -c 'import json,sys; print(" ".join(sorted(r["tags"]["slurm_array_task"] for r in json.load(sys.stdin))))')
[ "$tasks" = "0 1 2" ] || fail "array indices of the runs: '$tasks'"
trials=$(echo "$csv" | python3 -c 'import json,sys; print(" ".join(sorted(r["tags"]["trial"] for r in json.load(sys.stdin))))')
[ "$trials" = "0 1 2" ] || fail "trials of the runs: '$trials'"

status=$("$XP" sweep status "$id" --registry "$reg")
echo "$status"
echo "$status" | grep >/dev/null "3 complete of 3" || fail "status: $status"
echo "$status" | grep >/dev/null "slurm job $job: 3 task(s), 2 at a time; queued 0, running 0 (left the queue)" || fail "status: $status"
echo "OK"
