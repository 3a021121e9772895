#!/usr/bin/env bash
# xp run --nproc-per-node: bad values and a bad [train] distributed table are configuration errors
# (exit 2, reported once, before any rank starts); a rank inside a launch may not launch again.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
exp="$XP_SOURCE_DIR/experiments/fashion_mnist_cnn.toml"

expect() {  # expect RC SUBSTRING -- command...
  local want_rc=$1 want=$2; shift 3
  local rc=0
  "$@" > out.txt 2> err.txt || rc=$?
  if [[ $rc -ne $want_rc ]]; then echo "expected exit $want_rc, got $rc: $*"; cat out.txt err.txt; exit 1; fi
  if ! grep -qF -- "$want" err.txt; then echo "missing '$want' in:"; cat err.txt; exit 1; fi
}

expect 2 "--nproc-per-node must be >= 1" -- "$XP" run "$exp" --nproc-per-node 0
expect 2 "train.distributed.backend" -- "$XP" run "$exp" --nproc-per-node 2 --set 'train.distributed.backend="mpi"'
expect 2 "did you mean 'bucket_mb'" -- "$XP" run "$exp" --nproc-per-node 2 --set train.distributed.bucket_md=4
RANK=0 WORLD_SIZE=2 expect 2 "inside a launched rank" -- "$XP" run "$exp" --nproc-per-node 2
[[ $(grep -c "error" err.txt) -eq 1 ]] || { echo "the error was reported more than once"; cat err.txt; exit 1; }
echo ok
