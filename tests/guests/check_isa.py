#!/usr/bin/env python3
"""Checks that a guest ELF's code uses only instructions the Cannon MT64 VM implements.

usage: check_isa.py OBJDUMP ELF [--allow-in SYMBOL]...

Reads `OBJDUMP -d` of the ELF and decodes every instruction word the way the reference VM
does (exec/mips_instructions.go, multithreaded/mips.go, state version multithreaded64-5):
by encoding, not by objdump's mnemonic, since objdump prints aliases such as dli or dnegu even
with -M no-aliases. Words inside a symbol named with --allow-in are not checked (the panic
guest's deliberate invalid instruction). Prints the mnemonics used, with counts, on stdout;
exits 1 after listing every unsupported word on stderr.
"""
import re
import subprocess
import sys

# SPECIAL (opcode 0) function codes the VM implements.
SPECIAL_FUNCS = {
    0x00, 0x02, 0x03, 0x04, 0x06, 0x07,  # sll srl sra sllv srlv srav
    0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0F,  # jr jalr movz movn syscall sync
    0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17,  # mfhi mthi mflo mtlo dsllv dsrlv dsrav
    0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,  # mult multu div divu dmult dmultu ddiv ddivu
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,  # add addu sub subu and or xor nor
    0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,  # slt sltu dadd daddu dsub dsubu
    0x38, 0x3A, 0x3B, 0x3C, 0x3E, 0x3F,  # dsll dsrl dsra dsll32 dsrl32 dsra32
}
REGIMM_RTS = {0x00, 0x01, 0x10, 0x11}  # bltz bgez bltzal bgezal
SPECIAL2_FUNCS = {0x02, 0x20, 0x21, 0x24, 0x25}  # mul clz clo dclz dclo
OPCODES = (
    set(range(0x02, 0x10))  # j jal beq bne blez bgtz addi addiu slti sltiu andi ori xori lui
    | {0x18, 0x19, 0x1A, 0x1B}  # daddi daddiu ldl ldr
    | set(range(0x20, 0x2F))  # lb lh lwl lw lbu lhu lwr lwu sb sh swl sw sdl sdr swr
    | {0x30, 0x34, 0x37, 0x38, 0x3C, 0x3F}  # ll lld ld sc scd sd
)


def supported(word):
    op = word >> 26
    if op == 0x00:
        return (word & 0x3F) in SPECIAL_FUNCS
    if op == 0x01:
        return ((word >> 16) & 0x1F) in REGIMM_RTS
    if op == 0x1C:
        return (word & 0x3F) in SPECIAL2_FUNCS
    return op in OPCODES


def main(argv):
    objdump, elf = argv[1], argv[2]
    allowed = {argv[i + 1] for i in range(3, len(argv) - 1) if argv[i] == "--allow-in"}
    text = subprocess.run([objdump, "-d", "-M", "no-aliases", elf], check=True,
                          capture_output=True, text=True).stdout
    sym_re = re.compile(r"^[0-9a-f]+ <(.+)>:$")
    insn_re = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(\S+)")
    sym = "?"
    counts = {}
    bad = []
    for line in text.splitlines():
        m = sym_re.match(line)
        if m:
            sym = m.group(1)
            continue
        m = insn_re.match(line)
        if not m:
            continue
        addr, word, mnem = m.group(1), int(m.group(2), 16), m.group(3)
        if sym in allowed:
            continue
        counts[mnem] = counts.get(mnem, 0) + 1
        if not supported(word):
            bad.append(f"  {addr}: {word:08x} {mnem} in {sym}")
    print(" ".join(f"{m}:{n}" for m, n in sorted(counts.items())))
    if bad:
        print(f"{elf}: instructions the VM does not implement:", file=sys.stderr)
        print("\n".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
