#!/usr/bin/env bash
# The first hour with xp (issue #25): mistakes that used to fail `xp run` are `xp validate` errors
# at their TOML place (exit 2, and `xp run` records nothing); every error of a file at once; --set
# scoped per variant; unknown --where/--columns names are errors with a suggestion; readable output.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc CODE CMD...: runs CMD, output in out.txt and err.txt
  local want=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat out.txt err.txt; fail "exit $rc, expected $want: $*"; }
}
has() { grep -qF -- "$1" "${2:-err.txt}" || { cat out.txt err.txt; fail "missing '$1'"; }; }

# A small segmentation experiment that is right; each case below breaks one thing.
base() {
  cat <<'TOML'
[experiment]
name = "first_hour"
[data]
plugin = "rare_blobs"
image_size = 32
train_size = 8
val_size = 4
test_size = 4
[model]
plugin = "unet"
depth = 2
base_width = 4
[loss]
plugin = "dice"
[train]
epochs = 1
workers = 0
TOML
}
base > good.toml
expect_rc 0 "$XP" validate good.toml

# A bf16 run's dry build computes forward and loss under autocast, as the run will: the shipped
# plugins pass, a loss that only takes fp32 logits is reported at its table, not at step one.
{ base; printf 'precision = "bf16"\n'; } > bf16.toml
expect_rc 0 "$XP" validate bf16.toml
{ base | sed 's/plugin = "dice"/plugin = "test_fp32_only"/'; printf 'precision = "bf16"\n'; } > bf16_loss.toml
XP_PLUGIN_PATH="$XP_TEST_PLUGIN_DIR/good" expect_rc 2 "$XP" validate bf16_loss.toml
has "bf16_loss.toml:13:1: loss 'test_fp32_only'"
has "logits are BFloat16, not fp32"
sed -i 's/^precision = "bf16"/precision = "fp32"/' bf16_loss.toml
XP_PLUGIN_PATH="$XP_TEST_PLUGIN_DIR/good" expect_rc 0 "$XP" validate bf16_loss.toml

# 1. The four run-time failures of the issue, each at its table's file:line:col.
base | sed 's/plugin = "rare_blobs"/plugin = "segmentation_folder"\nroot = "does_not_exist"/; /image_size\|_size = /d' > root.toml
expect_rc 2 "$XP" validate root.toml
has "root.toml:3:1: segmentation_folder: root 'does_not_exist' is not a folder"

# mixup and a class-index loss on a segmentation dataset are static errors: the plugins' schemas
# declare their tasks, so they are found before the dry build (--static finds them too).
{ base; printf '[[batch_augment]]\nplugin = "mixup"\n'; } > mixup.toml
expect_rc 2 "$XP" validate mixup.toml --static
has "mixup.toml:18:1: batch_augment[0] 'mixup' takes classification data, but dataset 'rare_blobs' (mixup.toml:3:1) is segmentation; xp plugins list --kind batch_augmentation --task segmentation lists the ones that fit"
[[ $(grep -c '^error: ' err.txt) == 1 ]] || { cat err.txt; fail "expected one error line"; }
expect_rc 2 "$XP" validate mixup.toml
has "mixup.toml:18:1: batch_augment[0] 'mixup' takes classification data"
grep -q "dry build" out.txt err.txt && fail "the dry build ran after a static error"

base | sed 's/plugin = "dice"/plugin = "focal"/' > focal.toml
expect_rc 2 "$XP" validate focal.toml --static
has "focal.toml:13:1: loss 'focal' takes classification data, but dataset 'rare_blobs' (focal.toml:3:1) is segmentation"

# A segmentation metric on a classification dataset (static: fashion_mnist's files are not read).
cat > metric.toml <<'TOML'
[data]
plugin = "fashion_mnist"
[model]
plugin = "simple_cnn"
[loss]
plugin = "cross_entropy"
[[metrics]]
plugin = "top1"
[[metrics]]
plugin = "pixel"
TOML
expect_rc 2 "$XP" validate metric.toml --static
has "metric.toml:9:1: metrics[1] 'pixel' takes segmentation data, but dataset 'fashion_mnist' (metric.toml:1:1) is classification"
[[ $(grep -c '^error: ' err.txt) == 1 ]] || { cat err.txt; fail "expected one error line (top1 fits)"; }
# ... and `xp plugins show` prints what each plugin declares.
expect_rc 0 "$XP" plugins show pixel
has "  tasks: segmentation" out.txt
expect_rc 0 "$XP" plugins show rare_blobs
has "  produces: segmentation" out.txt
expect_rc 0 "$XP" plugins list --kind loss --task segmentation
has "dice" out.txt
grep -qE '^  focal ' out.txt && fail "plugins list --task segmentation lists focal"

