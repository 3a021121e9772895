#!/usr/bin/env bash
# xp run --nproc-per-node 2 end to end on Fashion-MNIST: the run records world size, backend and
# hosts (xp show); with sync_batchnorm it says so; a run stopped by SIGTERM during epoch 2 (the
# launcher passes it on, the ranks agree on the step to stop at, rank 0 writes the checkpoint)
# resumed with `xp run --resume ID --nproc-per-node 2` ends with the same test accuracy and the same
# last-epoch validation metrics as the uninterrupted 2-rank run.
set -euo pipefail
: "${XP:?path of the xp binary}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat > "$tmp/ddp.toml" <<'TOML'
[experiment]
name = "ddp_resume"
seeds = [4]
[data]
plugin = "fashion_mnist"
limit = 1200
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
epochs = 4
batch_size = 16
workers = 1
threads = 1
optimizer = { name = "sgd", lr = 0.05, momentum = 0.9 }
schedule = { name = "cosine" }
distributed = { sync_batchnorm = true, timeout_s = 60 }
TOML
cd "$tmp"

"$XP" run ddp.toml --registry "$tmp/ref/registry.db" --nproc-per-node 2 > ref.txt 2>&1 || { cat ref.txt; fail "reference run"; }
grep -q "data-parallel: rank 0/2 on .*, backend gloo, device cpu, batch norm synchronised" ref.txt || { cat ref.txt; fail "no data-parallel line"; }
ref_id=$(awk '/ finished /{print $2}' ref.txt)
shown=$("$XP" show "$ref_id" --registry "$tmp/ref/registry.db")
for tag in "world_size=2" "dist_backend=gloo" "dist_hosts=$(hostname) (ranks 0-1)"; do
  grep -qF "$tag" <<< "$shown" || { echo "$shown"; fail "xp show lacks $tag"; }
done

# SIGTERM to the launcher once epoch 1's checkpoint exists: the ranks stop in epoch 2.
"$XP" run ddp.toml --registry "$tmp/runs/registry.db" --nproc-per-node 2 > first.txt 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  if compgen -G "$tmp/runs/ddp_resume/*/checkpoints/last.pt" > /dev/null; then break; fi
  sleep 0.05
done
kill -TERM "$pid" 2>/dev/null || fail "the run finished before it could be stopped; make it longer"
rc=0; wait "$pid" || rc=$?
[ "$rc" -ne 0 ] || { cat first.txt; fail "the stopped run exited 0"; }
grep -q "^epoch 4/4" first.txt && fail "the stopped run reached the last epoch"
run_id=$(basename "$(ls -d "$tmp"/runs/ddp_resume/*/)")

"$XP" run --resume "$run_id" --registry "$tmp/runs/registry.db" --nproc-per-node 2 > second.txt 2>&1 || { cat first.txt second.txt; fail "resume"; }
grep -q "resumed from .* on 2 ranks" second.txt || { cat second.txt; fail "no resume line"; }
last() { grep -o "test_top1 [0-9.]*" "$1" | tail -1; }
[ "$(last second.txt)" = "$(last ref.txt)" ] || { cat ref.txt second.txt; fail "resumed test accuracy $(last second.txt) != uninterrupted $(last ref.txt)"; }
val() { grep "^epoch 4/4" "$1" | grep -o "val_[a-z0-9]* [0-9.]*" | tr "\n" " "; }
[ "$(val second.txt)" = "$(val ref.txt)" ] || { cat ref.txt second.txt; fail "last epoch's validation metrics differ"; }
echo ok
