#!/usr/bin/env bash
# The worked example of docs/plugins.md: a plugin project outside the source tree finds xp with
# find_package(xp) (here from the build tree), builds with xp_add_plugin, and the host loads it,
# lists it, shows its parameters and validates an experiment that uses only its plugins.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built in a fixed folder of the build tree, so a second run is incremental, and as one translation
# unit: torch headers dominate the build time.
build="$XP_BINARY_DIR/tests/out_of_tree_build"
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$XP_SOURCE_DIR/tests/out_of_tree" -B "$build" -Dxp_DIR="$XP_BINARY_DIR" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=ON "${launcher[@]}" > "$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$build" -j2 > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
so="$build/my_plugin.so"
[[ -f "$so" ]] || { echo "no $so"; ls "$build"; exit 1; }

list=$("$XP" plugins list --plugin-path "$so")
echo "$list"
grep -q "toy_stripes .*my_plugin.so" <<< "$list"
grep -q "tiny_conv .*my_plugin.so" <<< "$list"
grep -q "smooth_ce .*my_plugin.so" <<< "$list"

show=$("$XP" plugins show smooth_ce --plugin-path "$so")
echo "$show"
grep -q "loss 'smooth_ce'" <<< "$show"
grep -q "smoothing : float = 0.1  \[0.0, 0.99\]" <<< "$show"
grep -q 'reduction : string = "mean"  one of "mean", "sum"' <<< "$show"

# The example experiment names the library in [plugins] paths, relative to itself.
cp "$XP_SOURCE_DIR/tests/out_of_tree/experiment.toml" "$work/"
ln -s "$build" "$work/build"
out=$("$XP" validate "$work/experiment.toml")
echo "$out"
grep -q "4 runs of experiment 'stripes'" <<< "$out"
grep -q "variant no_smoothing  seed 2" <<< "$out"
rc=0
"$XP" validate "$work/experiment.toml" --set loss.smoothing=1.5 2> "$work/err.txt" || rc=$?
[[ $rc -eq 2 ]] || { echo "expected exit 2, got $rc"; exit 1; }
grep -qF "loss 'smooth_ce': 'smoothing' = 1.5 is out of range [0.0, 0.99]" "$work/err.txt"
echo ok
