#!/usr/bin/env bash
# End-to-end test of sharded batch proofs on a real (one-node) Slurm cluster:
#  1. starts munged, slurmctld and slurmd in a temp directory (scripts/slurm/local_cluster.sh);
#  2. records a trace of the first 400 M steps of the shared `compute` guest (checkpoints
#     every 25 M: 16 units of work) and proves 32 random steps and hashes 16 more with one
#     `prove -j 2` on this machine (the baseline);
#  3. submits prove_array.sbatch as a 4-task array, waits, merges: every proof file and the
#     merged hashes must be byte-identical to the baseline's;
#  4. again into a fresh batch directory on the interpreter (slower units), cancelling task 0
#     (SIGTERM/SIGKILL through scancel) once it has completed its first unit; `batch status`
#     must report only shard 0 missing; resubmitting `--array=<missing shards>` must skip the
#     units the killed task completed and make the merge byte-identical again; a final
#     resubmission of every task must run nothing;
#  5. stops the daemons and removes everything.
# Usage: test_slurm.sh CANNONBALL_BINARY SHARED_DIR
# Exit 0 pass, 1 fail, 77 skipped (no reference vectors, not root, no Slurm, or the daemons
# would not start: the reason is printed).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:?usage: test_slurm.sh CANNONBALL_BINARY SHARED_DIR}")
shared=${2:?usage: test_slurm.sh CANNONBALL_BINARY SHARED_DIR}
initial=$shared/reference/vectors/compute/initial.bin.gz

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*"; exit 1; }
[[ -f $initial ]] || skip "no reference vectors at $shared/reference"
[[ -x $bin ]] || fail "no cannonball binary at $bin"

source "$here/local_cluster.sh"
work=$(mktemp -d /tmp/cb-slurm-test.XXXXXX)
cleanup() {
  [[ -n ${SLURM_CONF:-} ]] && scancel --quiet --user=root 2>/dev/null
  cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP  # a ctest timeout still stops the daemons
if ! cluster_start "$work/cluster"; then
  skip "could not start a local Slurm cluster (see the reason above)"
fi
echo "slurm: one-node cluster up ($(sinfo -h -o '%c CPUs, partition %P'))"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

cd "$work" || fail "no work dir"
"$bin" trace --input "$initial" --dir "$work/T" --checkpoint-every 25000000 --stop-at 400000000 \
  --no-sync --progress-every 0 2>"$work/trace.log" || { cat "$work/trace.log"; fail "trace"; }
python3 - "$work" <<'PY'
import random, sys
r = random.Random(16)
open(sys.argv[1] + "/steps.txt", "w").write("".join(f"{r.randrange(400_000_000)}\n" for _ in range(32)))
open(sys.argv[1] + "/hsteps.txt", "w").write("".join(f"{r.randrange(400_000_000)}\n" for _ in range(16)))
PY

t0=$(now)
"$bin" prove --dir "$work/T" --steps-file "$work/steps.txt" --hash-at-file "$work/hsteps.txt" \
  --proof-fmt "$work/single/proof-%d.json" --hashes-out "$work/single-hashes.txt" -j 2 \
  --progress-every 0 2>"$work/single.log" || { cat "$work/single.log"; fail "single prove"; }
t_single=$(elapsed "$t0" "$(now)")
nproofs=$(ls "$work/single" | wc -l)
[[ $nproofs == 32 && -s $work/single-hashes.txt ]] || fail "single prove wrote $nproofs proofs"

# Submits the array script; extra sbatch flags in "$@". Prints the job id.
submit() {
  local batch=$1; shift
  mkdir -p "$batch/logs"
  CB_BIN=$bin CB_TRACE=$work/T CB_STEPS_FILE=$work/steps.txt CB_HASHES_FILE=$work/hsteps.txt \
    CB_BATCH=$batch CB_PROOF_FMT=$batch/proofs/proof-%d.json \
    sbatch --parsable --output="$batch/logs/shard-%a.%j.out" "$@" "$here/prove_array.sbatch"
}
# Same proofs and hashes as the single-machine run, byte for byte.
check_identical() {
  local batch=$1
  "$bin" batch merge --batch-dir "$batch" --hashes-out "$batch/merged-hashes.txt" ||
    fail "merge of $batch"
  cmp "$work/single-hashes.txt" "$batch/merged-hashes.txt" || fail "merged hashes differ"
  # A killed task may leave a temp file (the proof it was writing); every proof-N.json counts.
  local f
  for f in "$work"/single/proof-*.json; do
    cmp -s "$f" "$batch/proofs/${f##*/}" || fail "proof ${f##*/} of $batch differs or is missing"
  done
  [[ $(ls "$batch/proofs" | grep -c '^proof-[0-9]*\.json$') == 32 ]] || fail "stray proof files"
}

wait_job() {  # job id: until squeue no longer lists it
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -z $(squeue -h -j "$1" -o %i 2>/dev/null) ]] && return 0
    sleep 0.2
  done
  fail "job $1 did not finish"
}

