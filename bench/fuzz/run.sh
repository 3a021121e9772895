#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for MINUTES each (default 5), one after another.
#   bash bench/fuzz/run.sh 30           # half an hour per target
#   FUZZ_JOBS=2 bash bench/fuzz/run.sh  # two fuzzing processes per target
#   FUZZ_TARGETS="where jpeg" bash bench/fuzz/run.sh 10
# Builds with clang (Debian's clang + libfuzzer packages) into build-fuzz/ with XP_FUZZ=ON; each
# target starts from its seed corpus tests/fuzz/<name>/ and keeps what it learns in
# build-fuzz/corpus/<name>/. A crash, leak or hang is written to build-fuzz/crashes/<name>/; fix it,
# then copy the input into tests/fuzz/<name>/ so that ctest (fuzz_<name>) replays it forever.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-5}
jobs=${FUZZ_JOBS:-1}
build=${XP_FUZZ_BUILD_DIR:-build-fuzz}
targets=${FUZZ_TARGETS:-"where sweep_config jpeg experiment idx csv checkpoint tensorboard"}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXP_FUZZ=ON -DXP_USE_PCH=OFF
fi
cmake --build "$build" -j"$(nproc)" --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks inside the libraries xp does not build (LibTorch's checkpoint reader on a corrupt archive):
# the same list as the sanitizer tests, so that the fuzzer goes on looking for xp's.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0}
status=0
for t in $targets; do
  corpus="$build/corpus/$t"
  crashes="$build/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  echo "== fuzz_$t for $minutes min ($jobs job(s)); corpus $corpus"
  set +e
  # -jobs=N makes libFuzzer fork N workers that log to ./fuzz-<i>.log (not into fuzz_$t.log, so the
  # statistics below would be missing): one process runs in the foreground.
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  "$build/fuzz_$t" "$corpus" "tests/fuzz/$t" -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 "${parallel[@]}" \
    > "$build/fuzz_$t.log" 2>&1
  rc=$?
  set -e
  grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^Done|cov: " "$build/fuzz_$t.log" | tail -4
  found=$(find "$crashes" -type f | wc -l)
  echo "   exit $rc, corpus $(find "$corpus" -type f | wc -l) inputs, crash/leak/timeout inputs: $found"
  [ "$rc" -eq 0 ] && [ "$found" -eq 0 ] || status=1
done
exit $status
