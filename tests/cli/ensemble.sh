#!/usr/bin/env bash
# xp ensemble on four tiny Fashion-MNIST runs (two image sizes x two seeds): the table, the
# recorded ensemble run and its members, TTA, weights, and the errors (exit code 2, suggestions).
set -euo pipefail
: "${XP:?path of the xp binary}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: no Fashion-MNIST (install dataset-fashion-mnist)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc CODE CMD...: runs CMD, output to $tmp/out and $tmp/err
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); $1"; }
db="$tmp/runs/registry.db"
cat > "$tmp/tiny.toml" <<'TOML'
[experiment]
name = "tiny"
seeds = [3, 4]
[data]
plugin = "fashion_mnist"
limit = 192
[model]
plugin = "simple_cnn"
in_channels = 1
channels = [4, 8]
hidden = 16
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[train]
epochs = 1
batch_size = 32
workers = 1
threads = 1
checkpoint = { monitor = "val_top1", mode = "max" }
[variants.s28]
[variants.s36]
augment = [{ plugin = "resize", size = [36, 36] }]
eval_augment = [{ plugin = "resize", size = [36, 36] }]
TOML
cd "$tmp"
expect_rc 0 "$XP" run tiny.toml --registry "$db"
[[ $(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE status = 'finished'") == 4 ]] || fail "expected 4 finished runs"
s28=($(sqlite3 "$db" "SELECT id FROM runs WHERE variant = 's28' ORDER BY start_time"))

# The seeds of one variant: a row per member, the ensemble row, and the run recorded.
expect_rc 0 "$XP" ensemble tiny --variant s28 --registry "$db"
cat "$tmp/out"
for id in "${s28[@]}"; do grep -q "^$id " "$tmp/out" || fail "no row for member $id"; done
grep -q "^ensemble " "$tmp/out" || fail "no ensemble row"
grep -q "on 192 test samples" "$tmp/out" || fail "sample count"
ens=$(sed -n 's/^recorded as run \([a-z0-9]*\) .*/\1/p' "$tmp/out")
[[ -n "$ens" ]] || fail "ensemble run id not printed"
row=$(sqlite3 "$db" "SELECT r.experiment, r.variant, r.status, t.value FROM runs r JOIN tags t ON t.rid = r.rid
                     AND t.key = 'ensemble_of' WHERE r.id = '$ens'")
[[ "$row" == "tiny|ensemble|finished|${s28[0]},${s28[1]}" ]] || fail "registry row: $row"
[[ $(sqlite3 "$db" "SELECT COUNT(*) FROM summary s JOIN runs r ON r.rid = s.rid WHERE r.id = '$ens' AND s.name = 'test_top1'") == 1 ]] \
  || fail "ensemble summary lacks test_top1"
[[ -f "$tmp/runs/tiny/$ens/members.csv" && -f "$tmp/runs/tiny/$ens/config.toml" ]] || fail "ensemble run folder"
[[ $(wc -l < "$tmp/runs/tiny/$ens/members.csv") == 3 ]] || fail "members.csv: a header and 2 members"
expect_rc 0 "$XP" show "$ens" --registry "$db"
grep -q "members (2)" "$tmp/out" && grep -q "${s28[0]}" "$tmp/out" && grep -q "${s28[1]}" "$tmp/out" \
  || { cat "$tmp/out"; fail "xp show lacks the members"; }
expect_rc 0 "$XP" runs --registry "$db" --where "tags.ensemble_of like '%${s28[1]}%'" --format csv
[[ $(wc -l < "$tmp/out") == 2 ]] || { cat "$tmp/out"; fail "--where on tags.ensemble_of"; }

# Members are evaluated as their own runs tested: each member's test_top1 equals the recorded one,
# and a run ensembled with itself is that run.
expect_rc 0 "$XP" ensemble "${s28[0]}" "${s28[0]}" --json --no-record --registry "$db"
summary() { sqlite3 "$db" "SELECT s.value FROM summary s JOIN runs r ON r.rid = s.rid WHERE r.id = '$1' AND s.name = '$2'"; }
json "m=d['members'][0]['metrics']; e=d['metrics']
assert abs(m['test_top1'] - $(summary "${s28[0]}" test_top1)) < 1e-9, m
# cross-entropy is the NLL of the softmax: the probabilities are the ones the run tested with
assert abs(m['test_nll'] - $(summary "${s28[0]}" test_loss)) < 1e-4, m
assert e == d['members'][1]['metrics'] == m, (e, m)
assert d['id'] is None and d['samples'] == 192"

# All four runs (two image sizes), with TTA; the earlier ensemble is not a member of the new one.
expect_rc 0 "$XP" ensemble tiny --tta flips --name all_flips --registry "$db"
cat "$tmp/out"
grep -q "ensemble of 4 runs" "$tmp/out" && grep -q "tta flips" "$tmp/out" || fail "4-run flips ensemble"
[[ $(grep -cE "^r[0-9a-z]{14} +tiny +s(28|36) " "$tmp/out") == 4 ]] || fail "a row per member"
grep -q "^ensemble *tiny *all_flips" "$tmp/out" || fail "ensemble row with its name"
expect_rc 0 "$XP" ensemble tiny --tta five_crop --weights 1,1,2,0 --json --no-record --registry "$db"
json "assert len(d['members']) == 4 and [m['weight'] for m in d['members']] == [1, 1, 2, 0]"

# Errors: exit 2 with what to do instead.
expect_rc 2 "$XP" ensemble "${s28[0]}x" --registry "$db"
grep -q "did you mean '${s28[0]}'" "$tmp/err" || { cat "$tmp/err"; fail "unknown run: no suggestion"; }
expect_rc 2 "$XP" ensemble tinny --registry "$db"
grep -q "did you mean 'tiny'" "$tmp/err" || { cat "$tmp/err"; fail "unknown experiment: no suggestion"; }
expect_rc 2 "$XP" ensemble tiny --tta flps --registry "$db"
grep -q "did you mean 'flips'" "$tmp/err" && grep -q "five_crop" "$tmp/err" || { cat "$tmp/err"; fail "--tta typo"; }
expect_rc 2 "$XP" ensemble tiny --variant s29 --registry "$db"
grep -q "did you mean 's28'" "$tmp/err" || { cat "$tmp/err"; fail "--variant typo"; }
expect_rc 2 "$XP" ensemble "$ens" --registry "$db"
grep -q "itself an ensemble" "$tmp/err" || { cat "$tmp/err"; fail "ensemble as a member"; }
expect_rc 2 "$XP" ensemble tiny --weights 1,2 --registry "$db"
rm "$tmp/runs/tiny/${s28[1]}/checkpoints/best.pt"
expect_rc 2 "$XP" ensemble "${s28[1]}" --registry "$db"
grep -q "no checkpoint.*best.pt (try --checkpoint last)" "$tmp/err" || { cat "$tmp/err"; fail "missing checkpoint"; }
sqlite3 "$db" "UPDATE runs SET status = 'failed' WHERE id = '${s28[0]}'"
expect_rc 2 "$XP" ensemble "${s28[0]}" --registry "$db"
grep -q "has status failed, not finished" "$tmp/err" || { cat "$tmp/err"; fail "unfinished member"; }
echo ok
