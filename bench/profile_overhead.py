#!/usr/bin/env python3
"""Cost of `cannonball profile` against a plain JIT run (issue 15: at most 1.5x on compute).

Runs, as whole processes, interleaved, R times each:
  plain:   cannonball run --input S --output "" --meta "" --stop-at =N        (JIT on)
  profile: cannonball profile --input S --meta M --stop-at =N -q --top 0 --folded /dev/null
and prints the median wall time and the median CPU time (user + sys of the child) of each,
and their ratios (profile / plain). CPU time is the stable number on a loaded machine.

usage: bench/profile_overhead.py [--cli build/cannonball] [--guest compute] [--steps 1e9] [-r 7]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def timed(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {code}")
    return wall, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=os.path.join(root, "build", "cannonball"))
    ap.add_argument("--guest", default="compute")
    ap.add_argument("--steps", default="1e9")
    ap.add_argument("-r", "--repetitions", type=int, default=7)
    a = ap.parse_args()
    vec = os.path.join(root, "..", "shared", "reference", "vectors", a.guest)
    state, meta = os.path.join(vec, "initial.bin.gz"), os.path.join(vec, "meta.json")
    if not os.path.exists(state):
        sys.exit(f"error: {state} is absent (needs ../shared/reference)")
    n = int(float(a.steps))
    plain = [a.cli, "run", "--input", state, "--output", "", "--meta", "", "--stop-at", f"={n}"]
    prof = [a.cli, "profile", "--input", state, "--meta", meta, "--stop-at", f"={n}", "-q", "--top", "0",
            "--folded", "/dev/null"]
    res = {"plain": [], "profile": []}
    for _ in range(a.repetitions):  # interleaved, so load changes hit both alike
        res["plain"].append(timed(plain))
        res["profile"].append(timed(prof))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in res.items()}
    print(f"{a.guest}, first {n:,} steps, {a.repetitions} interleaved runs each, medians")
    for k in ("plain", "profile"):
        w, c = med[k]
        print(f"  {k:8s} wall {w:7.3f} s   cpu {c:7.3f} s")
    print(f"  ratio    wall {med['profile'][0] / med['plain'][0]:.2f}x   cpu {med['profile'][1] / med['plain'][1]:.2f}x"
          f"   (target <= 1.5x)")


if __name__ == "__main__":
    main()
