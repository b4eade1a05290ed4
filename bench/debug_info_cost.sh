#!/usr/bin/env bash
# What --debug-info's statistics cost (issue 11): whole `cannonball run` processes on a prefix
# of the `threads` guest, with and without --debug-info, interleaved, median of R runs each,
# for the JIT and the interpreter. op-challenger always passes --debug-info, so this is the
# price a challenger pays for real statistics.
# usage: bench/debug_info_cost.sh [CANNONBALL] [STEPS] [R]   (CB_BENCH_JIT="on" for the JIT only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/cannonball}
steps=${2:-200000000}
runs=${3:-5}
in=$root/../shared/reference/vectors/threads/initial.bin.gz
[[ -f $in ]] || { echo "debug_info_cost: ../shared/reference is absent" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
secs() {  # one run; prints wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" run --input "$in" --output '' --meta '' --stop-at "=$steps" --info-at never --progress=false "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for jit in ${CB_BENCH_JIT:-on off}; do
  : >"$tmp/base"; : >"$tmp/stats"
  for ((i = 0; i < runs; i++)); do
    secs --jit=$jit >>"$tmp/base"
    secs --jit=$jit --debug-info "$tmp/d.json" >>"$tmp/stats"
  done
  b=$(median <"$tmp/base"); s=$(median <"$tmp/stats")
  printf 'jit=%-3s  %d steps  without --debug-info %.3f s  with %.3f s  ratio %.3f\n' "$jit" "$steps" "$b" "$s" \
    "$(awk -v a="$s" -v b="$b" 'BEGIN { print a / b }')"
done
