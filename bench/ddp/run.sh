#!/usr/bin/env bash
# Data-parallel throughput on the CPU: 2 Gloo ranks x 1 thread against 1 process x 2 threads, same
# model (simple_cnn, Fashion-MNIST-sized inputs), same global batch, in-memory data. Prints both
# lines, their time breakdown and the ratio ddp/single.
#
#   bench/ddp/run.sh [BUILD_DIR] [STEPS] [GLOBAL_BATCH]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
steps="${2:-100}"
batch="${3:-64}"

[ -f "$build/lib/libxpcore.so" ] || { echo "no $build/lib/libxpcore.so: build xp first (cmake --build $build --target xpcore xp_vision)" >&2; exit 2; }
bin="$build/bench/bench_ddp"
mkdir -p "$build/bench"
if [ ! -x "$bin" ] || [ "$here/bench_ddp.cpp" -nt "$bin" ] || [ "$build/lib/libxpcore.so" -nt "$bin" ]; then
  echo "building $bin ..." >&2
  g++ -std=c++17 -O2 -DNDEBUG -D_GLIBCXX_USE_CXX11_ABI=1 \
    -I"$root/base/include" -I"$root/core/include" -I"$root/core/src" \
    -I/usr/include/torch/csrc/api/include -I/usr/include/opencv4 \
    "$here/bench_ddp.cpp" -o "$bin" \
    -L"$build/lib" -Wl,-rpath,"$build/lib" -lxpcore -lxpbase \
    -ltorch -ltorch_cpu -lc10 -lopencv_core -lpthread
fi
single=$("$bin" single 2 "$steps" "$batch" "$build/plugins")
ddp=$("$bin" launch 2 "$steps" "$batch" "$build/plugins")
echo "$single"
echo "$ddp"
s=$(echo "$single" | awk '/steps\/s/ {for (i = 1; i <= NF; i++) if ($i == "steps/s,") print $(i-1)}')
d=$(echo "$ddp" | awk '/steps\/s/ {for (i = 1; i <= NF; i++) if ($i == "steps/s,") print $(i-1)}')
echo "ratio ddp/single (steps/s, same global batch $batch): $(python3 -c "print(f'{$d / $s:.2f}')")"
echo "$steps timed steps after 5 warm-up steps, $(nproc) cores" >&2
