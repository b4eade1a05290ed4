// `cannonball check-elf`: finds, before a program is ever run, the words of its code that the
// VM would panic on: instructions outside interp/isa.def and `syscall` sites whose number is a
// constant the VM does not implement (interp/constants.h sys::implemented).
//
// What counts as code (so data in executable segments does not drown the report):
//  1. every STT_FUNC symbol with a size, clipped to the executable PT_LOAD segments, is
//     scanned linearly, word by word (compilers put no data inside functions on MIPS: C jump
//     tables and constants go to .rodata, Go's pclntab and rodata to their own segment);
//  2. words outside those functions but inside executable sections (SHF_EXECINSTR; the
//     executable segments when the ELF has no section headers) are scanned only where control
//     flow reaches them from the entry point or from a symbol there (hand-written assembly
//     without .type @function): fall-through, branch and jump targets, both sides of
//     conditional branches, stopping after the delay slot of j/jr/b and at an invalid word
//     (which is reported: it is reached);
//  3. everything else in executable segments (ELF and program headers, notes, padding) is
//     counted and not checked.
// Syscall numbers: a constant propagation within each basic block (leaders: region starts,
// direct branch/jump targets, the instruction after a delay slot) over lui, ori, addiu,
// daddiu, move-like or/addu/daddu and shifts from $zero; any other write makes a register
// unknown. A syscall whose $v0 is unknown at that point (number loaded from memory, set in a
// delay slot before the block, passed in by a caller) is counted as dynamic, not reported.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cb {

struct ElfFinding {
  enum class Kind : uint8_t { kInstruction, kSyscall };
  Kind kind;
  uint64_t addr = 0;
  uint32_t word = 0;
  std::string symbol;       // "name+0x10" from the ELF's symbol table, or "?"
  std::string disassembly;  // interp/decoder's disassemble()
  uint64_t syscall = 0;     // kSyscall: the constant number
  uint64_t set_at = 0;      // kSyscall: address of the instruction that set $v0
};

struct ElfCheckReport {
  std::vector<ElfFinding> findings;  // by address
  // Unsupported words at known sites of the Go runtime that op-program never reaches on the
  // VM (see kGoRuntimeSites in elf_check.cpp); findings under --strict. `reason` says why.
  std::vector<std::pair<ElfFinding, std::string>> known;
  uint64_t functions = 0;        // STT_FUNC symbols scanned
  uint64_t function_words = 0;   // words scanned inside them
  uint64_t reached_words = 0;    // words scanned outside them (reached by control flow)
  uint64_t unchecked_words = 0;  // words of executable segments not scanned
  uint64_t syscall_sites = 0, syscall_constant = 0, syscall_dynamic = 0;
  std::vector<uint64_t> dynamic_sites;  // addresses of the dynamic syscall sites
};

struct ElfCheckOptions {
  std::vector<std::string> allow_in;  // findings inside these symbols are not reported
  bool strict = false;                // report the known Go runtime sites as findings too
};

// Throws ElfError (interp/elf_loader.h) on a malformed ELF.
ElfCheckReport check_elf(std::span<const uint8_t> file, const ElfCheckOptions& options = {});

}  // namespace cb
