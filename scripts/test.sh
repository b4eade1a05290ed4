#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#  1. installs dependencies (scripts/setup.sh, idempotent) and checks the format
#     (scripts/check-format.sh: every C++ source as .clang-format lays it out);
#  2. Release build with the JIT: every test, including the long ones (label "long": the
#     threads and compute guests, billions of steps; label "slurm": a one-node Slurm cluster
#     started and stopped by scripts/slurm/test_slurm.sh, skipped when it cannot start);
#  3. AddressSanitizer + UndefinedBehaviorSanitizer build: the unit-labelled tests (everything
#     but the long guests, whose checks the Release run makes);
#  4. interpreter-only build (-DCB_JIT=OFF): the unit-labelled tests;
#  5. fuzz smoke: every libFuzzer harness for 30 s (scripts/fuzz-smoke.sh, clang).
#  6. AArch64: cross build, JIT tests and reference vectors under qemu-aarch64
#     (scripts/test-aarch64.sh, ~10 min; it says which checks it subsets).
# Between 2 and 3: the release bundle (scripts/package.sh, relinking build/'s cannonball) and
# scripts/chroot-test.sh (op-challenger's command line in a debootstrap'd root; SKIPPED
# without root or debootstrap).
# Set CB_TEST_QUICK=1 to run only step 2's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== Format (.clang-format, scripts/check-format.sh)"
bash scripts/check-format.sh
jobs=$(nproc)
run_ctest() {  # build dir, ctest args...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs" "$@")
}
echo "== Release build (JIT on)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCB_TESTS=ON -DCB_BENCH=ON -DCB_WERROR=ON >/dev/null
ninja -C build
if [[ "${CB_TEST_QUICK:-0}" == 1 ]]; then
  run_ctest build -L unit
  exit 0
fi
run_ctest build
echo "== Release bundle (scripts/package.sh) and its test in a bare Debian 12 root"
bash scripts/package.sh build
bash scripts/chroot-test.sh build
echo "== Sanitizer build (address;undefined)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCB_SANITIZE="address;undefined" \
  -DCB_BENCH=OFF -DCB_WERROR=ON >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan -L unit
echo "== Interpreter-only build (CB_JIT=OFF)"
cmake -S . -B build-nojit -G Ninja -DCMAKE_BUILD_TYPE=Release -DCB_JIT=OFF -DCB_BENCH=OFF -DCB_WERROR=ON >/dev/null
ninja -C build-nojit
run_ctest build-nojit -L unit
echo "== Fuzz smoke (clang, CB_FUZZ=ON; 30 s per harness)"
bash scripts/fuzz-smoke.sh
echo "== AArch64 cross build under qemu-aarch64 (scripts/test-aarch64.sh)"
bash scripts/test-aarch64.sh
echo "== all test stages passed"
