#!/usr/bin/env bash
# Training throughput, xp vs Python PyTorch, same LibTorch build, model, batch, threads and
# in-memory data. Prints steps/s of both and the ratio xp/python for simple_cnn and a small resnet.
#
#   [REPEAT=3] [PRECISION=fp32|bf16] bench/train/run.sh [BUILD_DIR] [STEPS] [BATCH] [THREADS]
# PRECISION=bf16: xp with train.precision = "bf16", Python with channels_last + bf16 autocast.
# Needs python3-torch (Debian) built on the same LibTorch as xp.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
steps="${2:-60}"
batch="${3:-64}"
threads="${4:-2}"
warmup=5
precision="${PRECISION:-fp32}"
py_flags=()
[ "$precision" = bf16 ] && py_flags=(--bf16)

[ -f "$build/lib/libxpcore.so" ] || { echo "no $build/lib/libxpcore.so: build xp first (cmake --build $build --target xpcore xp_vision)" >&2; exit 2; }
plugins="$build/plugins"
bin="$build/bench/bench_train_xp"
mkdir -p "$build/bench"
if [ ! -x "$bin" ] || [ "$here/bench_xp.cpp" -nt "$bin" ] || [ "$build/lib/libxpcore.so" -nt "$bin" ]; then
  echo "building $bin ..." >&2
  g++ -std=c++17 -O2 -DNDEBUG -D_GLIBCXX_USE_CXX11_ABI=1 \
    -I"$root/base/include" -I"$root/core/include" -I"$root/core/src" \
    -I/usr/include/torch/csrc/api/include -I/usr/include/opencv4 \
    "$here/bench_xp.cpp" -o "$bin" \
    -L"$build/lib" -Wl,-rpath,"$build/lib" -lxpcore -lxpbase \
    -ltorch -ltorch_cpu -lc10 -lopencv_core -lpthread
fi

# xp twice: as it trains by default (train.channels_last = auto: NHWC on a oneDNN CPU) and with
# channels_last = off (NCHW, the layout the Python script uses), to show what the layout is worth.
# Each of the three is measured REPEAT times (default 3), interleaved, and the median is shown:
# on a shared 2-core machine single runs of the same binary differ by up to 30 %.
repeat=${REPEAT:-3}
median() { /usr/bin/python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "$@"; }
printf "%-12s %12s %14s %12s %8s %10s\n" model "xp steps/s" "xp NCHW st/s" "py steps/s" "xp/py" "NCHW/py"
for model in simple_cnn resnet; do
  xs=() ns=() ps=()
  for _ in $(seq 1 "$repeat"); do
    xs+=("$("$bin" "$model" "$steps" "$warmup" "$batch" "$threads" "$plugins" auto "$precision" | awk '{print $3}')")
    ns+=("$("$bin" "$model" "$steps" "$warmup" "$batch" "$threads" "$plugins" off "$precision" | awk '{print $3}')")
    ps+=("$(/usr/bin/python3 "$here/bench_python.py" --model "$model" --steps "$steps" --warmup "$warmup" \
              --batch "$batch" --threads "$threads" "${py_flags[@]}" | awk '{print $3}')")
  done
  echo "$model runs: xp ${xs[*]}; xp NCHW ${ns[*]}; python ${ps[*]}" >&2
  xp_rate=$(median "${xs[@]}") nchw_rate=$(median "${ns[@]}") py_rate=$(median "${ps[@]}")
  ratio=$(/usr/bin/python3 -c "print(f'{$xp_rate / $py_rate:.2f}')")
  nchw_ratio=$(/usr/bin/python3 -c "print(f'{$nchw_rate / $py_rate:.2f}')")
  printf "%-12s %12s %14s %12s %8s %10s\n" "$model" "$xp_rate" "$nchw_rate" "$py_rate" "$ratio" "$nchw_ratio"
done
echo "$precision, batch $batch, $threads threads, $steps timed steps after $warmup warm-up steps, median of $repeat, $(nproc) cores" >&2
