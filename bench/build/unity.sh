#!/usr/bin/env bash
# What unity batches are worth (cmake/XpTorchSources.cmake): builds the given targets twice from
# scratch, without ccache, in two fresh build folders, XP_UNITY_BUILD=OFF (one object per file) and
# ON (the torch files of a target in batches), and prints the compiler's CPU seconds and the wall
# time of each and their ratio. Both sides use the precompiled torch header; it is built first and
# not counted.
#
#   bash bench/build/unity.sh [TARGET...]        default: xp_augment xp_classification
#   bash bench/build/unity.sh xp_main            what scripts/setup builds (~30 CPU-min per side)
set -euo pipefail
cd "$(dirname "$0")/../.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xp_augment xp_classification)
jobs=$(nproc)
work=$(mktemp -d /tmp/xp-unity-bench.XXXX)
trap 'rm -rf "$work"' EXIT

measure() {  # measure ON|OFF -> "cpu_seconds wall_seconds"
  local dir="$work/$1"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DXP_UNITY_BUILD="$1" -DXP_BUILD_TESTS=OFF >/dev/null
  CCACHE_DISABLE=1 cmake --build "$dir" --target xp_pch -j"$jobs" >/dev/null
  # A plugin's libraries below it (libxpcore and what it links) are built first, untimed, so that
  # plugin targets time their own files; xp_main / xp / xpcore time everything they need.
  case " ${targets[*]} " in
    *" xp_main "*|*" xp "*|*" xpcore "*) ;;
    *) CCACHE_DISABLE=1 cmake --build "$dir" --target xpcore -j"$jobs" >/dev/null ;;
  esac
  CCACHE_DISABLE=1 /usr/bin/time -f "%U %S %e" -o "$work/time_$1" \
    cmake --build "$dir" --target "${targets[@]}" -j"$jobs" >/dev/null
  awk '{print $1 + $2, $3}' "$work/time_$1"
}

echo "targets: ${targets[*]}; $jobs jobs; no ccache; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
read -r cpu_off wall_off < <(measure OFF)
read -r cpu_on wall_on < <(measure ON)
printf "one object per file   %8.1f CPU-s  %7.1f s wall\n" "$cpu_off" "$wall_off"
printf "unity batches         %8.1f CPU-s  %7.1f s wall\n" "$cpu_on" "$wall_on"
awk -v a="$cpu_on" -v b="$cpu_off" -v c="$wall_on" -v d="$wall_off" \
  'BEGIN { printf "ratio unity/per-file  %8.2f        %7.2f\n", a / b, c / d }'
