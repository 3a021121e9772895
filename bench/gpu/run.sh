#!/usr/bin/env bash
# GPU benchmarks, xp vs Python PyTorch on the same machine in the same run (docs/performance.md):
#   1. model step: resnet50, 224 px, batch 128, bf16 and fp32, synthetic data on the GPU
#   2. end to end: resnet18 from 10,000 JPEG files (random_resized_crop + hflip + normalize) vs the
#      same model's synthetic-data ceiling and vs a torch DataLoader with the same transforms/workers
#   3. the segmentation experiment (one run) on CUDA vs on this machine's CPU
#
#   bench/gpu/run.sh BUILD_DIR [WORKERS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:?build dir}"
workers="${2:-$(( $(nproc) - 2 ))}"
step="$build/bench/bench_gpu_model_step"
plugins="$build/plugins"
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "== 1. model step (images/s), resnet50 224 px batch 128, channels_last, synthetic data on the GPU"
printf "%-6s %12s %12s %8s\n" prec xp python xp/py
for prec in bf16 fp32; do
  x=$("$step" 50 128 $prec 40 10 1 "$plugins")
  p=$(python3 "$here/model_step.py" --depth 50 --batch 128 --precision $prec --steps 40 --warmup 10)
  xr=$(echo "$x" | awk '{print $4}'); pr=$(echo "$p" | awk '{print $4}')
  printf "%-6s %12s %12s %8s   (parameters: xp %s, python %s)\n" $prec "$xr" "$pr" "$(ratio "$xr" "$pr")" \
    "$(echo "$x" | awk '{print $6}')" "$(echo "$p" | awk '{print $6}')"
done

echo "== 2. end to end, resnet18 224 px bf16 batch 256, $workers loader workers, 10,000 JPEGs"
jpegs=/tmp/xp-bench-jpegs
[ -d "$jpegs/class9" ] || python3 "$here/make_jpegs.py" "$jpegs" 10000 320
du -sh "$jpegs" | awk '{print "  jpeg folder " $1}'
ceiling=$("$step" 18 256 bf16 30 10 1 "$plugins" | awk '{print $4}')
echo "  loader alone (xp bench loader, no model), uint8 batches then float32 batches:"
for u in on off; do
  "$build/xp" bench loader "$here/e2e.toml" --set data.root=\"$jpegs\" --workers $workers --batches 30 --uint8 $u \
    | sed 's/^/    /'
done
echo "  loader alone with decoder = nvjpeg (builds that found nvJPEG):"
"$build/xp" bench loader "$here/e2e.toml" --set data.root=\"$jpegs\" --set data.decoder=\"nvjpeg\" \
  --workers $workers --batches 30 2>&1 | tail -1 | sed 's/^/    /' || true
reg=$(mktemp -d)
# xp end to end, images/s of the second epoch (39 batches of 256 = 9984 images)
xp_e2e() {
  "$build/xp" run "$here/e2e.toml" --registry "$reg/registry.db" --set train.workers=$workers \
    --set data.root=\"$jpegs\" --set train.normalize_on_device=\"$1\" > "$reg/out_$1.txt" 2>&1 \
    || { cat "$reg/out_$1.txt" >&2; exit 1; }
  grep "^epoch" "$reg/out_$1.txt" | sed 's/^/    /' >&2
  awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="time_epoch_s") c=i} NR==3{print 9984/$c}' "$(ls -t "$reg"/bench_gpu_e2e/*/metrics.csv | head -1)"
}
xp_uint8=$(xp_e2e auto)
xp_float=$(xp_e2e off)
py_e2e=$(python3 -W ignore "$here/e2e_python.py" "$jpegs" --workers $workers 2>/dev/null | awk '{print $3}')
printf "  ceiling (synthetic, xp)            %10.1f img/s\n" "$ceiling"
printf "  xp end to end (uint8 batches)      %10.1f img/s  (%s of ceiling, xp/python %s)\n" "$xp_uint8" \
  "$(ratio "$xp_uint8" "$ceiling")" "$(ratio "$xp_uint8" "$py_e2e")"
printf "  xp end to end (float32 batches)    %10.1f img/s  (%s of ceiling)\n" "$xp_float" "$(ratio "$xp_float" "$ceiling")"
printf "  python DataLoader                  %10.1f img/s  (%s of ceiling)\n" "$py_e2e" "$(ratio "$py_e2e" "$ceiling")"

echo "== 3. segmentation experiment, one run (tversky, seed 42), CUDA vs CPU ($(nproc) cores)"
for dev in cuda cpu; do
  t0=$(date +%s.%N)
  "$build/xp" run "$root/experiments/focal_vs_tversky.toml" --variant tversky --seeds 42 \
    --registry "$reg/seg-$dev.db" --set train.device=\"$dev\" > "$reg/seg-$dev.txt" 2>&1 || { cat "$reg/seg-$dev.txt"; exit 1; }
  t1=$(date +%s.%N)
  printf "  %-5s %6.1f s  %s\n" $dev "$(python3 -c "print($t1 - $t0)")" "$(grep -o 'test_cal_f1 [0-9.]*' "$reg/seg-$dev.txt" | head -1)"
done
rm -rf "$reg"
