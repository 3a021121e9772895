#!/usr/bin/env bash
# Issue 23's benchmark (docs/performance.md, "Batched nvJPEG"): end to end training from three
# generated JPEG sets with decoder = "cpu" (loader threads, region decode) and decoder =
# "nvjpeg_batched" (hardware JPEG decoder + GPU crops, shared with the workers), each against the
# same model's synthetic-data ceiling and a Python DataLoader, all in this one run.
#
#   bench/gpu/decode.sh BUILD_DIR [WORKERS] [SETS]     SETS: any of 320 varied 640x480 (default all)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/jpeg_sets.sh"
build="${1:?build dir}"
workers="${2:-$(( $(nproc) - 2 ))}"
sets="${3:-320 varied 640x480}"
step="$build/bench/bench_gpu_model_step"
plugins="$build/plugins"
reg=$(mktemp -d)
ratio() { python3 -c "print(f'{$1 / $2:.2f}')" 2>/dev/null || echo "?"; }

# images/s of the second epoch of an xp run: e2e_rate ROOT DECODER DEPTH SIZE
e2e_rate() {
  local root=$1 decoder=$2 depth=$3 size=$4 toml="$reg/e2e_$4.toml"
  sed "s/size = \[224, 224\]/size = [$size, $size]/" "$here/e2e.toml" > "$toml"
  local out="$reg/out_$(basename "$root")_${decoder}_${depth}_$size.txt"
  if ! "$build/xp" run "$toml" --registry "$reg/registry.db" --set train.workers=$workers --set data.root=\"$root\" \
      --set data.decoder=\"$decoder\" --set model.depth=$depth > "$out" 2>&1; then
    sed 's/^/      /' "$out" | tail -5 >&2
    echo 0
    return
  fi
  local n=$(( $(find "$root" -name '*.jpg' | wc -l) / 256 * 256 ))
  awk -F, -v n=$n 'NR==1{for(i=1;i<=NF;i++) if($i=="time_epoch_s") c=i} NR==3{print n/$c}' \
    "$(ls -t "$reg"/bench_gpu_e2e/*/metrics.csv | head -1)"
}

row() {  # row LABEL RATE CEILING [PYTHON]
  printf "    %-44s %9.1f img/s  %s of ceiling%s\n" "$1" "$2" "$(ratio "$2" "$3")" \
    "${4:+, $(ratio "$2" "$4")x python}"
}

echo "== nvjpeg_batched end to end, bf16, batch 256, $workers loader workers, $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/  GPU: /'
c18=$("$step" 18 256 bf16 30 10 1 "$plugins" | awk '{print $4}')
echo "  ceiling resnet18 224 px (synthetic data on the GPU): $c18 img/s"
for set in $sets; do
  jpeg_set "$set" || continue
  echo "  -- set $set ($spec px, 10,000 files, $(du -sh "$root" | cut -f1))"
  for dec in cpu nvjpeg_batched; do
    "$build/xp" bench loader "$here/e2e.toml" --set data.root=\"$root\" --set data.decoder=\"$dec\" \
      --workers $workers --batches 30 2>&1 | grep -E "^loader|^batch decode|^  nvJPEG" | sed "s/^/    [$dec] /"
  done
  py=$(python3 -W ignore "$here/e2e_python.py" "$root" --workers $workers 2>/dev/null | awk '{print $3}')
  cpu=$(e2e_rate "$root" cpu 18 224)
  gpu=$(e2e_rate "$root" nvjpeg_batched 18 224)
  row "python DataLoader (resnet18)" "${py:-0}" "$c18"
  row "xp decoder = cpu (resnet18)" "$cpu" "$c18" "$py"
  row "xp decoder = nvjpeg_batched (resnet18)" "$gpu" "$c18" "$py"
done
if [[ " $sets " == *" varied "* ]]; then
  jpeg_set varied
  c50=$("$step" 50 256 bf16 20 5 1 "$plugins" | awk '{print $4}')
  c160=$("$step" 18 256 bf16 30 10 1 "$plugins" 160 | awk '{print $4}')
  echo "  -- set varied, other models: ceiling resnet50 224 px $c50 img/s, resnet18 160 px $c160 img/s"
  row "xp decoder = cpu (resnet50)" "$(e2e_rate $root cpu 50 224)" "$c50"
  row "xp decoder = nvjpeg_batched (resnet50)" "$(e2e_rate $root nvjpeg_batched 50 224)" "$c50"
  row "xp decoder = cpu (resnet18 160 px)" "$(e2e_rate $root cpu 18 160)" "$c160"
  row "xp decoder = nvjpeg_batched (resnet18 160 px)" "$(e2e_rate $root nvjpeg_batched 18 160)" "$c160"
fi
rm -rf "$reg"
