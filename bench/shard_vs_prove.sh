#!/usr/bin/env bash
# Whole-process timing: one `prove -j 2` (the baseline) against the same work as 4 shards
# (`prove --shard K/4 -j 1`, two processes at a time, as a 4-task Slurm array runs on a 2-CPU
# node, then `batch merge`), interleaved, median of R runs, as a ratio in the same run.
# Workload: a trace of the first 1e9 steps of the shared `compute` guest, checkpoints every
# 1e8 (10 units), 40 random proofs and 20 random hashes (fixed seed). Outputs are checked
# byte-identical every run.
# Usage: bench/shard_vs_prove.sh [build/cannonball] [runs=5]
set -euo pipefail
bin=$(realpath "${1:-build/cannonball}")
runs=${2:-5}
shared=$(cd "$(dirname "$0")/../.." && pwd)/shared
initial=$shared/reference/vectors/compute/initial.bin.gz
work=$(mktemp -d /tmp/cb-shard-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" trace --input "$initial" --dir T --checkpoint-every 100000000 --stop-at 1000000000 \
  --no-sync --progress-every 0 2>/dev/null
python3 - <<'PY'
import random
r = random.Random(2026)
open("steps.txt", "w").write("".join(f"{r.randrange(1_000_000_000)}\n" for _ in range(40)))
open("hsteps.txt", "w").write("".join(f"{r.randrange(1_000_000_000)}\n" for _ in range(20)))
PY
args=(--dir T --steps-file steps.txt --hash-at-file hsteps.txt --progress-every 0)
now() { date +%s.%N; }
single=() sharded=()
for ((r = 0; r < runs; r++)); do
  rm -rf P1 P2 B h1.txt h2.txt
  t0=$(now)
  "$bin" prove "${args[@]}" --proof-fmt P1/proof-%d.json --hashes-out h1.txt -j 2 2>/dev/null
  t1=$(now)
  printf '%s\n' 0 1 2 3 | xargs -P 2 -I K "$bin" prove "${args[@]}" --proof-fmt P2/proof-%d.json \
    --shard K/4 --batch-dir B -j 1 2>/dev/null
  "$bin" batch merge --batch-dir B --hashes-out h2.txt 2>/dev/null
  t2=$(now)
  cmp -s h1.txt h2.txt && diff -r P1 P2 >/dev/null || { echo "outputs differ" >&2; exit 1; }
  single+=("$(python3 -c "print($t1 - $t0)")")
  sharded+=("$(python3 -c "print($t2 - $t1)")")
done
python3 - "${single[*]}" "${sharded[*]}" "$(nproc)" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"{len(a)} runs on {sys.argv[3]} cores, 40 proofs + 20 hashes over 1e9 steps of compute")
print(f"prove -j 2 (baseline)                    median {ma:.3f} s  runs {' '.join(f'{x:.2f}' for x in a)}")
print(f"4 shards, -j 1, 2 at a time, + merge     median {mb:.3f} s  runs {' '.join(f'{x:.2f}' for x in b)}")
print(f"ratio sharded / baseline: {mb / ma:.2f}")
PY
