#!/usr/bin/env bash
# Rebuilds the bundled guest ELFs into tests/guests/elf/NAME.elf and checks that they use only
# instructions the Cannon MT64 VM (multithreaded64-5) implements.
#
# Needs gcc-mips64-linux-gnuabi64 and binutils-mips64-linux-gnuabi64 (scripts/setup.sh).
# The output is deterministic for a given toolchain (no build-id, no .comment, relative source
# names), but another compiler version may produce other bytes, and therefore other state
# hashes: the committed ELFs are the reference inputs, rebuild them only on purpose.
#
# usage: tests/guests/build.sh [OUTDIR]      (default: tests/guests/elf)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/elf}
mkdir -p "$out"
out=$(cd "$out" && pwd)

cross=${CROSS:-mips64-linux-gnuabi64-}
CC=${cross}gcc
OBJDUMP=${cross}objdump

guests=(default selfmod panic exit3 bigheap hot)

# MIPS64 Release 1 only (the VM has no R2 rotr/ext/ins/seb/wsbh), n64, big-endian, no FPU.
# No PIC and no small-data section, so neither $gp nor $t9 needs to be set up; -msym32 gives
# 32-bit symbol addresses (the linker script puts everything below 2 GiB). No trap on divide
# by zero (teq is not implemented), no branch-likely (not implemented). GCC would turn copy and
# clear loops into memcpy/memset calls; common/rt.c provides those without that pattern.
cflags=(
  -march=mips64 -mabi=64 -EB -msoft-float -mno-abicalls -fno-pic -fno-pie -msym32 -G0
  -mno-check-zero-division -mno-branch-likely
  -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -fno-strict-aliasing
  -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-ident
  -ffunction-sections -fdata-sections
  -std=gnu11 -O2 -Wall -Wextra -Werror
)
# shellcheck disable=SC2054  # the commas belong to -Wl, options
ldflags=(
  -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,common/guest.ld -Wl,--gc-sections
  -Wl,-z,max-page-size=0x1000 -Wl,-z,common-page-size=0x1000
)

cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$CC" "${cflags[@]}" -c -o "$tmp/start.o" common/start.S
"$CC" "${cflags[@]}" -c -o "$tmp/rt.o" common/rt.c

status=0
for g in "${guests[@]}"; do
  "$CC" "${cflags[@]}" -c -o "$tmp/$g.o" "$g/$g.c"
  "$CC" "${cflags[@]}" "${ldflags[@]}" -o "$tmp/$g.elf" "$tmp/start.o" "$tmp/$g.o" "$tmp/rt.o"

  # Decode every code word as the VM would. The only unsupported instruction allowed anywhere
  # is the panic guest's deliberate one, alone in the function invalid_instruction.
  if ! used=$(python3 check_isa.py "$OBJDUMP" "$tmp/$g.elf" --allow-in invalid_instruction); then
    status=1
    continue
  fi
  printf -v "summary_$g" '%s' "$used"
  size=$(stat -c %s "$tmp/$g.elf")
  if ((size >= 65536)); then
    echo "build.sh: $g.elf is $size bytes, over the 64 KiB budget" >&2
    status=1
    continue
  fi
  cp "$tmp/$g.elf" "$out/$g.elf"
done
((status == 0)) || exit "$status"

# A summary of what the guests use (objdump mnemonic:count), for review.
for g in "${guests[@]}"; do
  summary_var="summary_$g"
  printf '%-8s %6d bytes  %s\n' "$g" "$(stat -c %s "$out/$g.elf")" "${!summary_var}"
done
(cd "$out" && sha256sum "${guests[@]/%/.elf}")
