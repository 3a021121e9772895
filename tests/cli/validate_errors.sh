#!/usr/bin/env bash
# xp validate: each kind of configuration mistake exits 2 with file:line:col and a useful message.
set -euo pipefail
export XP_PLUGIN_PATH="$XP_TEST_PLUGIN_DIR/good"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# expect_error FILE_CONTENT EXPECTED_SUBSTRING...: xp validate exits 2 and stderr has every substring.
expect_error() {
  local content=$1; shift
  printf '%s\n' "$content" > e.toml
  local rc=0
  "$XP" validate e.toml --partial > out.txt 2> err.txt || rc=$?
  if [[ $rc -ne 2 ]]; then
    echo "expected exit 2, got $rc for:"; echo "$content"; cat out.txt err.txt; exit 1
  fi
  for want in "$@"; do
    if ! grep -qF -- "$want" err.txt; then
      echo "missing '$want' in:"; cat err.txt; exit 1
    fi
  done
}

expect_error $'[loss]\nplugin = "test_constant"\nvalue = = 2' "e.toml:3:" "TOML syntax error"
expect_error $'[loss]\nplugin = "test_constnat"' \
  "e.toml:2:10: unknown loss 'test_constnat'; did you mean 'test_constant'?"
expect_error $'[loss]\nplugin = "test_constant"\nvalu = 2.0' \
  "e.toml:3:1: unknown parameter 'valu' for loss 'test_constant'; did you mean 'value'?"
expect_error $'[loss]\nplugin = "test_constant"\nvalue = "high"' \
  "e.toml:3:9: loss 'test_constant': 'value' must be float, got string \"high\""
expect_error $'[train]\nepochs = 2.5' "e.toml:2:10: [train]: 'epochs' must be int, got float 2.5"
expect_error $'[loss]\nplugin = "test_constant"\nvalue = 101.0' \
  "e.toml:3:9: loss 'test_constant': 'value' = 101.0 is out of range [0.0, 100.0]"
expect_error $'[los]\nplugin = "test_constant"' "e.toml:1:2: unknown top-level table 'los'; did you mean 'loss'?"

# A file that is not there.
rc=0
"$XP" validate missing.toml 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "missing file: expected exit 2, got $rc"; exit 1; }
grep -qF "cannot open experiment file 'missing.toml': no such file" err.txt || { cat err.txt; exit 1; }

# A bad override names itself.
printf '[loss]\nplugin = "test_constant"\n' > ok.toml
rc=0
"$XP" validate ok.toml --partial --set loss.value=abc 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "bad --set: expected exit 2, got $rc"; exit 1; }
grep -qF -- "--set loss.value=abc: loss 'test_constant': 'value' must be float, got string \"abc\"" err.txt \
  || { cat err.txt; exit 1; }

# An experiment that names no data/model is incomplete unless validated as a fragment.
rc=0
"$XP" validate ok.toml 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "incomplete experiment: expected exit 2, got $rc"; exit 1; }
grep -qF "ok.toml:1:1: the experiment has no [data] table" err.txt || { cat err.txt; exit 1; }

# Unknown variant, with a suggestion.
printf '[loss]\nplugin = "test_constant"\n[variants.focal]\n[variants.dice]\n' > v.toml
rc=0
"$XP" validate v.toml --partial --variant focla 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "unknown variant: expected exit 2, got $rc"; exit 1; }
grep -qF "unknown variant 'focla'; did you mean 'focal'?" err.txt || { cat err.txt; exit 1; }

# A typo inside a variant is one error at its place, not also "unknown top-level table" (issue #25):
# three mistakes in three variants, exactly three errors.
printf '[loss]\nplugin = "test_constant"\n[variants.a]\nlss = { value = 2.0 }\n[variants.b]\nloss = { valu = 3.0 }\n[variants.c.trian]\nepochs = 2\n' > vt.toml
rc=0
"$XP" validate vt.toml --partial 2> err.txt || rc=$?
[[ $rc -eq 2 ]] || { echo "variant typos: expected exit 2, got $rc"; cat err.txt; exit 1; }
grep -qF "vt.toml:4:1: variant 'a' cannot set 'lss'; did you mean 'loss'?" err.txt || { cat err.txt; exit 1; }
grep -qF "vt.toml:7:13: variant 'c' cannot set 'trian'; did you mean 'train'?" err.txt || { cat err.txt; exit 1; }
grep -qF "vt.toml:6:10: unknown parameter 'valu' for loss 'test_constant'" err.txt || { cat err.txt; exit 1; }
[[ $(grep -c '^error: ' err.txt) -eq 3 ]] || { echo "variant typos: expected exactly 3 errors"; cat err.txt; exit 1; }
grep -q "top-level" err.txt && { echo "variant typo reported again as a top-level table"; cat err.txt; exit 1; }
grep -qx "3 errors" err.txt || { cat err.txt; exit 1; }
echo ok
