#!/usr/bin/env python3
"""Markdown report of bench/scale.sh's raw.tsv: medians per (size, mode, command, binary),
the issue-9 targets next to them, and CB/BASE ratios when a baseline ran.

usage: scale_report.py RAW.tsv
"""
import statistics
import sys

GIB = 1 << 30
COMMANDS = ["load-elf", "run", "witness", "trace", "prove"]
# Issue 9's targets, for a 1 GiB heap: wall seconds per command and mode, peak RSS per mode.
WALL_TARGET = {("run", "light"): 4.0, ("run", "random"): 6.0,
               ("witness", "light"): 2.0, ("witness", "random"): 3.0,
               ("prove", "light"): 1.0, ("prove", "random"): 1.0}
RSS_TARGET_GIB = {"light": 1.3, "random": 1.5}


def size_bytes(s):
    s = s.upper()
    unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    return int(s.rstrip("KMG")) * unit


def human(n):
    for unit, div in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return "%.2f %s" % (n / div, unit)
    return "%d B" % n


def target(cmd, mode, size):
    """The target text: exact at 1 GiB, scaled linearly (marked ~) at other sizes."""
    m = "random" if mode in ("random", "mixed") else "light"
    scale = size_bytes(size) / GIB
    mark = "" if scale == 1 else "~"
    parts = []
    wall = WALL_TARGET.get((cmd, m))
    if wall is not None:
        parts.append("%s%.2g s" % (mark, wall * scale))
    parts.append("%s%s" % (mark, human(RSS_TARGET_GIB[m] * GIB * scale)))
    return "<= " + " / ".join(parts)


def main():
    rows = []
    header = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#"):
                header.append(line.strip("# \n"))
                continue
            p = line.rstrip("\n").split("\t")
            if p[0] == "rep":
                continue
            rows.append(dict(rep=p[0], bin=p[1], size=p[2], mode=p[3], cmd=p[4], wall=float(p[5]),
                             cpu=float(p[6]), rss=int(p[7]) * 1024, status=int(p[8]),
                             extra=p[9] if len(p) > 9 else ""))

    configs = []
    for r in rows:
        if (r["size"], r["mode"]) not in configs:
            configs.append((r["size"], r["mode"]))
    bins = [b for b in ("cb", "base") if any(r["bin"] == b for r in rows)]

    def pick(size, mode, cmd, b):
        return [r for r in rows if (r["size"], r["mode"], r["cmd"], r["bin"]) == (size, mode, cmd, b)]

    def extra_median(rs, key):
        vals = [int(kv.split("=")[1]) for r in rs for kv in r["extra"].split() if kv.startswith(key + "=")]
        return statistics.median(vals) if vals else None

    def stats(size, mode, cmd, b):
        rs = pick(size, mode, cmd, b)
        ok = [r for r in rs if r["status"] == 0]
        fail = len(rs) - len(ok)
        if not ok:
            return None, None, None, fail, rs
        return (statistics.median(r["wall"] for r in ok), statistics.median(r["cpu"] for r in ok),
                statistics.median(r["rss"] for r in ok), fail, ok)

    for h in header:
        print("<!-- %s -->" % h)
    cols = ["size", "mode", "command", "wall", "CPU", "peak RSS", "target at this size"]
    if "base" in bins:
        cols += ["baseline wall", "baseline CPU", "baseline RSS", "wall ratio", "CPU ratio", "RSS ratio"]
    cols += ["output"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for size, mode in configs:
        for cmd in COMMANDS:
            wall, cpu, rss, fail, ok = stats(size, mode, cmd, "cb")
            if not pick(size, mode, cmd, "cb") and not pick(size, mode, cmd, "base"):
                continue
            cell = lambda v, f: "failed" if v is None else f(v)
            line = [size, mode, "`%s`" % cmd, cell(wall, lambda v: "%.2f s" % v),
                    cell(cpu, lambda v: "%.2f s" % v), cell(rss, human), target(cmd, mode, size)]
            if fail and wall is None:
                # Every run failed: say how (exit status) and how far it got.
                rs = pick(size, mode, cmd, "cb")
                line[3] = "failed (status %s) after %.2f s" % (
                    ",".join(sorted({str(r["status"]) for r in rs})), statistics.median(r["wall"] for r in rs))
                line[4] = "%.2f s" % statistics.median(r["cpu"] for r in rs)
                line[5] = "%s at failure" % human(statistics.median(r["rss"] for r in rs))
            elif fail:
                line[3] += " (%d failed)" % fail
            if "base" in bins:
                bwall, bcpu, brss, bfail, _ = stats(size, mode, cmd, "base")
                ratio = lambda a, b: "%.2fx" % (a / b) if a is not None and b else "-"
                line += [cell(bwall, lambda v: "%.2f s" % v) + (" (%d failed)" % bfail if bfail else ""),
                         cell(bcpu, lambda v: "%.2f s" % v), cell(brss, human),
                         ratio(wall, bwall), ratio(cpu, bcpu), ratio(rss, brss)]
            note = ""
            if cmd == "witness":
                gz = extra_median(ok, "final_gz")
                note = "final.bin.gz %s" % human(gz) if gz is not None else ""
            if cmd == "prove":
                disk = extra_median(ok, "trace_bytes")
                note = "trace dir %s" % human(disk) if disk is not None else ""
            line.append(note)
            print("| " + " | ".join(line) + " |")
    print()
    print("Guest steps (final state): " + "; ".join(
        "%s %s: %s" % (size, mode, ", ".join(sorted({r["extra"].split("=")[1] for r in rows
                                                   if (r["size"], r["mode"], r["cmd"]) == (size, mode, "steps")}))
                       or "-") for size, mode in configs))
    print()
    print("Medians of %s runs per cell (failed runs excluded): wall clock, CPU (user + system) and "
          "peak RSS from `/usr/bin/time -v`; ratios are CB / baseline (CPU is the steadier one on a loaded machine). Targets are "
          "issue 9's, set for 1 GiB; at other sizes they are scaled linearly (~). `prove` proves the "
          "last step (exit_group) from `trace --checkpoint-every 5000000`." %
          (max((int(r["rep"]) for r in rows), default=0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
