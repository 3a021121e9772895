#!/usr/bin/env bash
# Fashion-MNIST end to end, xp vs a plain PyTorch script, same LibTorch, same recipe, same machine,
# one after the other in this run: bench/train/fashion_e2e.toml in `xp run` and
# bench/train/fashion_e2e.py (simple_cnn, batch 128, 10 epochs, AdamW + one-cycle, flips, label
# smoothing 0.1, a held-out tenth evaluated every epoch, data in memory). Then the shipped
# experiments/fashion_mnist_cnn.toml in `xp run`. Prints, for each, the wall time from process
# start to the end of every epoch with the held-out top-1, the first epoch at >= TARGET, the test
# top-1 and the total wall time, then the ratios against the script.
#
#   bench/train/fashion_e2e.sh [BUILD_DIR] [TARGET]     # defaults: build 0.92
#   XP_E2E_SKIP_SHIPPED=1 ...                           # leave out the shipped experiment
#   XP_E2E_BF16=1 ...                                   # also both sides in bf16 (xp's
#                                                       # train.precision = "bf16", the script's --bf16),
#                                                       # and the shipped experiment in bf16
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
target="${2:-0.92}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "needs dataset-fashion-mnist (scripts/install-deps)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Stamps each epoch line of a command's output with the wall time since the command started and
# writes `epoch N wall_s W val_top1 A` / `test_top1 A wall_s W`, the script's own format.
stamp() {
  /usr/bin/python3 - "$@" <<'PY'
import re, subprocess, sys, time
t0 = time.perf_counter()
test = float("nan")
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
for line in p.stdout:
    m = re.match(r"epoch (\d+)/\d+ .*val_top1[ =]+([0-9.]+)", line)
    if m:
        print(f"epoch {m.group(1)} wall_s {time.perf_counter() - t0:.1f} val_top1 {float(m.group(2)):.4f}", flush=True)
    m = re.search(r"test_top1[ =]+([0-9.]+)", line)
    if m:
        test = float(m.group(1))
    if "error" in line.lower():
        print(line.rstrip(), file=sys.stderr)
rc = p.wait()
print(f"test_top1 {test:.4f} wall_s {time.perf_counter() - t0:.1f}")
sys.exit(rc)
PY
}

summary() {  # name file
  awk -v name="$1" -v target="$target" '
    /^epoch/ { if (!hit && $6 + 0 >= target) { hit = $2; hit_s = $4 } last = $4 }
    /^test_top1/ { test = $2; total = $4 }
    END { printf "%-22s %9s %12s %10s %10s\n", name, (hit ? hit : "-"), (hit ? hit_s : "-"), test, total }' "$2"
}

echo "== xp run bench/train/fashion_e2e.toml" >&2
stamp "$build/xp" run "$here/fashion_e2e.toml" --registry "$tmp/xp/registry.db" > "$tmp/xp.txt"
cat "$tmp/xp.txt" >&2
echo "== python3 bench/train/fashion_e2e.py" >&2
/usr/bin/python3 "$here/fashion_e2e.py" > "$tmp/py.txt"
cat "$tmp/py.txt" >&2
if [ "${XP_E2E_BF16:-0}" = 1 ]; then
  echo "== xp run bench/train/fashion_e2e.toml --set train.precision=bf16" >&2
  stamp "$build/xp" run "$here/fashion_e2e.toml" --registry "$tmp/xp_bf16/registry.db" \
    --set train.precision=bf16 > "$tmp/xp_bf16.txt"
  cat "$tmp/xp_bf16.txt" >&2
  echo "== python3 bench/train/fashion_e2e.py --bf16" >&2
  /usr/bin/python3 "$here/fashion_e2e.py" --bf16 > "$tmp/py_bf16.txt"
  cat "$tmp/py_bf16.txt" >&2
fi
if [ "${XP_E2E_SKIP_SHIPPED:-0}" != 1 ]; then
  echo "== xp run experiments/fashion_mnist_cnn.toml" >&2
  stamp "$build/xp" run "$root/experiments/fashion_mnist_cnn.toml" --registry "$tmp/shipped/registry.db" > "$tmp/shipped.txt"
  cat "$tmp/shipped.txt" >&2
  if [ "${XP_E2E_BF16:-0}" = 1 ]; then
    echo "== xp run experiments/fashion_mnist_cnn.toml --set train.precision=bf16" >&2
    stamp "$build/xp" run "$root/experiments/fashion_mnist_cnn.toml" --registry "$tmp/shipped_bf16/registry.db" \
      --set train.precision=bf16 > "$tmp/shipped_bf16.txt"
    cat "$tmp/shipped_bf16.txt" >&2
  fi
fi

printf "%-22s %9s %12s %10s %10s\n" side "epoch>=$target" "wall_s then" test_top1 total_s
summary "xp (same recipe)" "$tmp/xp.txt"
summary "python script" "$tmp/py.txt"
[ -f "$tmp/xp_bf16.txt" ] && summary "xp bf16 (same recipe)" "$tmp/xp_bf16.txt"
[ -f "$tmp/py_bf16.txt" ] && summary "python script bf16" "$tmp/py_bf16.txt"
[ -f "$tmp/shipped.txt" ] && summary "xp (shipped toml)" "$tmp/shipped.txt"
[ -f "$tmp/shipped_bf16.txt" ] && summary "xp (shipped, bf16)" "$tmp/shipped_bf16.txt"
ratio() {  # file [script file]: time-to-target ratio against the script (or total time when a side never reaches it)
  /usr/bin/python3 - "$1" "${2:-$tmp/py.txt}" "$target" <<'PY'
import sys
def reach(path, target):
    hit = total = None
    for line in open(path):
        f = line.split()
        if f[0] == "epoch" and hit is None and float(f[5]) >= target: hit = float(f[3])
        if f[0] == "test_top1": total = float(f[3])
    return hit, total
a, b = reach(sys.argv[1], float(sys.argv[3])), reach(sys.argv[2], float(sys.argv[3]))
if a[0] and b[0]: print(f"{a[0] / b[0]:.2f} (time to target)", end="")
else: print("- (a side never reached the target)", end="")
print(f", {a[1] / b[1]:.2f} (total)")
PY
}
echo "xp / script, same recipe:   $(ratio "$tmp/xp.txt")"
[ -f "$tmp/xp_bf16.txt" ] && echo "xp / script, both bf16:     $(ratio "$tmp/xp_bf16.txt" "$tmp/py_bf16.txt")"
[ -f "$tmp/shipped.txt" ] && echo "xp / script, shipped toml:  $(ratio "$tmp/shipped.txt")"
[ -f "$tmp/shipped_bf16.txt" ] && echo "xp bf16 / script fp32, shipped toml: $(ratio "$tmp/shipped_bf16.txt")"
echo "$(nproc) cores, $(uptime | sed 's/.*load average/load average/')" >&2
