#!/usr/bin/env bash
# The main job on the bundled default guest: installs dependencies, builds cannonball, loads
# tests/guests/elf/default.elf and runs it to the end, then prints what the guest printed, the
# step count, the final state hash and the speed.
#   usage: scripts/run-default.sh [--jit=on|off]
set -euo pipefail
cd "$(dirname "$0")/.."
jit="${1:---jit=on}"
bash scripts/setup.sh
# Same configuration as scripts/test.sh, so the two share one build tree without rebuilding.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCB_TESTS=ON -DCB_BENCH=ON -DCB_WERROR=ON >/dev/null
ninja -C build cannonball >/dev/null
out=build/default-job
mkdir -p "$out"
build/cannonball load-elf --type multithreaded64-5 --path tests/guests/elf/default.elf \
  --out "$out/initial.bin.gz" --meta "$out/meta.json"
start=$(date +%s.%N)
build/cannonball run --input "$out/initial.bin.gz" --output "$out/final.bin.gz" \
  --meta "$out/meta.json" --info-at never "$jit" 2>"$out/run.log"
end=$(date +%s.%N)
# Like the reference, `run` logs the guest's output on stderr (module=guest ... text="...").
echo "--- guest output ---"
python3 - "$out/run.log" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if "module=guest" in line:
        m = re.search(r'text="((?:[^"\\]|\\.)*)"', line)
        if m:
            sys.stdout.write(m.group(1).encode().decode("unicode_escape"))
PY
echo "--- end of guest output (full log: $out/run.log) ---"
build/cannonball witness --input "$out/final.bin.gz" >"$out/witness.json"
python3 - "$out/witness.json" "$start" "$end" "$jit" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"steps:      {w['step']:,}")
print(f"exit code:  {w['exitCode']} (exited: {w['exited']})")
print(f"final hash: {w['witnessHash']}")
print(f"time:       {secs:.2f} s, {w['step'] / secs / 1e6:.1f} M steps/s ({sys.argv[4]}, wall clock incl. start-up)")
PY