{ base; printf 'stages = [{ epochs = 1, freeze = ["encodr.*"] }]\n'; } > freeze.toml
expect_rc 2 "$XP" validate freeze.toml
has "freeze.toml:18:11: [train.stages[0]]: train.stages.freeze pattern 'encodr.*' matches no parameter"

# All in one file: the two static errors at once (the dry build, which would find the freeze
# pattern, runs once they are fixed), and `xp run` records no run.
{ base | sed 's/plugin = "dice"/plugin = "focal"/'; printf 'stages = [{ epochs = 1, freeze = ["encodr.*"] }]\n[[batch_augment]]\nplugin = "mixup"\n'; } > all.toml
expect_rc 2 "$XP" validate all.toml
has "all.toml:13:1: loss 'focal' takes classification data"
has "all.toml:19:1: batch_augment[0] 'mixup' takes classification data"
has "2 errors"
expect_rc 2 "$XP" run all.toml --registry reg/registry.db
has "2 errors"
if [[ -e reg/registry.db ]]; then
  [[ "$(sqlite3 reg/registry.db 'SELECT COUNT(*) FROM runs')" == 0 ]] || fail "a run that failed validation was recorded"
fi
# The dry build's findings (a missing root, a freeze pattern) together, and still no run recorded.
sed 's/plugin = "rare_blobs"/plugin = "segmentation_folder"\nroot = "does_not_exist"/; /image_size\|_size = /d' freeze.toml > dry.toml
expect_rc 0 "$XP" validate dry.toml --static
expect_rc 2 "$XP" run dry.toml --registry reg/registry.db
has "dry.toml:3:1: segmentation_folder: root 'does_not_exist' is not a folder"
if [[ -e reg/registry.db ]]; then
  [[ "$(sqlite3 reg/registry.db 'SELECT COUNT(*) FROM runs')" == 0 ]] || fail "a run that failed the dry build was recorded"
fi

# 2. Three typos, three errors, each with its place and suggestion.
base | sed 's/^image_size = 32/image_sise = 32/; s/plugin = "unet"/plugin = "unte"/; s/^epochs = 1/epohcs = 1/' > typos.toml
expect_rc 2 "$XP" validate typos.toml
has "typos.toml:5:1: unknown parameter 'image_sise' for dataset 'rare_blobs'; did you mean 'image_size'?"
has "typos.toml:10:10: unknown model 'unte'; did you mean 'unet'?"
has "typos.toml:16:1: unknown parameter 'epohcs' for [train]; did you mean 'epochs'?"
has "3 errors"
[[ $(grep -c '^error: ' err.txt) == 3 ]] || { cat err.txt; fail "expected three error lines"; }

# 3. --set per variant, on the shipped focal/tversky/compound study (static checks suffice).
study="$XP_SOURCE_DIR/experiments/focal_vs_tversky.toml"
hash_of() { awk -v v="$1" '$1 == "variant" && $2 == v && $4 == 42 {print $6}' out.txt; }
expect_rc 0 "$XP" validate "$study" --static
focal0=$(hash_of focal); tversky0=$(hash_of tversky)
# Variants in file order, not alphabetical.
[[ "$(awk '$1 == "variant" {print $2}' out.txt | uniq | paste -sd, -)" == "focal,tversky,compound" ]] \
  || { cat out.txt; fail "variants not in file order"; }
