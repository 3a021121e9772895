#!/usr/bin/env bash
# Issue 23: how the tuned CPU/GPU split of decoder = "nvjpeg_batched" does on each generated JPEG set,
# against the same model's synthetic-data ceiling measured in this run: the loader alone (the split it
# settles at, and why), then end to end (resnet18 224 px bf16, epochs 2 and 3 of 3) with the stage's
# stream at the device's highest priority (the default) and at the ordinary one, and decoder = "cpu".
#
#   bench/gpu/split.sh BUILD_DIR [WORKERS] [SETS]     SETS: any of 320 varied 640x480 (default all)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/jpeg_sets.sh"
build="${1:?build dir}"
workers="${2:-$(( $(nproc) - 2 ))}"
sets="${3:-varied 640x480 320}"
step="$build/bench/bench_gpu_model_step"
plugins="$build/plugins"
reg=$(mktemp -d)
trap 'rm -rf "$reg"' EXIT
ratio() { python3 -c "print(f'{$1 / $2:.2f}')" 2>/dev/null || echo "?"; }
e2e_rate() {  # e2e_rate ROOT DECODER SIZE: images/s over epochs 2 and 3 (their time_epoch_s)
  # To stderr: the wall-clock rate over the same two epochs with everything between them (the epoch-end
  # callbacks: checkpoints), how long their steps waited for data, and the batch decode stage's line
  # (train.log's, after the last epoch).
  local root=$1 decoder=$2 size=$3 toml="$reg/e2e_$3.toml" out="$reg/out.txt"
  sed "s/size = \[224, 224\]/size = [$size, $size]/" "$here/e2e.toml" > "$toml"
  if ! "$build/xp" run "$toml" --registry "$reg/registry.db" --set train.workers=$workers --set data.root=\"$root\" \
      --set data.decoder=\"$decoder\" --set train.epochs=3 2>&1 |
      python3 -u -c 'import sys, time
t0 = time.perf_counter()
for line in sys.stdin: sys.stdout.write(f"{time.perf_counter() - t0:.3f} {line}")' > "$out"; then
    tail -5 "$out" >&2
    echo 0
    return
  fi
  local n=$(( $(find "$root" -name '*.jpg' | wc -l) / 256 * 256 ))
  local csv; csv="$(ls -t "$reg"/bench_gpu_e2e/*/metrics.csv | head -1)"
  local wall; wall=$(awk '$2 == "epoch" && $3 ~ /^[0-9]+\/[0-9]+$/ { split($3, e, "/"); t[e[1]] = $1 } END { print t[3] - t[1] }' "$out")
  awk -F, -v n=$n -v wall="$wall" 'NR==1{for(i=1;i<=NF;i++){if($i=="time_epoch_s") c=i; if($i=="time_data_wait_s") w=i}}
    NR>=3 && NR<=4 {t += $c; d += $w}
    END{printf "      epochs 2-3: %.2f s, of which %.2f s waiting for data; wall clock with the epoch ends between: %.2f s = %.0f images/s\n", t, d, wall, 2 * n / wall}' "$csv" >&2
  grep -A1 "batch decode stage" "$(dirname "$csv")/train.log" | tail -2 | sed 's/^ */      /' >&2
  awk -F, -v n=$n 'NR==1{for(i=1;i<=NF;i++) if($i=="time_epoch_s") c=i} NR>=3 && NR<=4 {t += $c} END{print 2 * n / t}' "$csv"
}
row() { printf "    %-52s %9.1f img/s  %s of ceiling\n" "$1" "$2" "$(ratio "$2" "$3")"; }
echo "== split of decoder = nvjpeg_batched, batch 256, $workers loader workers, $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/  GPU: /'
c18=$("$step" 18 256 bf16 30 10 1 "$plugins" | awk '{print $4}')
c160=$("$step" 18 256 bf16 30 10 1 "$plugins" 160 | awk '{print $4}')
echo "  ceilings (synthetic data on the GPU): resnet18 224 px $c18 img/s, 160 px $c160 img/s"
for set in $sets; do
  jpeg_set "$set" || continue
  echo "  -- set $set ($spec px, 10,000 files)"
  for batches in 30 60; do
    "$build/xp" bench loader "$here/e2e.toml" --set data.root=\"$root\" --set data.decoder=\"nvjpeg_batched\" \
      --workers $workers --batches $batches 2>&1 | grep -E "^loader|^batch decode|^  nvJPEG" | sed "s/^/    [$batches batches] /"
  done
  row "xp nvjpeg_batched, tuned split" "$(e2e_rate "$root" nvjpeg_batched 224)" "$c18"
  row "xp nvjpeg_batched, tuned, stage stream priority default" \
    "$(XP_STAGE_STREAM_PRIORITY=default e2e_rate "$root" nvjpeg_batched 224)" "$c18"
  row "xp cpu" "$(e2e_rate "$root" cpu 224)" "$c18"
  if [ "$set" = varied ]; then row "xp nvjpeg_batched, tuned, resnet18 160 px" "$(e2e_rate "$root" nvjpeg_batched 160)" "$c160"; fi
done
