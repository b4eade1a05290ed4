#!/usr/bin/env bash
# Side-by-side whole-process benchmark: cannonball (`run --jit=on`, no output file) against
# QEMU user-mode (`qemu-mips64`, Debian's qemu-user) on the same guest ELFs, in one run.
#
# For each guest: one untimed cannonball run writes the final state and checks its hash
# against the reference's expected.json; then N rounds, each running cannonball and qemu once
# (alternating which goes first, so load drifts hit both alike). Prints the median CPU time
# (user+sys) and wall time of each, and the ratio qemu/cannonball (> 1: cannonball is faster).
#
# usage: bench/vs_qemu.sh [-n N] [-b path/to/cannonball] [guest...]   (default: compute threads, N=5)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
ref=${CB_REFERENCE_DIR:-$here/../shared/reference}
cb=$here/build/cannonball
n=5
while getopts "n:b:" opt; do
  case $opt in
    n) n=$OPTARG ;;
    b) cb=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-b cannonball] [guest...]" >&2; exit 1 ;;
  esac
done
shift $((OPTIND - 1))
guests=("$@")
((${#guests[@]})) || guests=(compute threads)

for tool in qemu-mips64 /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (bash scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -x $cb ]] || { echo "error: $cb not built (ninja -C build cannonball)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs "$@" once; appends "user+sys wall" (seconds) to the file $1 (the rest is the command).
timed() {
  local out=$1
  shift
  /usr/bin/time -f "%U %S %e" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || {
    echo "error: failed: $*" >&2
    tail -5 "$tmp/err" >&2
    exit 1
  }
  awk '{ printf "%.3f %.3f\n", $1 + $2, $3 }' "$tmp/t" >>"$out"
}

median() {  # column $2 of file $1
  sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

printf "%-8s %12s %12s %12s %12s %10s %10s  %s\n" guest cb_cpu_s qemu_cpu_s cb_wall_s qemu_wall_s cpu_ratio wall_ratio hash
for g in "${guests[@]}"; do
  vec=$ref/vectors/$g
  elf=$ref/elf/$g.elf
  want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["final_hash"])' "$vec/expected.json")
  "$cb" run --input "$vec/initial.bin.gz" --output "$tmp/final.bin.gz" --jit=on --info-at never --meta "" >/dev/null 2>"$tmp/err" || {
    echo "error: cannonball run of $g failed" >&2; tail -5 "$tmp/err" >&2; exit 1; }
  got=$("$cb" witness --input "$tmp/final.bin.gz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["witnessHash"])')
  check=ok
  [[ $got == "$want" ]] || check="MISMATCH($got != $want)"
  : >"$tmp/cb.$g"
  : >"$tmp/qemu.$g"
  for ((i = 0; i < n; i++)); do
    if ((i % 2 == 0)); then
      timed "$tmp/cb.$g" "$cb" run --input "$vec/initial.bin.gz" --output "" --jit=on --info-at never --meta ""
      timed "$tmp/qemu.$g" qemu-mips64 "$elf"
    else
      timed "$tmp/qemu.$g" qemu-mips64 "$elf"
      timed "$tmp/cb.$g" "$cb" run --input "$vec/initial.bin.gz" --output "" --jit=on --info-at never --meta ""
    fi
  done
  cc=$(median "$tmp/cb.$g" 1) qc=$(median "$tmp/qemu.$g" 1)
  cw=$(median "$tmp/cb.$g" 2) qw=$(median "$tmp/qemu.$g" 2)
  printf "%-8s %12.3f %12.3f %12.3f %12.3f %9.2fx %9.2fx  %s\n" "$g" "$cc" "$qc" "$cw" "$qw" \
    "$(awk -v a="$qc" -v b="$cc" 'BEGIN { print a / b }')" "$(awk -v a="$qw" -v b="$cw" 'BEGIN { print a / b }')" "$check"
  [[ $check == ok ]] || exit 1
done
echo "(median of $n interleaved runs; ratio = qemu / cannonball, > 1 means cannonball is faster)"
