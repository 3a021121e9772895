#!/usr/bin/env bash
# normalize stats = "train" end to end: `xp run` of a 4-band rare_blobs variant computes the per-band
# statistics once, writes normalization_stats.json into the run folder and registers it; a resumed
# run reads the same file back (it is not rewritten) and ends with the same metrics as an
# uninterrupted run. The study file validates with all four variants.
set -euo pipefail
: "${XP:?path of the xp binary}"
: "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp"
small=(--set data.train_size=48 --set data.val_size=16 --set data.test_size=16 --set data.image_size=32
       --set train.epochs=2 --set train.batch_size=8 --set train.calibration.enabled=false --seeds 42)

"$XP" validate "$XP_SOURCE_DIR/experiments/rts_fusion.toml" > validate.txt 2>&1 || { cat validate.txt; fail "validate"; }
grep -q "12 runs" validate.txt || { cat validate.txt; fail "rts_fusion should resolve to 4 variants x 3 seeds"; }

"$XP" run "$XP_SOURCE_DIR/experiments/rts_fusion.toml" --variant rgb_dem "${small[@]}" --registry "$tmp/runs/registry.db" \
  > run.txt 2>&1 || { cat run.txt; fail "run"; }
grep -q "normalization statistics: 48 training samples ... done (red" run.txt || { cat run.txt; fail "no statistics line"; }
run_dir=$(ls -d "$tmp"/runs/rts_fusion/*/)
stats="$run_dir/normalization_stats.json"
[ -f "$stats" ] || fail "no $stats"
python3 - "$stats" <<'PY' || fail "statistics file content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["bands"] == ["red", "green", "blue", "dem"], s["bands"]
assert len(s["mean"]) == 4 and len(s["std"]) == 4 and len(s["clip_low"]) == 4
assert s["depth"] == "uint16" and s["samples"] == 48, s
assert s["mean"][3] > 10000, s["mean"]  # the DEM in 0.1 m units
PY
sqlite3 "$tmp/runs/registry.db" "select kind from artifacts" | grep >/dev/null -x normalization_stats \
  || fail "statistics not registered as an artifact"

# A killed run resumes from its folder: the statistics are read back, not recomputed or rewritten.
"$XP" run "$XP_SOURCE_DIR/experiments/rts_fusion.toml" --variant rgb_dem "${small[@]}" --set train.epochs=4 \
  --registry "$tmp/k/registry.db" > killed.txt 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  if compgen -G "$tmp/k/rts_fusion/*/checkpoints/last.pt" > /dev/null; then break; fi
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "the run finished before it could be killed; make it longer"
wait "$pid" 2>/dev/null || true
kdir=$(ls -d "$tmp"/k/rts_fusion/*/)
kstats="$kdir/normalization_stats.json"
[ -f "$kstats" ] || fail "the killed run has no statistics file"
before=$(sha256sum "$kstats" | cut -d' ' -f1)
touch -d '2000-01-01' "$kstats"
"$XP" run --resume "$kdir" --registry "$tmp/k/registry.db" > resume.txt 2>&1 || { cat resume.txt; fail "resume"; }
grep -q "normalization statistics" resume.txt && { cat resume.txt; fail "resume recomputed the statistics"; }
grep -q "^epoch 4/4" resume.txt || { cat resume.txt; fail "the resumed run did not finish"; }
[ "$(sha256sum "$kstats" | cut -d' ' -f1)" = "$before" ] || fail "resume rewrote the statistics"
[ "$(stat -c %Y "$kstats")" = "$(date -d '2000-01-01' +%s)" ] || fail "resume touched the statistics file"
echo "ok"
