#!/usr/bin/env python3
"""Pre-image host for the bigheap guest: serves its one configuration key.

Run it after `--` on a cannonball (or cannon) `run` / `trace` / `prove` command line:

    cannonball run --input state.bin.gz ... -- python3 bigheap_server.py --random 256M --light 0

The VM starts it with four extra file descriptors (the Cannon host protocol):
  3  hints in      (4-byte big-endian length, then the hint) -> answered by one byte on 4
  4  hint acks out
  5  pre-image keys in (32 bytes each)
  6  values out    (8-byte big-endian length, then the value)

The only key it knows is the local key 0x01 00..00 "bigheap\\0" (the last 8 bytes are ASCII);
its value is four big-endian u64: random bytes, light bytes, seed, magic "bigheap1" (see
bigheap.c). With --once it exits after the first answer (what the benchmarks use: the VM
otherwise waits up to 1 s for the host to exit by itself when the run ends, as the reference
does). Any other key is an error: it says so on stderr and exits 3, as a real host would
rather than invent data.
"""
import argparse
import os
import select
import struct
import sys

CONFIG_KEY = bytes([1]) + bytes(23) + b"bigheap\0"
MAGIC = int.from_bytes(b"bigheap1", "big")
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_arg(text):
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1] if t and t[-1] in UNITS else ""
    try:
        n = int(t[: len(t) - len(unit)] or "x", 0) * UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 4096, 64K, 256M, 1G)" % text)
    if n < 0 or n % 4096:
        raise argparse.ArgumentTypeError("%r: sizes must be non-negative multiples of 4096" % text)
    if n > 1 << 40:
        raise argparse.ArgumentTypeError("%r: at most 1T" % text)
    return n


def read_exact(fd, n):
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def config_value(random_bytes, light_bytes, seed):
    return struct.pack(">QQQQ", random_bytes, light_bytes, seed, MAGIC)


def serve(value, once):
    open_fds = {3, 5}
    while open_fds:
        ready, _, _ = select.select(sorted(open_fds), [], [])
        for fd in ready:
            if fd == 3:
                head = read_exact(3, 4)
                if head is None or read_exact(3, int.from_bytes(head, "big")) is None:
                    open_fds.discard(3)
                    continue
                write_all(4, b"\x01")
                continue
            key = read_exact(5, 32)
            if key is None:
                open_fds.discard(5)
                continue
            if key != CONFIG_KEY:
                sys.stderr.write("bigheap_server: unknown key 0x%s\n" % key.hex())
                return 3
            write_all(6, len(value).to_bytes(8, "big") + value)
            if once:
                return 0
    return 0


def main():
    p = argparse.ArgumentParser(description="pre-image host serving the bigheap guest's configuration")
    p.add_argument("--random", type=size_arg, default=0, help="bytes of xorshift64-filled heap")
    p.add_argument("--light", type=size_arg, default=0, help="bytes of heap with one word per KiB written")
    p.add_argument("--seed", type=lambda s: int(s, 0), default=1, help="PRNG seed (u64)")
    p.add_argument("--once", action="store_true",
                   help="exit right after answering the key once (the guest asks once): the VM then "
                   "does not wait its 1 s exit grace for the host at the end; a second request fails")
    p.add_argument("--print", action="store_true", help="print the key and value as hex and exit")
    a = p.parse_args()
    if not 0 <= a.seed < 1 << 64:
        p.error("--seed must fit in 64 bits")
    value = config_value(a.random, a.light, a.seed)
    if a.print:
        print("0x" + CONFIG_KEY.hex(), "0x" + value.hex())
        return 0
    return serve(value, a.once)


if __name__ == "__main__":
    sys.exit(main())
