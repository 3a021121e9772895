#!/usr/bin/env bash
# xp validate on good files: exit 0, one line per (variant, seed) with its hash, --print shows the
# resolved config as canonical TOML or JSON, and overrides/--seeds/--variant change what is listed.
set -euo pipefail
export XP_PLUGIN_PATH="$XP_TEST_PLUGIN_DIR/good"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > base.toml <<'TOML'
[experiment]
name = "cli_check"
seeds = [42, 43]
[loss]
plugin = "test_constant"
value = 2.0
[train]
epochs = 3
TOML
cat > exp.toml <<'TOML'
[experiment]
extends = "base.toml"   # inherits name, seeds, loss, train
[variants.low]
loss = { value = 1.0 }
[variants.high]
loss = { value = 9.0, mode = "fancy" }
TOML

out=$("$XP" validate exp.toml --partial)
echo "$out"
[[ $(grep -c "seed" <<< "$out") -eq 4 ]] || { echo "expected 4 runs"; exit 1; }
grep -q "4 runs of experiment 'cli_check'" <<< "$out"
grep -q "variant high  seed 42  hash [0-9a-f]\{12\}" <<< "$out"

out=$("$XP" validate exp.toml --partial --variant low --seeds 7 --set train.epochs=5 --print)
echo "$out"
[[ $(grep -c "^  variant" <<< "$out") -eq 1 ]]
grep -q "^epochs = 5$" <<< "$out"
grep -q "^seed = 7$" <<< "$out"
grep -q '^variant = "low"$' <<< "$out"
grep -q "^value = 1.0$" <<< "$out"
if grep -q "extends" <<< "$out"; then echo "extends leaked into the resolved config"; exit 1; fi

json=$("$XP" validate exp.toml --partial --variant high --seeds 1 --print --format json)
python3 - "$json" <<'PY'
import json, sys
runs = json.loads(sys.argv[1])
assert len(runs) == 1, runs
r = runs[0]
assert r["variant"] == "high" and r["seed"] == 1, r
assert r["config"]["loss"] == {"plugin": "test_constant", "value": 9.0, "mode": "fancy"}, r["config"]["loss"]
assert r["config"]["train"]["epochs"] == 3
assert len(r["hash"]) == 64
PY

# The hash does not depend on how the file is written.
h1=$("$XP" validate base.toml --partial --seeds 42 | grep -o "hash [0-9a-f]*")
cat > same.toml <<'TOML'
[train]
epochs = 3
[loss]
value = 2     # an integer where a float is expected
plugin = "test_constant"
mode = "plain"  # the default, written out
[experiment]
seeds = [42]
name = "cli_check"
TOML
h2=$("$XP" validate same.toml --partial | grep -o "hash [0-9a-f]*")
[[ "$h1" == "$h2" ]] || { echo "hash differs: $h1 vs $h2"; exit 1; }
echo ok