expect_rc 0 "$XP" validate "$study" --static --set loss.gamma=3
has "note: --set loss.gamma=3 skipped for variant tversky (loss 'tversky' has no parameter 'gamma')"
has "note: --set loss.gamma=3 skipped for variant compound (loss 'compound' has no parameter 'gamma')"
[[ $(hash_of focal) != "$focal0" && $(hash_of tversky) == "$tversky0" ]] || fail "bare --set scoped wrongly"
expect_rc 0 "$XP" validate "$study" --static --set variants.focal.loss.gamma=3 --variant focal --seeds 42 --print
has "gamma = 3.0" out.txt
expect_rc 0 "$XP" validate "$study" --static --set variants.focal.loss.gamma=3
[[ $(hash_of focal) != "$focal0" && $(hash_of tversky) == "$tversky0" ]] || fail "variant --set scoped wrongly"
expect_rc 2 "$XP" validate "$study" --static --set variants.focla.loss.gamma=3
has "--set variants.focla.loss.gamma=3: --set: unknown variant 'focla'; did you mean 'focal'?"
# A parameter no variant's loss takes: an error per variant, naming it and the ways to scope.
expect_rc 2 "$XP" validate "$study" --static --set loss.gama=3
has "unknown parameter 'gama' for loss 'tversky' (variant tversky; --set variants.tversky.KEY=VALUE sets a value in one variant, --variant tversky runs only that one)"
# validate --print: the first run in full, the others as their differences.
expect_rc 0 "$XP" validate "$study" --static --print
has "# differs from the first run (variant focal, seed 42) in:" out.txt
has "loss.plugin = tversky" out.txt
full=$("$XP" validate "$study" --static --print full | wc -l)
short=$(wc -l < out.txt)
(( short * 3 < full )) || fail "--print is not shorter than --print full ($short vs $full lines)"

# [experiment] baseline names a variant.
sed 's/^seeds = \[42, 43, 44\]/seeds = [42, 43, 44]\nbaseline = "focla"/' "$study" > baseline.toml
expect_rc 2 "$XP" validate baseline.toml --static
has "[experiment] baseline: unknown variant 'focla'; did you mean 'focal'?"

# 4. Names in queries: a registry with two runs (written with sqlite3, as registry_commands.sh does).
# (an old-format registry, migrated by xp, then emptied)
mkdir -p reg
sqlite3 reg/registry.db < "$XP_SOURCE_DIR/registry/testdata/registry_v1.sql"
expect_rc 0 "$XP" runs --registry reg/registry.db
sqlite3 reg/registry.db "PRAGMA foreign_keys = ON; DELETE FROM runs;"
for s in 1 2; do
  sqlite3 reg/registry.db "INSERT INTO runs(id, experiment, variant, seed, status, start_time, end_time, heartbeat, duration)
    VALUES ('r$s', 'seg', 'focal', $s, 'finished', 1700001000, 1700001100, 1700001100, 100);
    INSERT INTO params(rid, key, value, num) SELECT rid, 'train.console', '[\"iou\"]', NULL FROM runs WHERE id = 'r$s';
    INSERT INTO summary(rid, name, value, seq) SELECT rid, 'best_val_iou', 0.5, 1 FROM runs WHERE id = 'r$s';
    INSERT INTO summary(rid, name, value, seq) SELECT rid, 'test_iou', 0.4$s, 2 FROM runs WHERE id = 'r$s';
    INSERT INTO summary(rid, name, value, seq) SELECT rid, 'test_ap', 0.3, 3 FROM runs WHERE id = 'r$s';
    INSERT INTO summary(rid, name, value, seq) SELECT rid, 'final_train_loss', 0.2, 4 FROM runs WHERE id = 'r$s';"
done
export XP_REGISTRY=reg/registry.db
expect_rc 2 "$XP" runs --where "metrics.test_iuo > 0.1"
has "no run has a metric 'test_iuo'; did you mean 'metrics.test_iou'"
expect_rc 2 "$XP" runs --where "params.train.consol = 'x'"
has "no run has a config key 'train.consol'; did you mean 'params.train.console'"
expect_rc 0 "$XP" runs --where "metrics.test_iou > 0.415"
has "r2" out.txt
grep -q r1 out.txt && fail "--where matched the wrong run"
# Default columns: the monitor's best value and the test metrics of the epoch line, in that order.
expect_rc 0 "$XP" runs
head -1 out.txt | grep >/dev/null -E 'best_val_iou +test_iou *$' || { cat out.txt; fail "default columns"; }
expect_rc 0 "$XP" runs --columns test_ap,final_train_loss
head -1 out.txt | grep >/dev/null -E 'test_ap +final_train_loss *$' || { cat out.txt; fail "--columns"; }
expect_rc 0 "$XP" runs --columns 'test_*'
head -1 out.txt | grep >/dev/null -E 'test_ap +test_iou *$' || { cat out.txt; fail "--columns glob"; }
expect_rc 2 "$XP" runs --columns test_iuo
has "--columns: no run has a metric 'test_iuo'; did you mean 'test_iou'?"
echo ok
