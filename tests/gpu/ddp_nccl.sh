#!/usr/bin/env bash
# On a CUDA machine: the data-parallel path over NCCL with one rank (xp run --nproc-per-node 1:
# a launched rank builds its process group even alone). Trains simple_cnn on generated images on
# the GPU with backend = "nccl" and sync_batchnorm (its batch-norm all-reduces run on NCCL too),
# interrupts nothing, and checks that the run finished, said it was data-parallel over nccl and
# recorded world size, backend and hosts (xp show). Then resumes nothing: an interrupted run's
# resume is tested on the CPU (test_distributed.cpp); here it is the NCCL code path that counts.
set -euo pipefail
: "${XP:?path of the xp binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/nccl.toml" <<'TOML'
[experiment]
name = "ddp_nccl"
seeds = [3]
[data]
plugin = "synthetic_leaves"
image_size = 32
train_size = 512
val_size = 128
test_size = 128
[model]
plugin = "simple_cnn"
in_channels = 3
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[train]
epochs = 2
batch_size = 64
workers = 2
device = "cuda"
optimizer = { name = "adamw", lr = 0.003 }
distributed = { backend = "nccl", sync_batchnorm = true, timeout_s = 120 }
TOML
out="$tmp/run.txt"
"$XP" run "$tmp/nccl.toml" --registry "$tmp/registry.db" --nproc-per-node 1 > "$out" 2>&1 || { cat "$out"; echo "FAIL: run"; exit 1; }
cat "$out"
grep -q "data-parallel: rank 0/1 on .*, backend nccl, device cuda" "$out" || { echo "FAIL: not data-parallel over nccl"; exit 1; }
grep -q "batch norm synchronised" "$out" || { echo "FAIL: sync_batchnorm not on"; exit 1; }
id=$(awk '/ finished /{print $2}' "$out")
[ -n "$id" ] || { echo "FAIL: the run did not finish"; exit 1; }
shown=$("$XP" show "$id" --registry "$tmp/registry.db")
echo "$shown" | sed -n 1,12p
for tag in "world_size=1" "dist_backend=nccl" "dist_hosts="; do
  grep -q "$tag" <<< "$shown" || { echo "FAIL: $tag not recorded"; exit 1; }
done
echo ok
