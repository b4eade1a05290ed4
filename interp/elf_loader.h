// ELF loading as the reference's `load-elf` does it (program/load.go, patch.go, metadata.go):
// big-endian MIPS64 ELF64, every segment with a memory size copied to its virtual address
// (PT_MIPS_ABIFLAGS skipped, PT_LOAD zero-filled), the reference's range checks, then the
// initial stack (argv, envp, auxv) at 0x7FFFFFFFF000.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "interp/state.h"

namespace cb {

struct ElfError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Symbol {
  std::string name;
  uint64_t start = 0;
  uint64_t size = 0;
  uint8_t type = 0;  // STT_* (low 4 bits of st_info; 2 = STT_FUNC); not part of meta.json
};

// What `check-elf` needs beyond loading: program segments and section headers as written.
struct ElfSegment {
  uint32_t type = 0, flags = 0;  // PT_*, PF_* (1 = PF_X)
  uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0;
};
struct ElfSection {
  std::string name;
  uint32_t type = 0;
  uint64_t flags = 0, addr = 0, offset = 0, size = 0;  // flags: SHF_* (4 = SHF_EXECINSTR)
};

struct Metadata {
  std::vector<Symbol> symbols;  // sorted by start address
  // The reference's LookupSymbol: "!unknown", "!start", "!gap" or the name.
  std::string lookup(uint64_t addr) const;
  // The meta.json the reference writes (Go JSON, 2-space indent, trailing blank line).
  std::string to_json() const;
  static Metadata from_json(std::string_view text);  // throws std::runtime_error
};

// `max_memory`: the sum of all segments' memory sizes above it is refused before any page is
// allocated (a 1 TiB p_memsz would otherwise allocate until the OOM killer); 0 (the default)
// means the process's memory budget (memory/page_pool.h, --max-memory).
// Throws ElfError with one clear line.
State load_elf(std::span<const uint8_t> file, uint64_t max_memory = 0);
Metadata elf_metadata(std::span<const uint8_t> file);
// Throw ElfError like load_elf; segments past the end of the file are rejected.
std::vector<ElfSegment> elf_segments(std::span<const uint8_t> file);
std::vector<ElfSection> elf_sections(std::span<const uint8_t> file);
uint64_t elf_entry(std::span<const uint8_t> file);
// Writes the initial stack exactly as the reference's PatchStack.
void patch_stack(State& s);

}  // namespace cb
