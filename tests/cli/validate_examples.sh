#!/usr/bin/env bash
# Every example experiment in experiments/examples resolves against the bundled plugins (base
# fragments, named *_base.toml, with --partial).
set -euo pipefail
shopt -s nullglob
files=("$XP_SOURCE_DIR"/experiments/*.toml "$XP_SOURCE_DIR"/experiments/examples/*.toml)
[[ ${#files[@]} -gt 0 ]] || { echo "no examples found"; exit 1; }
cd "$XP_SOURCE_DIR"  # examples name their assets relative to the repository (experiments/assets/...)
for f in "${files[@]}"; do
  partial=()
  [[ "$f" == *_base.toml ]] && partial=(--partial)
  # The student's teacher is a finished run (xp run experiments/vit_teacher.toml first): without
  # one, only the static checks apply; cli_distill_run trains a teacher and checks the rest.
  [[ "$f" == */distill_student.toml ]] && partial=(--static)
  echo "== $f"
  "$XP" validate "$f" "${partial[@]}"
done
# The examples' documented claims: the tversky arm replaced the focal loss table entirely.
out=$("$XP" validate "$XP_SOURCE_DIR/experiments/examples/focal_vs_tversky.toml" --variant tversky --seeds 1 --print)
loss=$(awk '/^\[loss\]$/ {on = 1; next} /^\[/ {on = 0} on' <<< "$out")
echo "$loss"
grep -q '^plugin = "tversky"$' <<< "$loss"
if grep -q '^gamma = ' <<< "$loss"; then echo "focal's gamma leaked into tversky"; exit 1; fi
echo ok
