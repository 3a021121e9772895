# Sourced by bench/gpu/decode.sh and bench/gpu/split.sh: issue 23's three generated JPEG sets.
# jpeg_set NAME (320 | varied | 640x480) sets $root and $spec, and writes the set's 10,000 files
# (bench/gpu/make_jpegs.py) the first time it is asked for.
jpeg_set() {
  case $1 in
    320) root=/tmp/xp-bench-jpegs; spec=320 ;;
    varied) root=/tmp/xp-jpegs-varied; spec=300-500 ;;
    640x480) root=/tmp/xp-jpegs-640x480; spec=640x480 ;;
    *) echo "unknown JPEG set '$1' (320, varied or 640x480)" >&2; return 1 ;;
  esac
  [ -d "$root/class9" ] || python3 "$(dirname "${BASH_SOURCE[0]}")/make_jpegs.py" "$root" 10000 "$spec"
}
