#!/usr/bin/env bash
# Fuzz smoke stage of scripts/test.sh: builds the libFuzzer harnesses with clang
# (-DCB_FUZZ=ON, tests/fuzz/) and runs each for CB_FUZZ_SECONDS (default 30) on a copy of its
# committed seed corpus (the repository's corpora are never written). Any crash, sanitizer
# report, JIT/interpreter difference, timeout (10 s per input) or RSS above 2 GiB fails the
# stage. Prints one line per harness: executions, coverage (libFuzzer's cov: edges, ft:
# features), corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${CB_FUZZ_SECONDS:-30}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCB_FUZZ=ON \
  -DCB_TESTS=OFF -DCB_BENCH=OFF >/dev/null
harnesses=(elf_loader state_decoder step witness_step)
[[ "$(grep -c '^CB_JIT:BOOL=ON' build-fuzz/CMakeCache.txt)" == 1 ]] && harnesses+=(jit)
ninja -C build-fuzz "${harnesses[@]/#/fuzz_}"
seeds_of() {
  case $1 in
    elf_loader) echo tests/guests/elf ;;
    state_decoder) echo tests/fuzz/corpus/state ;;
    witness_step) echo tests/fuzz/corpus/step ;;  # any bytes make a random state
    *) echo "tests/fuzz/corpus/$1" ;;
  esac
}
for h in "${harnesses[@]}"; do
  run=build-fuzz/fuzz-run/$h
  rm -rf "$run"
  mkdir -p "$run/corpus"
  cp "$(seeds_of "$h")"/* "$run/corpus/"
  if ! (cd "$run" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "../../tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 corpus >log 2>&1); then
    tail -n 60 "$run/log"
    echo "fuzz_$h: FAILED (log: $run/log)"
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$run/log" | grep -o '[0-9]*$')
  last=$(grep -E '#[0-9]+.*cov: ' "$run/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*$')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*$')
  files=$(ls "$run/corpus" | wc -l)
  echo "fuzz_$h: ${execs} executions in ${secs} s, cov ${cov} edges, ft ${ft}, corpus ${files} inputs, 0 crashes"
done
