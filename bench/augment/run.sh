#!/usr/bin/env bash
# Builds bench.cpp against an xp build tree and prints the xp vs torchvision table.
#   bench/augment/run.sh [build_dir] [seconds per case]
# Needs: the xp_augment and xpcore targets built in build_dir; Debian python3-torch and
# python3-torchvision (PYTHON picks the interpreter, default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seconds=${2:-0.6}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

torch_inc=/usr/include/torch/csrc/api/include
g++ -std=gnu++17 -O2 -DNDEBUG -D_GLIBCXX_USE_CXX11_ABI=1 -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1 \
  -I"$root/base/include" -I"$root/core/include" -I"$root/core/src" -isystem "$torch_inc" $(pkg-config --cflags opencv4 tomlplusplus) \
  "$here/bench.cpp" -o "$out/bench" \
  -L"$build/lib" -Wl,-rpath,"$build/lib" -lxpcore -lxpbase \
  $(pkg-config --libs opencv4 tomlplusplus) -ltorch -ltorch_cpu -lc10

export OMP_NUM_THREADS=1
"$out/bench" "$build/plugins/xp_augment.so" "$root/experiments/presets/medium.toml" "$seconds" | tee "$out/xp.jsonl" >&2
"${PYTHON:-/usr/bin/python3}" "$here/bench_torchvision.py" "$out/xp.jsonl" "$seconds"
