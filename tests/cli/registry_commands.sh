#!/usr/bin/env bash
# xp runs / show / diff / report on a registry built the way a user could: an old (v1) registry
# file plus runs added with plain sqlite3. Checks output, JSON fields, exit codes and messages.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/registry.db"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc CODE CMD...: runs CMD, output to $tmp/out and $tmp/err
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); $1"; }

# No registry yet: a clear error, exit 2, and no empty file created.
expect_rc 2 "$XP" runs --registry "$db"
grep -q "no registry at" "$tmp/err" || fail "missing-registry message"
[[ ! -e "$db" ]] || fail "a read command created the registry"

# An old registry migrates on first use.
sqlite3 "$db" < "$XP_SOURCE_DIR/registry/testdata/registry_v1.sql"
expect_rc 0 "$XP" runs --registry "$db"
grep -q r0old0001abcd "$tmp/out" || fail "runs table lacks the old run"
[[ "$(sqlite3 "$db" 'SELECT version FROM schema_version')" == 3 ]] || fail "not migrated"

# Five seeds of two variants with a summary metric 'score' (the scipy-checked pair), plus one
# run that is still 'running' with a heartbeat 10 minutes old on another host.
focal=(0.912 0.905 0.918 0.909 0.915); ce=(0.897 0.901 0.893 0.899 0.902)
for s in 0 1 2 3 4; do
  for v in focal ce; do
    [[ $v == focal ]] && val=${focal[$s]} || val=${ce[$s]}
    id="r1new${v:0:1}${s}000000000"; id="${id:0:15}"
    sqlite3 "$db" "INSERT INTO runs(id, experiment, variant, seed, status, start_time, end_time, heartbeat, duration, git_commit)
      VALUES ('$id', 'seg', '$v', $s, 'finished', 1700001000 + $s, 1700001100 + $s, 1700001100 + $s, 100, 'cafe$s');
      INSERT INTO params(rid, key, value, num) VALUES (last_insert_rowid(), 'loss.name', '$v', NULL);
      INSERT INTO summary(rid, name, value, seq) SELECT rid, 'score', $val, 1 FROM runs WHERE id = '$id';"
  done
done
now=$(date +%s)
sqlite3 "$db" "INSERT INTO runs(id, experiment, variant, seed, status, start_time, heartbeat, host, pid)
  VALUES ('r1stale0000000', 'seg', 'focal', 9, 'running', $now - 900, $now - 600, 'elsewhere', 1)"

# xp runs: stale run marked crashed; JSON has the documented fields; --where filters.
expect_rc 0 "$XP" runs --registry "$db" --format json
json "r={x['id']:x for x in d}; assert r['r1stale0000000']['status']=='crashed', r['r1stale0000000']
for k in ['id','experiment','variant','seed','status','git_commit','config_hash','metrics']: assert k in d[0], k
assert r['r1newf100000000']['metrics']['score']==0.905"
expect_rc 0 "$XP" runs --registry "$db" --where "variant = 'focal' and metrics.score > 0.91" --sort metrics.score --format csv
[[ $(wc -l < "$tmp/out") == 4 ]] || { cat "$tmp/out"; fail "where should match 3 runs (0.912, 0.915, 0.918)"; }
head -1 "$tmp/out" | grep >/dev/null "metrics.score" || fail "csv header lacks metrics.score"
sed -n 2p "$tmp/out" | grep >/dev/null "0.912" || fail "csv not sorted by score"
expect_rc 0 "$XP" runs --registry "$db" -e seg --status crashed
grep -q r1stale "$tmp/out" || fail "--status crashed"

