#!/usr/bin/env bash
# Checks a `cannonball window --plot` SVG the way a person would look at it:
# render it to PNG with rsvg-convert and make sure the picture really shows
# axes, the deadline line and every mode's line, not an empty or blank image.
#
# usage: scripts/check_plot.sh PLOT.svg [OUT.png]
# Exit status 0 when the plot passes; otherwise 1 with the reasons on stderr.
# Needs rsvg-convert (librsvg2-bin) and python3 (standard library only).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 PLOT.svg [OUT.png]" >&2
    exit 2
fi
svg=$1
png=${2:-}
cleanup=""
if [[ -z $png ]]; then
    png=$(mktemp --suffix=.png)
    cleanup=$png
fi
trap '[[ -n $cleanup ]] && rm -f "$cleanup"' EXIT

command -v rsvg-convert >/dev/null || { echo "check_plot: rsvg-convert not found (apt install librsvg2-bin)" >&2; exit 1; }
[[ -s $svg ]] || { echo "check_plot: $svg is missing or empty" >&2; exit 1; }

# Rendered at the SVG's own size so the crisp 1-px lines land on whole pixels
# in their exact colours.
rsvg-convert -b white -o "$png" "$svg"

python3 - "$svg" "$png" <<'PY'
import re
import struct
import sys
import zlib

svg_path, png_path = sys.argv[1], sys.argv[2]
svg = open(svg_path, encoding="utf-8").read()
problems = []

# --- what the SVG says it draws ------------------------------------------
for what, pattern in [
    ("x axis", r'id="x-axis"'),
    ("y axis", r'id="y-axis"'),
    ("x-axis title", r'id="x-title"[^>]*>trace length'),
    ("y-axis title", r'id="y-title"[^>]*>time'),
    ("legend", r'id="legend"'),
    ("deadline line", r'id="deadline"'),
    ("deadline label", r'>deadline [^<]*\(split-depth clock extension\)<'),
    ("game-maximum line", r'id="max-trace"'),
]:
    if not re.search(pattern, svg):
        problems.append(f"SVG has no {what}")
mode_colours = re.findall(r'<polyline[^>]*class="mode-line"[^>]*stroke="(#[0-9a-fA-F]{6})"', svg)
legend_entries = re.findall(r'class="legend-entry"', svg)
if not mode_colours:
    problems.append("SVG has no mode lines")
if len(legend_entries) < len(mode_colours):
    problems.append(f"legend has {len(legend_entries)} entries for {len(mode_colours)} modes")
m = re.search(r'id="deadline">\s*<line[^>]*stroke="(#[0-9a-fA-F]{6})"', svg)
deadline_colour = m.group(1) if m else "#d62728"
m = re.search(r'<g stroke="(#[0-9a-fA-F]{6})"[^>]*>\s*<line id="x-axis"', svg)
axis_colour = m.group(1) if m else "#222222"

# --- what the PNG shows ----------------------------------------------------
def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ftype = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return w, h, rows

def rgb(hex_colour):
    return tuple(int(hex_colour[k:k + 2], 16) for k in (1, 3, 5))

try:
    w, h, px = read_png(png_path)
except Exception as e:  # noqa: BLE001 - any decoding failure means a bad image
    print(f"check_plot: cannot read {png_path}: {e}", file=sys.stderr)
    sys.exit(1)

if w < 400 or h < 300:
    problems.append(f"image is only {w}x{h}")
white = (255, 255, 255)
counts = {}
for row in px:
    for p in row:
        counts[p] = counts.get(p, 0) + 1
ink = 1 - counts.get(white, 0) / (w * h)
if len(counts) < 16:
    problems.append(f"image has only {len(counts)} distinct colours (blank?)")
if not 0.01 <= ink <= 0.6:
    problems.append(f"{ink:.1%} of the image is not background (expected 1%..60%)")

# Counts rather than unbroken runs: mode lines and the deadline legitimately
# cross the axes, but no column of text has this many axis-coloured pixels.
axis = rgb(axis_colour)
if max(sum(1 for p in row if p == axis) for row in px) < 0.4 * w:
    problems.append("no horizontal axis line in the image")
if max(sum(1 for y in range(h) if px[y][x] == axis) for x in range(w)) < 0.4 * h:
    problems.append("no vertical axis line in the image")
red = rgb(deadline_colour)
if max(sum(1 for p in row if p == red) for row in px) < 0.3 * w:
    problems.append(f"no dashed deadline line ({deadline_colour}) across the image")
for colour in mode_colours:
    n = counts.get(rgb(colour), 0)
    if n < 50:
        problems.append(f"mode line {colour} barely visible ({n} pixels)")

if problems:
    for p in problems:
        print(f"check_plot: {svg_path}: {p}", file=sys.stderr)
    sys.exit(1)
print(f"check_plot: {svg_path}: ok ({w}x{h}, {len(counts)} colours, {ink:.1%} ink, "
      f"{len(mode_colours)} mode lines)")
PY