# 3. Four shards through Slurm.
t0=$(now)
job=$(submit "$work/B" --array=0-3) || fail "sbatch"
wait_job "$job"  # polls squeue every 0.2 s (sbatch --wait polls far less often)
t_array=$(elapsed "$t0" "$(now)")
"$bin" batch status --batch-dir "$work/B" || { cat "$work"/B/logs/*; fail "status after the array"; }
check_identical "$work/B"
t_shards=$(grep -ho 'steps executed, [0-9.]* s' "$work"/B/logs/* | awk '{s += $3} END {printf "%.2f", s}')
echo "slurm: 4-task array (job $job): proofs and hashes identical to one prove -j 2"

# 4. Kill task 0 part-way, resubmit what is missing.
B2=$work/B2
job=$(submit "$B2" --array=0-3 --export=ALL,CB_JIT=off) || fail "sbatch (kill run)"
for ((i = 0; i < 600; i++)); do
  [[ -f $B2/plan.json ]] && break
  sleep 0.05
done
# The result files of task 0's units (scheduler/shard.h: units/unit-<job>-<from>.txt).
mapfile -t units0 < <(python3 - "$B2" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1] + "/plan.json"))
for u in plan["units"]:
    if u["shard"] == 0:
        print(f"{sys.argv[1]}/units/unit-{u['job']:06d}-{u['from']:020d}.txt")
PY
)
((${#units0[@]} >= 2)) || fail "task 0 has ${#units0[@]} units; the kill test needs 2 or more"
for ((i = 0; i < 3000; i++)); do  # until task 0 has completed one unit
  for f in "${units0[@]}"; do [[ -f $f ]] && break 2; done
  sleep 0.02
done
scancel "${job}_0" || fail "scancel"
wait_job "$job"
status=$("$bin" batch status --batch-dir "$B2")
echo "$status" | sed 's/^/  /'
missing=$("$bin" batch status --batch-dir "$B2" --missing-shards)
[[ $missing == 0 ]] || fail "after killing task 0, missing shards are '$missing', expected '0'"
done0=$(echo "$status" | sed -n 's/^shard 0: \([0-9]*\)\/\([0-9]*\) units complete.*/\1/p')
echo "slurm: task 0 killed with $done0 of its ${#units0[@]} units complete"
((done0 >= 1 && done0 < ${#units0[@]})) || fail "the kill did not land between two units ($done0 of ${#units0[@]} complete)"
submit "$B2" --array="$missing" --export=ALL,CB_SHARDS=4,CB_JIT=off --wait >/dev/null ||
  fail "resubmission"
log=$(ls -t "$B2"/logs/shard-0.*.out | head -1)
grep -q "shard 0/4: .* assigned, $done0 already complete" "$log" ||
  { cat "$log"; fail "the resubmitted task did not skip its $done0 complete units"; }
check_identical "$B2"
# Everything complete: a full resubmission runs nothing.
submit "$B2" --array=0-3 --wait >/dev/null || fail "full resubmission"
ran=$(grep -h 'already complete; running' $(ls -t "$B2"/logs/*.out | head -4) | grep -vc 'running 0 ')
[[ $ran == 0 ]] || fail "a complete batch ran $ran shards again"
echo "slurm: killed task resubmitted, completed only its missing units; merge identical"

echo "slurm: timing on $(nproc) cores: one prove -j 2: ${t_single} s;" \
  "4 shards as a Slurm array (-j 1 each, 2 at a time): ${t_array} s wall" \
  "(the shards' own run times add up to ${t_shards} s)"
echo "PASSED"