# Bad expressions: exit 2, column and caret.
expect_rc 2 "$XP" runs --registry "$db" --where "variant = 'focal' and sed > 1"
grep -q "column 23" "$tmp/err" && grep -q "did you mean 'seed'" "$tmp/err" && grep -q '\^' "$tmp/err" || { cat "$tmp/err"; fail "where error"; }
expect_rc 2 "$XP" runs --registry "$db" --where "variant = ''; drop table runs; --"
[[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM runs')" == 13 ]] || fail "runs table damaged"
expect_rc 2 "$XP" runs --registry "$db" --format yaml

# xp show by unique prefix and by run folder; unknown id suggests.
expect_rc 0 "$XP" show --registry "$db" r0old0001
for want in "run r0old0001abcd  finished" "metrics per epoch" "val_acc" "best_val_acc" "artifacts:" "gamma = 2.0" "deadbeef"; do
  grep -qF "$want" "$tmp/out" || { cat "$tmp/out"; fail "show lacks '$want'"; }
done
expect_rc 0 "$XP" show --registry "$db" /data/xp-runs/old_exp/r0old0002abcd/checkpoints
grep -q "r0old0002abcd  failed" "$tmp/out" || fail "show by folder"
expect_rc 2 "$XP" show --registry "$db" r0old0001abcx
grep -q "did you mean 'r0old0001abcd'" "$tmp/err" || { cat "$tmp/err"; fail "show suggestion"; }
expect_rc 2 "$XP" show --registry "$db" r1new
grep -q "ambiguous" "$tmp/err" || fail "ambiguous prefix"

# xp diff: config keys and results that differ.
expect_rc 0 "$XP" diff --registry "$db" r0old0001abcd r0old0002abcd
grep -q "loss.gamma *2.0 *(absent)" "$tmp/out" && grep -q "loss.name *focal *ce" "$tmp/out" || { cat "$tmp/out"; fail "diff config"; }
grep -q "train_loss" "$tmp/out" || fail "diff results"
expect_rc 0 "$XP" diff --registry "$db" r0old0001abcd r0old0002abcd --format json
json "assert {c['key'] for c in d['config']}=={'loss.gamma','loss.name'}; assert any(m['metric']=='val_acc' and m['b'] is None for m in d['metrics'])"

# xp report: statistics and the Welch verdict against the baseline.
expect_rc 0 "$XP" report seg --registry "$db" --metric score --baseline ce --format json
json "g={x['group']:x for x in d['groups']}; f=g['focal']['metrics']['score']
assert g['focal']['n']==5 and abs(f['mean']-0.9118)<1e-12 and abs(f['std']-0.005069516742254635)<1e-9
assert abs(f['ci95']-0.006294636427148823)<1e-9 and abs(f['p_value']-0.0017625834130635923)<1e-7
assert d['best']['group']=='focal' and d['best']['significant'] is True"
expect_rc 0 "$XP" report seg --registry "$db" --baseline ce
grep -q "significant at p < 0.05" "$tmp/out" || { cat "$tmp/out"; fail "report verdict"; }
expect_rc 0 "$XP" report seg --registry "$db" --group-by loss.name --format markdown
grep -q "^| focal" "$tmp/out" || { cat "$tmp/out"; fail "markdown table"; }
expect_rc 2 "$XP" report seg --registry "$db" --metric scor
grep -q "did you mean 'score'" "$tmp/err" || fail "metric suggestion"
expect_rc 2 "$XP" report sge --registry "$db"
grep -q "did you mean 'seg'" "$tmp/err" || fail "experiment suggestion"
# The registry commands never load LibTorch (its start alone is ~1 s: docs/performance.md); the
# binary loads the training commands' module only for the commands that need it.
if ldd "$XP" | grep >/dev/null 'libtorch'; then fail "the xp binary links LibTorch: $(ldd "$XP" | grep torch)"; fi
for cmd in "runs --registry $db" "show r0old0001abcd --registry $db" "report seg --registry $db --metric score"; do
  # shellcheck disable=SC2086
  LD_DEBUG=files "$XP" $cmd > /dev/null 2> "$tmp/ld" || fail "xp $cmd"
  if grep -q 'libtorch\|libxp_torch_commands' "$tmp/ld"; then fail "xp $cmd loaded LibTorch"; fi
done
LD_DEBUG=files "$XP" validate --help > /dev/null 2> "$tmp/ld" || fail "xp validate --help"
grep -q 'libxp_torch_commands' "$tmp/ld" || fail "xp validate did not load the training commands module"
# Every command the help lists answers --help (the module registers every name the binary expects).
expect_rc 0 "$XP" --help
for cmd in $(sed -n 's/^  \([a-z]\+\)  .*/\1/p' "$tmp/out"); do
  "$XP" "$cmd" --help > /dev/null || fail "xp $cmd --help"
done
[[ $(sed -n 's/^  \([a-z]\+\)  .*/\1/p' "$tmp/out" | wc -l) -ge 14 ]] || { cat "$tmp/out"; fail "xp --help lists too few commands"; }
echo "registry commands: ok"
