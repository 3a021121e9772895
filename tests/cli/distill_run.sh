#!/usr/bin/env bash
# The distillation loss inside real training: a tiny teacher run, then a student distilled from it
# (named by experiment, and by run folder, two teachers averaged) trains and tests; a teacher that
# does not exist is exit 2 before training.
set -euo pipefail
: "${XP:?path of the xp binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "FAIL: no Fashion-MNIST (scripts/install-deps installs it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected $want: $*"; }
}
common='[data]
plugin = "fashion_mnist"
limit = 128
[[metrics]]
plugin = "top1"
[train]
epochs = 1
batch_size = 32
workers = 0
threads = 1'
cat > "$tmp/teacher.toml" <<TOML
[experiment]
name = "teacher"
seeds = [1]
[model]
plugin = "simple_cnn"
in_channels = 1
channels = [8, 16]
hidden = 32
[loss]
plugin = "cross_entropy"
$common
TOML
cd "$tmp"
expect_rc 0 "$XP" run teacher.toml
teacher_dir=$(ls -d xp-runs/teacher/r*)
cat > student.toml <<TOML
[experiment]
name = "student"
seeds = [1]
[model]
plugin = "mlp"
hidden = [16]
[loss]
plugin = "distillation"
teachers = ["teacher", "$teacher_dir"]
temperature = 2.0
alpha = 0.5
$common
TOML
expect_rc 0 "$XP" run student.toml
cat "$tmp/out"
[[ $(sqlite3 xp-runs/registry.db "SELECT status FROM runs WHERE experiment = 'student'") == finished ]] || fail "student did not finish"
grep -q "test_top1" "$tmp/out" || fail "student was not tested"
sed -i 's|teachers = .*|teachers = ["no_such_teacher"]|' student.toml
expect_rc 2 "$XP" run student.toml
grep -q "teacher 'no_such_teacher' is neither a run folder" "$tmp/err" || fail "bad teacher message: $(cat "$tmp/err")"
echo ok
