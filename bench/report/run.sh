#!/usr/bin/env bash
# Study-page benchmark: a registry of RUNS x EPOCHS x METRICS (default 10000 x 50 x 10, filled by
# bench/registry/generate.cpp: 5 variants, every 20th run failed), then the page of its experiment
# timed in-process phase by phase (page.cpp, linked against the built libraries) and, when an xp
# binary is given, through `xp report bench --html` (process start and the text report included).
#   bench/report/run.sh [OUT_DIR] [XP_BINARY]    env BUILD (default build/), RUNS, EPOCHS, METRICS
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-/tmp/xp-report-bench}"
xp="${2:-}"
build="$(cd "${BUILD:-$root/build}" && pwd)"
mkdir -p "$out"
cxx="${CXX:-g++}"
command -v ccache >/dev/null && cxx="ccache $cxx"
[[ -x "$out/generate" ]] || $cxx -std=c++17 -O2 -I"$root/base/include" -I"$root/registry" \
  "$root/bench/registry/generate.cpp" "$root"/registry/*.cpp "$root"/base/src/*.cpp $(pkg-config --cflags tomlplusplus) \
  -lsqlite3 -lcrypto $(pkg-config --libs tomlplusplus libpqxx) -o "$out/generate"
$cxx -std=c++17 -O2 -I"$root/base/include" -I"$root/registry" -I"$root/report" -I"$root/sweeps" "$here/page.cpp" \
  "$build/report/libxpreport.a" "$build/sweeps/libxpsweeps.a" "$build/registry/libxpregistry.a" \
  "$build/lib/libxpbase.so" -Wl,-rpath,"$build/lib" -lsqlite3 -lcrypto $(pkg-config --libs tomlplusplus libpqxx) \
  -o "$out/page"
db="$out/registry.db"
if [[ ! -f "$db" || -n "${REGENERATE:-}" ]]; then
  "$out/generate" "$db" --runs "${RUNS:-10000}" --epochs "${EPOCHS:-50}" --metrics "${METRICS:-10}" | head -1
fi
ls -l "$db" | awk '{printf "registry size: %.0f MB\n", $5 / 1e6}'
cat "$db" > /dev/null  # warm the page cache: the first read of a cold file measures the disk
echo "in-process (page.cpp), 3 times:"
for i in 1 2 3; do /usr/bin/time -f "  cpu: user %U s, sys %S s" "$out/page" "$db" bench "$out/study.html"; done
if [[ -n "$xp" ]]; then
  echo "through the xp binary: xp report bench --html (process start and the text report included), 3 times:"
  for i in 1 2 3; do
    /usr/bin/time -f "  %e s wall, user %U s, sys %S s" "$xp" report bench --registry "$db" --html "$out/xp-study.html" > /dev/null 2> "$out/time.txt" || { cat "$out/time.txt"; exit 1; }
    grep -v '^wrote' "$out/time.txt"
  done
  ls -l "$out/xp-study.html" | awk '{printf "page: %.2f MB\n", $5 / 1e6}'
fi
