#include "interp/elf_loader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "host/go_json.h"
#include "memory/page_pool.h"

namespace cb {

namespace {
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtMipsAbiflags = 0x70000003;
constexpr uint16_t kEmMips = 8;
constexpr uint32_t kShtSymtab = 2;

struct Elf {
  std::span<const uint8_t> f;
  uint64_t u64(uint64_t off) const { return load_be64(at(off, 8)); }
  uint32_t u32(uint64_t off) const {
    const uint8_t* p = at(off, 4);
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  }
  uint16_t u16(uint64_t off) const {
    const uint8_t* p = at(off, 2);
    return uint16_t(p[0] << 8 | p[1]);
  }
  const uint8_t* at(uint64_t off, uint64_t n) const {
    if (off > f.size() || n > f.size() - off)
      throw ElfError("malformed ELF: header or table past the end of the file");
    return f.data() + off;
  }
};

std::string hexs(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%llx", (unsigned long long)v);
  return b;
}

Elf check_header(std::span<const uint8_t> file) {
  Elf e{file};
  if (file.size() < 64 || std::memcmp(file.data(),
                                      "\x7f"
                                      "ELF",
                                      4) != 0)
    throw ElfError("not an ELF file (bad magic or shorter than an ELF header)");
  if (file[4] != 2)
    throw ElfError("ELF is not 64-bit (class " + std::to_string(file[4]) +
                   "); cannonball runs MIPS64 programs");
  if (file[5] != 2) throw ElfError("ELF is not big-endian; the VM runs big-endian MIPS64");
  if (file[6] != 1 || e.u32(20) != 1) throw ElfError("unknown ELF version");
  uint16_t machine = e.u16(18);
  if (machine != kEmMips)
    throw ElfError("ELF is not big-endian MIPS R3000, but got machine " + std::to_string(machine));
  // Go's debug/elf (which the reference opens every ELF with) reads every section header and
  // the section-name table before anything else; reject what it rejects.
  uint64_t shoff = e.u64(40);
  uint16_t shentsize = e.u16(58), shnum = e.u16(60), shstrndx = e.u16(62);
  if (shnum > 0) {
    if (shentsize < 64) throw ElfError("malformed ELF: section header entries too small");
    if (shstrndx >= shnum) throw ElfError("invalid ELF shstrndx " + std::to_string(shstrndx));
    e.at(shoff, uint64_t(shnum) * shentsize);
    uint64_t names = shoff + uint64_t(shstrndx) * shentsize;
    if (e.u32(names + 4) != 3 /* SHT_STRTAB */)
      throw ElfError("invalid ELF section name string table type");
    uint64_t names_off = e.u64(names + 24), names_size = e.u64(names + 32);
    e.at(names_off, names_size);
    for (uint64_t i = 0; i < shnum; ++i) {
      if (e.u32(shoff + i * shentsize) >= names_size)
        throw ElfError("bad section name index in section " + std::to_string(i));
    }
  }
  return e;
}
}  // namespace

State load_elf(std::span<const uint8_t> file, uint64_t max_memory) {
  Elf e = check_header(file);
  uint64_t entry = e.u64(24), phoff = e.u64(32);
  uint16_t phentsize = e.u16(54), phnum = e.u16(56);
  if (phnum > 0 && phentsize < 56)
    throw ElfError("malformed ELF: program header entries too small");
  State s;
  s.current().cpu.pc = entry;
  s.current().cpu.next_pc = entry + 4;
  s.heap = kHeapStart;
  // Every segment is checked before any is loaded (loading cannot fail in the reference, so
  // the first error is the same), then their total memory against the limit, up front.
  struct Segment {
    uint64_t offset, vaddr, filesz, memsz;
  };
  std::vector<Segment> segments;
  uint64_t total = 0;
  for (uint64_t i = 0; i < phnum; ++i) {
    uint64_t h = phoff + i * phentsize;
    e.at(h, 56);
    uint32_t type = e.u32(h);
    uint64_t offset = e.u64(h + 8), vaddr = e.u64(h + 16), filesz = e.u64(h + 32),
             memsz = e.u64(h + 40);
    if (type == kPtMipsAbiflags) continue;
    std::string idx = std::to_string(i);
    if (filesz != memsz) {
      if (type != kPtLoad)
        throw ElfError("program segment " + idx + " has different file size (" +
                       std::to_string(filesz) + ") than mem size (" + std::to_string(memsz) +
                       "): filling for non PT_LOAD segments is not supported");
      if (filesz > memsz)
        throw ElfError("invalid PT_LOAD program segment " + idx + ", file size (" +
                       std::to_string(filesz) + ") > mem size (" + std::to_string(memsz) + ")");
    }
    if (memsz == 0) continue;
    uint64_t last = vaddr + memsz - 1;
    if (last > kElfAddressLimit || last < vaddr)
      throw ElfError("program " + idx + " out of memory range: " + hexs(vaddr) + " - " +
                     hexs(last) + " (size: " + hexs(memsz) + ")");
    if (last >= kHeapStart)
      throw ElfError("program " + idx + " overlaps with heap: " + hexs(vaddr) + " - " + hexs(last) +
                     " (size: " + hexs(memsz) + "). The heap start offset must be reconfigured");
    if (offset > file.size() || filesz > file.size() - offset)
      throw ElfError("failed to read program segment " + idx +
                     ": it extends past the end of the file");
    segments.push_back({offset, vaddr, filesz, memsz});
    total += memsz;  // each below 2^48 (checked above), at most 65535 of them: no overflow
  }
  if (max_memory == 0) max_memory = memory_budget();
  if (total > max_memory)
    throw ElfError("ELF segments need " + std::to_string(total) +
                   " bytes of memory, above the limit of " + std::to_string(max_memory) +
                   " bytes (the memory budget; raise it with --max-memory)");
  for (const Segment& g : segments) {
    s.memory->set_range(g.vaddr, file.data() + g.offset, g.filesz);
    if (g.memsz > g.filesz) s.memory->set_range_zero(g.vaddr + g.filesz, g.memsz - g.filesz);
  }
  patch_stack(s);
  return s;
}

void patch_stack(State& s) {
  Memory& m = *s.memory;
  const uint64_t sp = kHighMemoryStart;
  m.set_range_zero(sp - 4 * kPageSize, 5 * kPageSize);
  s.current().regs[kRegSP] = sp;
  auto put_padded = [&](uint64_t addr, std::string_view str, bool nul) -> uint64_t {
    std::vector<uint8_t> b(str.begin(), str.end());
    if (nul) b.push_back(0);
    while (b.size() % 8) b.push_back(0);
    m.set_range(addr, b.data(), b.size());
    return b.size();
  };
  uint64_t auxv3 = sp + 8 * 10;
  uint64_t envp0 = auxv3 + put_padded(auxv3, "4;byfairdiceroll", false);
  uint64_t argv0 = envp0 + put_padded(envp0, "GODEBUG=memprofilerate=0", true);
  put_padded(argv0, "op-program", true);
  const uint64_t words[10] = {1, argv0, 0, envp0, 0, 6, 4096, 25, auxv3, 0};
  for (int i = 0; i < 10; ++i) {
    uint8_t b[8];
    store_be64(b, words[i]);
    m.set_range(sp + 8 * i, b, 8);
  }
}

Metadata elf_metadata(std::span<const uint8_t> file) {
  Elf e = check_header(file);
  uint64_t shoff = e.u64(40);
  uint16_t shentsize = e.u16(58), shnum = e.u16(60);
  if (shnum > 0 && shentsize < 64)
    throw ElfError("malformed ELF: section header entries too small");
  Metadata meta;
  bool found = false;
  for (uint64_t i = 0; i < shnum && !found; ++i) {
    uint64_t h = shoff + i * shentsize;
    e.at(h, 64);
    if (e.u32(h + 4) != kShtSymtab) continue;
    found = true;
    uint64_t off = e.u64(h + 24), size = e.u64(h + 32), entsize = e.u64(h + 56);
    uint32_t link = e.u32(h + 40);
    if (entsize != 24)
      throw ElfError("malformed ELF: symbol entries of size " + std::to_string(entsize));
    if (link >= shnum) throw ElfError("malformed ELF: symbol table links to no string table");
    uint64_t sh = shoff + uint64_t(link) * shentsize;
    e.at(sh, 64);
    uint64_t stroff = e.u64(sh + 24), strsize = e.u64(sh + 32);
    e.at(stroff, strsize);
    e.at(off, size);
    for (uint64_t k = 1; k < size / 24; ++k) {  // entry 0 is the null symbol
      uint64_t p = off + k * 24;
      uint32_t name = e.u32(p);
      Symbol sym;
      if (name >= strsize) throw ElfError("malformed ELF: symbol name outside the string table");
      const char* str = reinterpret_cast<const char*>(file.data() + stroff + name);
      sym.name.assign(str, strnlen(str, strsize - name));
      sym.start = e.u64(p + 8);
      sym.size = e.u64(p + 16);
      sym.type = uint8_t(file[p + 4] & 0xf);
      meta.symbols.push_back(std::move(sym));
    }
  }
  if (!found)
    throw ElfError(
        "failed to compute program metadata: failed to load symbols table: no symbol section");
  // The reference sorts with an unstable sort; symbols sharing an address may be ordered
  // differently there, which lookups do not depend on.
  std::stable_sort(meta.symbols.begin(), meta.symbols.end(),
                   [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
  return meta;
}

std::vector<ElfSegment> elf_segments(std::span<const uint8_t> file) {
  Elf e = check_header(file);
  uint64_t phoff = e.u64(32);
  uint16_t phentsize = e.u16(54), phnum = e.u16(56);
  if (phnum > 0 && phentsize < 56)
    throw ElfError("malformed ELF: program header entries too small");
  std::vector<ElfSegment> out;
  for (uint64_t i = 0; i < phnum; ++i) {
    uint64_t h = phoff + i * phentsize;
    e.at(h, 56);
    ElfSegment g{e.u32(h), e.u32(h + 4), e.u64(h + 8), e.u64(h + 16), e.u64(h + 32), e.u64(h + 40)};
    if (g.offset > file.size() || g.filesz > file.size() - g.offset)
      throw ElfError("program segment " + std::to_string(i) + " extends past the end of the file");
    out.push_back(g);
  }
  return out;
}

std::vector<ElfSection> elf_sections(std::span<const uint8_t> file) {
  Elf e = check_header(file);  // also checks every section name index
  uint64_t shoff = e.u64(40);
  uint16_t shentsize = e.u16(58), shnum = e.u16(60), shstrndx = e.u16(62);
  std::vector<ElfSection> out;
  if (shnum == 0) return out;
  uint64_t names = shoff + uint64_t(shstrndx) * shentsize;
  uint64_t names_off = e.u64(names + 24), names_size = e.u64(names + 32);
  for (uint64_t i = 0; i < shnum; ++i) {
    uint64_t h = shoff + i * shentsize;
    uint32_t name = e.u32(h);
    const char* str = reinterpret_cast<const char*>(file.data() + names_off + name);
    out.push_back(ElfSection{std::string(str, strnlen(str, names_size - name)), e.u32(h + 4),
                             e.u64(h + 8), e.u64(h + 16), e.u64(h + 24), e.u64(h + 32)});
  }
  return out;
}

uint64_t elf_entry(std::span<const uint8_t> file) { return check_header(file).u64(24); }

std::string Metadata::lookup(uint64_t addr) const {
  if (symbols.empty()) return "!unknown";
  auto it = std::upper_bound(symbols.begin(), symbols.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.start; });
  if (it == symbols.begin()) return "!start";
  const Symbol& s = *(it - 1);
  if (s.start + s.size < addr) return "!gap";
  return s.name;
}

std::string Metadata::to_json() const {
  std::string out = "{\n  \"symbols\": [";
  for (size_t i = 0; i < symbols.size(); ++i) {
    const Symbol& s = symbols[i];
    out += i ? ",\n    {\n" : "\n    {\n";
    out += "      \"name\": " + go_json_quote(s.name) + ",\n";
    out += "      \"start\": " + std::to_string(s.start) + ",\n";
    out += "      \"size\": " + std::to_string(s.size) + "\n    }";
  }
  out += symbols.empty() ? "]\n}\n\n" : "\n  ]\n}\n\n";
  return out;
}

Metadata Metadata::from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text);
  Metadata m;
  const auto& syms = j.at("symbols");
  if (!syms.is_null()) {
    for (const auto& s : syms) {
      m.symbols.push_back(Symbol{s.at("name").get<std::string>(), s.at("start").get<uint64_t>(),
                                 s.at("size").get<uint64_t>()});
    }
  }
  return m;
}

}  // namespace cb
