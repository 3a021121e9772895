#!/usr/bin/env bash
# Registry benchmark: builds the generator (no LibTorch needed), fills a registry with
# RUNS x EPOCHS x METRICS metric rows (default 10000 x 50 x 10 = 5 M) and times the queries,
# in-process and, when an xp binary is given, through `xp runs` / `xp report`.
#   bench/registry/run.sh [OUT_DIR] [XP_BINARY]     env RUNS, EPOCHS, METRICS override the sizes
# With PG=1 it also starts a throwaway PostgreSQL (tests/support/pg_server.sh), copies the registry
# into it and times the same queries there, then measures write throughput (metric rows/s) with
# 1, 8 and 32 writer processes on both backends (WRITERS, WRITE_SECONDS override). PG_DIR=DIR
# reuses a server started with `tests/support/pg_server.sh start DIR` that holds the copy already.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-/tmp/xp-registry-bench}"
xp="${2:-}"
mkdir -p "$out"
cxx="${CXX:-g++}"
command -v ccache >/dev/null && cxx="ccache $cxx"
# One object per source (ccache caches single-file compiles only), shared by both programs.
mkdir -p "$out/obj"
objs=()
for src in "$root"/registry/*.cpp "$root"/base/src/*.cpp "$here/generate.cpp" "$here/writers.cpp"; do
  obj="$out/obj/$(basename "$(dirname "$src")")_$(basename "$src" .cpp).o"
  $cxx -std=c++17 -O2 -I"$root/base/include" -I"$root/registry" $(pkg-config --cflags tomlplusplus) -c "$src" -o "$obj"
  case "$src" in */generate.cpp|*/writers.cpp) ;; *) objs+=("$obj") ;; esac
done
libs="-lsqlite3 -lcrypto $(pkg-config --libs tomlplusplus libpqxx)"
$cxx "$out/obj/registry_generate.o" "${objs[@]}" $libs -o "$out/generate"
$cxx "$out/obj/registry_writers.o" "${objs[@]}" $libs -o "$out/writers"
db="$out/registry.db"
if [[ ! -f "$db" || -n "${REGENERATE:-}" ]]; then
  "$out/generate" "$db" --runs "${RUNS:-10000}" --epochs "${EPOCHS:-50}" --metrics "${METRICS:-10}"
fi
ls -l "$db" | awk '{printf "registry size: %.0f MB\n", $5 / 1e6}'
"$out/generate" "$db" --query
if [[ -n "$xp" ]]; then
  t() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); printf '%6.3f s  %s\n' "$(echo "$e - $s" | bc)" "${*:2}"; }
  echo "through the xp binary (includes process start and output):"
  t "$xp" runs --registry "$db" --where "variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5" --limit 20
  t "$xp" runs --registry "$db" --where "variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5" --format json
  t "$xp" runs --registry "$db" --limit 50
  t "$xp" report bench --registry "$db" --metric val_iou
  t "$xp" report bench --registry "$db" --metric val_iou --group-by variant --group-by loss.gamma --format json
fi
if [[ -n "${PG:-}" ]]; then
  if [[ -n "${PG_DIR:-}" ]]; then
    # A server an earlier run left running (pg_server.sh start PG_DIR) that already holds the copy.
    pgdir=$PG_DIR
    url="postgresql://xp@/bench?host=$pgdir"
  else
    pgdir=$(mktemp -d /tmp/xp-pg-XXXXXX)
    trap 'bash "$root/tests/support/pg_server.sh" stop "$pgdir"; rm -rf "$pgdir"' EXIT
    bash "$root/tests/support/pg_server.sh" start "$pgdir" > /dev/null
    url=$(bash "$root/tests/support/pg_server.sh" createdb "$pgdir" bench)
  fi
  echo "PostgreSQL 15 (local, Unix socket, fsync off): $url"
  [[ -n "${PG_DIR:-}" ]] || "$out/generate" "$url" --copy-from "$db"
  "$out/generate" "$url" --query
  if [[ -n "$xp" ]]; then
    echo "through the xp binary on PostgreSQL:"
    t "$xp" runs --registry "$url" --where "variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5" --limit 20
    t "$xp" runs --registry "$url" --where "variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5" --format json
    t "$xp" runs --registry "$url" --limit 50
    t "$xp" report bench --registry "$url" --metric val_iou
    t "$xp" report bench --registry "$url" --metric val_iou --group-by variant --group-by loss.gamma --format json
  fi
  wurl=$(bash "$root/tests/support/pg_server.sh" createdb "$pgdir" "writers_$$")
  "$out/writers" "$out/writers.db" --writers "${WRITERS:-1,8,32}" --seconds "${WRITE_SECONDS:-5}"
  "$out/writers" "$wurl" --writers "${WRITERS:-1,8,32}" --seconds "${WRITE_SECONDS:-5}"
fi
