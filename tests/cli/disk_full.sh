#!/usr/bin/env bash
# A disk that fills up during a run (a small tmpfs, so it needs root, as CI has): the run fails
# with the path and "No space left on device", exit 1; the registry (on another disk) records it
# failed with that reason; the checkpoint written before is intact and no temporary file is left;
# once space is freed, --resume continues from it and ends with the uninterrupted run's metrics.
# Also: a run folder that cannot be created (read-only filesystem) fails clearly.
set -euo pipefail
: "${XP:?path of the xp binary}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: mounting a tmpfs needs root"; exit 77; }
tmp=$(mktemp -d)
mnt="$tmp/small"
mkdir -p "$mnt"
mount -t tmpfs -o size=4m tmpfs "$mnt"
cleanup() { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
write_experiment() {
  cat > "$1" <<TOML
[experiment]
name = "full"
seeds = [3]
output = "$2"
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
epochs = 3
batch_size = 32
workers = 1
threads = 1
optimizer = { name = "sgd", lr = 0.05 }
checkpoint = { monitor = "val_top1", mode = "max" }
TOML
}
strip_time() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i !~ /^(time|mem)_/) }
           { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i ","; print line }' "$1"
}
cd "$tmp"
write_experiment ref.toml "$tmp/ref"
"$XP" run ref.toml --registry "$tmp/ref/registry.db" > ref.txt 2>&1 || { cat ref.txt; fail "reference run"; }
strip_time "$(ls -d "$tmp"/ref/full/*/)metrics.csv" > ref_metrics.txt

write_experiment full.toml "$mnt"
reg="$tmp/registry/registry.db"
"$XP" run full.toml --registry "$reg" > run.txt 2> err.txt &
pid=$!
for _ in $(seq 1 1200); do
  compgen -G "$mnt/full/*/checkpoints/last.pt" > /dev/null && break
  sleep 0.05
done
kill -0 "$pid" 2>/dev/null || { cat run.txt err.txt; fail "the run ended before the disk could fill; make it longer"; }
dd if=/dev/zero of="$mnt/filler" bs=64k 2> /dev/null || true  # until ENOSPC
cp "$mnt"/full/*/checkpoints/last.pt "$tmp/last_before.pt"
set +e
wait "$pid"
rc=$?
set -e
[ $rc -eq 1 ] || { cat run.txt err.txt; fail "disk full: expected exit 1, got $rc"; }
grep -q "No space left on device" err.txt || { cat err.txt; fail "the error does not give the OS's reason"; }
grep -q "cannot .* '$mnt/full/" err.txt || { cat err.txt; fail "the error does not name the path"; }
run_id=$(basename "$(ls -d "$mnt"/full/*/)")
"$XP" runs --registry "$reg" --format csv > runs.csv
grep "$run_id" runs.csv | grep >/dev/null failed || { cat runs.csv; fail "run not recorded failed"; }
"$XP" show "$run_id" --registry "$reg" > show.txt 2>&1 || { cat show.txt; fail "xp show after the failure"; }
grep -q "No space left on device" show.txt || { cat show.txt; fail "the registry lost the reason"; }
if find "$mnt" -name '.*.tmp-*' | grep >/dev/null .; then find "$mnt" -name '.*.tmp-*'; fail "temporary files left behind"; fi
# The checkpoint is still the complete one written before the disk filled (or a later complete one).
last="$mnt/full/$run_id/checkpoints/last.pt"
[ -s "$last" ] || fail "last.pt is gone or empty"

rm -f "$mnt/filler"
"$XP" run --resume "$run_id" --registry "$reg" > resume.txt 2>&1 || { cat resume.txt; fail "resume after freeing space"; }
grep -q "resumed from" resume.txt || { cat resume.txt; fail "no 'resumed from' line"; }
strip_time "$mnt/full/$run_id/metrics.csv" > resumed_metrics.txt
diff ref_metrics.txt resumed_metrics.txt || fail "resumed metrics differ from the uninterrupted run"

# A read-only output folder: the run folder cannot be created; exit 1, the path and the reason.
mount -o remount,ro "$mnt"
set +e
"$XP" run full.toml --registry "$reg" > ro.txt 2> ro_err.txt
rc=$?
set -e
[ $rc -eq 1 ] || { cat ro.txt ro_err.txt; fail "read-only: expected exit 1, got $rc"; }
grep -q "cannot create run folder '$mnt/full/.*': Read-only file system" ro_err.txt ||
  { cat ro_err.txt; fail "read-only: no clear error"; }
"$XP" runs --registry "$reg" --format csv > runs_ro.csv
# Newest first: the run that could not create its folder is recorded failed (the resumed one finished).
sed -n 2p runs_ro.csv | grep >/dev/null ',failed,' || { cat runs_ro.csv; fail "the run that could not start is not recorded failed"; }
echo ok
