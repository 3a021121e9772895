#!/usr/bin/env bash
# xp bench loader: per-stage CPU times of the experiment's own pipeline and the multi-threaded
# loader's rate; --uint8 on leaves the final normalize to the device (its stage disappears and the
# tensor stage is the uint8 one); usage errors exit 2 with a suggestion.
set -euo pipefail
: "${XP:?}" "${XP_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
exp="$XP_SOURCE_DIR/experiments/plant_hierarchical.toml"

out=$("$XP" bench loader "$exp" --workers 2 --batches 2 --profile 20 --uint8 off 2>&1) || fail "bench loader: $out"
echo "$out"
echo "$out" | grep >/dev/null "float32 batches" || fail "batch type not named"
for stage in "load (synthetic_leaves)" random_resized_crop color_jitter normalize "to float tensor" collate "worker total"; do
  echo "$out" | grep >/dev/null "^  $stage  *[0-9.]* ms" || fail "no timing line for '$stage'"
done
rate=$(echo "$out" | sed -n 's/^loader, 2 workers: \([0-9]*\) images in .* = \([0-9]*\) images\/s.*/\1 \2/p')
[ -n "$rate" ] || fail "no loader line"
set -- $rate
[ "$1" -eq $((2 * 64)) ] || fail "timed $1 images, want 2 batches of 64"
[ "$2" -gt 0 ] || fail "rate $2"

out=$("$XP" bench loader "$exp" --workers 1 --batches 1 --profile 5 --uint8 on 2>&1) || fail "--uint8 on: $out"
echo "$out" | grep >/dev/null "uint8 batches (conversion left to the device)" || fail "uint8 not reported: $out"
echo "$out" | grep >/dev/null "^  to uint8 tensor" || fail "no uint8 stage: $out"
if echo "$out" | grep >/dev/null "^  normalize "; then fail "normalize still timed on the CPU with --uint8 on"; fi

set +e
msg=$("$XP" bench lodaer "$exp" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "misspelt subcommand: exit $rc"
echo "$msg" | grep >/dev/null "did you mean 'loader'" || fail "no suggestion: $msg"
msg=$("$XP" bench loader "$exp" --uint8 maybe 2>&1); rc=$?
[ $rc -eq 2 ] || fail "--uint8 maybe: exit $rc"
echo "$msg" | grep >/dev/null "auto, on or off" || fail "--uint8 message: $msg"
msg=$("$XP" bench loader "$exp" --set train.workrs=3 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unknown key: exit $rc ($msg)"
set -e
echo "bench_loader: ok"
