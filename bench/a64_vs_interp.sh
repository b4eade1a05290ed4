#!/usr/bin/env bash
# AArch64 JIT vs the AArch64 interpreter (issue 14), both the same cross-built binary run
# under qemu-aarch64 in the same session: the first STEPS (default 100 M) steps of the
# `compute` reference guest with --jit=on and --jit=off, RUNS (default 5) interleaved runs
# each, median wall time, ratio off/on. Also prints the JIT's compiled fraction for the same
# prefix (--jit-stats). Usage:
#   bash bench/a64_vs_interp.sh [build-aarch64/cannonball] [STEPS] [RUNS]
# On a native AArch64 host set CB_A64_RUNNER= (empty) to run the binary directly, e.g.
#   CB_A64_RUNNER= bash bench/a64_vs_interp.sh build/cannonball 1000000000 5
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-aarch64/cannonball}
steps=${2:-100000000}
runs=${3:-5}
# One CPU (taskset): TBB's worker threads hang under qemu-user 7.2 (scripts/test-aarch64.sh).
cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
runner=${CB_A64_RUNNER-taskset -c $cpu qemu-aarch64 -L /usr/aarch64-linux-gnu}
input=../shared/reference/vectors/compute/initial.bin.gz
[[ -x $bin && -f $input ]] || { echo "error: need $bin and $input" >&2; exit 1; }
run() {  # jit -> wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  $runner "$bin" run --input "$input" --output '' --meta '' --stop-at "=$steps" --jit="$1" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
on=() off=()
for ((i = 0; i < runs; i++)); do
  on+=("$(run on)")
  off+=("$(run off)")
  echo "run $((i + 1))/$runs: jit=on ${on[-1]} s, jit=off ${off[-1]} s"
done
m_on=$(printf '%s\n' "${on[@]}" | median)
m_off=$(printf '%s\n' "${off[@]}" | median)
echo "runner: ${runner:-native}; compute, first $steps steps, median of $runs interleaved runs"
printf 'jit=on  %.2f s (%.1f M steps/s)\n' "$m_on" "$(echo "$steps / $m_on / 1000000" | bc -l)"
printf 'jit=off %.2f s (%.1f M steps/s)\n' "$m_off" "$(echo "$steps / $m_off / 1000000" | bc -l)"
printf 'speedup (off / on): %.2fx\n' "$(echo "$m_off / $m_on" | bc -l)"
$runner "$bin" run --input "$input" --output '' --meta '' --stop-at "=$steps" --jit=on --jit-stats 2>&1 |
  grep -E '^jit-stats: steps' || true
