#!/usr/bin/env bash
# On a CUDA machine: the segmentation experiment trains on the GPU in bf16 and fp16 (with loss
# scaling and channels_last), records the device, GPU memory per epoch and the AMP counters.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for precision in bf16 fp16; do
  out="$tmp/$precision.txt"
  "$XP" run "$XP_SOURCE_DIR/experiments/focal_vs_tversky.toml" --variant tversky --seeds 1 \
    --registry "$tmp/$precision/registry.db" --set train.device=\"cuda\" --set train.precision=\"$precision\" \
    --set train.channels_last=on --set train.cudnn_benchmark=true --set train.epochs=2 > "$out" 2>&1 \
    || { cat "$out"; echo "FAIL: $precision run"; exit 1; }
  cat "$out"
  grep -q "finished" "$out" || { echo "FAIL: $precision run did not finish"; exit 1; }
  grep -q " gpu [0-9]*/[0-9]*M" "$out" || { echo "FAIL: no GPU memory on the epoch line"; exit 1; }
  csv=$(ls "$tmp"/$precision/focal_vs_tversky/*/metrics.csv)
  head -1 "$csv" | grep >/dev/null mem_gpu_peak_allocated_mb || { echo "FAIL: no GPU memory column"; exit 1; }
  if [ "$precision" = fp16 ]; then head -1 "$csv" | grep >/dev/null amp_loss_scale || { echo "FAIL: no loss scale"; exit 1; }; fi
  id=$(awk '/ finished /{print $2}' "$out")
  shown=$("$XP" show "$id" --registry "$tmp/$precision/registry.db")
  grep -q "device cuda" <<< "$shown" || { echo "$shown"; echo "FAIL: device not recorded as cuda"; exit 1; }
done
echo ok
