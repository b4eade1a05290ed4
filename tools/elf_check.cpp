#include "tools/elf_check.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include "interp/constants.h"
#include "interp/decoder.h"
#include "interp/elf_loader.h"

namespace cb {

namespace {

constexpr uint32_t kPtLoad = 1, kPfX = 1;
constexpr uint64_t kShfAlloc = 2, kShfExecInstr = 4;
constexpr uint8_t kSttFunc = 2, kSttSection = 3, kSttFile = 4;

// One executable segment: its words, and per word whether it is code to check.
struct Seg {
  uint64_t vaddr = 0;
  std::vector<uint32_t> words;
  std::vector<uint8_t> code;       // 0 not code, 1 in a function, 2 reached by control flow
  std::vector<uint8_t> reachable;  // may be reached into (an executable section)
};

class Image {
 public:
  std::vector<Seg> segs;
  // Segment and word index of addr, or null.
  Seg* find(uint64_t addr, size_t& i) {
    if (addr & 3) return nullptr;
    for (Seg& s : segs) {
      if (addr >= s.vaddr && (addr - s.vaddr) / 4 < s.words.size()) {
        i = size_t((addr - s.vaddr) / 4);
        return &s;
      }
    }
    return nullptr;
  }
};

int64_t simm(uint32_t w) { return int16_t(w & 0xffff); }
unsigned rs_of(uint32_t w) { return (w >> 21) & 31; }
unsigned rt_of(uint32_t w) { return (w >> 16) & 31; }
unsigned rd_of(uint32_t w) { return (w >> 11) & 31; }

// Direct control-flow target of a branch or j/jal at pc.
std::optional<uint64_t> direct_target(uint32_t w, uint64_t pc) {
  Op op = decode(w);
  if (op == Op::invalid) return std::nullopt;
  const InsnInfo& in = insn_info(op);
  if (in.cls == InsnClass::BRANCH) return pc + 4 + (uint64_t(simm(w)) << 2);
  if (in.format == InsnFormat::J)
    return ((pc + 4) & ~uint64_t{0x0fffffff}) | (uint64_t(w & 0x03ffffff) << 2);
  return std::nullopt;
}
bool is_control(uint32_t w) {
  Op op = decode(w);
  if (op == Op::invalid) return false;
  InsnClass c = insn_info(op).cls;
  return c == InsnClass::BRANCH || c == InsnClass::JUMP;
}
// Control never falls through past the delay slot: j, jr, and beq $x, $x (b).
bool is_unconditional(uint32_t w) {
  Op op = decode(w);
  return op == Op::j || op == Op::jr || (op == Op::beq && rs_of(w) == rt_of(w));
}

// Registers known to hold a constant within a basic block, and where each was set.
struct Consts {
  std::optional<uint64_t> v[32];
  uint64_t set_at[32] = {};
  void reset() {
    for (auto& x : v) x.reset();
    v[0] = 0;
  }
  std::optional<uint64_t> get(unsigned r) const {
    return r == 0 ? std::optional<uint64_t>(0) : v[r];
  }
  void set(unsigned r, std::optional<uint64_t> x, uint64_t pc) {
    if (r == 0) return;
    v[r] = x;
    set_at[r] = pc;
  }
  // The effect of one instruction (only what is certain; anything else forgets rt and rd).
  void apply(uint32_t w, uint64_t pc) {
    const Op op = decode(w);
    const unsigned rs = rs_of(w), rt = rt_of(w), rd = rd_of(w), sa = (w >> 6) & 31;
    auto s32 = [](uint64_t x) { return uint64_t(int64_t(int32_t(uint32_t(x)))); };
    auto both = [&](auto f) -> std::optional<uint64_t> {
      auto a = get(rs), b = get(rt);
      if (!a || !b) return std::nullopt;
      return f(*a, *b);
    };
    auto imm = [&](auto f) -> std::optional<uint64_t> {
      auto a = get(rs);
      if (!a) return std::nullopt;
      return f(*a);
    };
    switch (op) {
      case Op::lui:
        set(rt, s32(uint64_t(w & 0xffff) << 16), pc);
        return;
      case Op::ori:
        set(rt, imm([&](uint64_t a) { return a | (w & 0xffff); }), pc);
        return;
      case Op::andi:
        set(rt, imm([&](uint64_t a) { return a & (w & 0xffff); }), pc);
        return;
      case Op::xori:
        set(rt, imm([&](uint64_t a) { return a ^ (w & 0xffff); }), pc);
        return;
      case Op::addiu:
        set(rt, imm([&](uint64_t a) { return s32(a + uint64_t(simm(w))); }), pc);
        return;
      case Op::daddiu:
        set(rt, imm([&](uint64_t a) { return a + uint64_t(simm(w)); }), pc);
        return;
      case Op::or_:
        set(rd, both([](uint64_t a, uint64_t b) { return a | b; }), pc);
        return;
      case Op::addu:
        set(rd, both([&](uint64_t a, uint64_t b) { return s32(a + b); }), pc);
        return;
      case Op::daddu:
        set(rd, both([](uint64_t a, uint64_t b) { return a + b; }), pc);
        return;
      case Op::dsll: {
        auto a = get(rt);
        set(rd, a ? std::optional<uint64_t>(*a << sa) : std::nullopt, pc);
        return;
      }
      case Op::dsll32: {
        auto a = get(rt);
        set(rd, a ? std::optional<uint64_t>(*a << (sa + 32)) : std::nullopt, pc);
        return;
      }
      case Op::syscall:
        set(kRegV0, std::nullopt, pc);
        set(kRegA3, std::nullopt, pc);
        return;
      default:
        // Conservative: whatever register field a form writes, forget it (rt and rd cover
        // every form but the links, whose blocks end there anyway).
        set(rt, std::nullopt, pc);
        set(rd, std::nullopt, pc);
        if (op == Op::jal || op == Op::bltzal || op == Op::bgezal) set(kRegRA, std::nullopt, pc);
        return;
    }
  }
};

// Unsupported instructions the Go runtime (MIPS64, GOMIPS64=softfloat, as op-program is built)
// contains on paths the VM never takes. Matched by function AND instruction form, so any other
// unsupported word in those functions is still reported.
// A syscall site matches by its constant number (mask 0).
struct KnownSite {
  const char* function;
  uint32_t mask, value;
  const char* reason;
};
constexpr KnownSite kGoRuntimeSites[] = {
    {"runtime.abort", 0xfc00003f, 0x00000034,
     "teq: Go's deliberate crash (the VM panics there too)"},
    {"runtime.morestack", 0xfc00003f, 0x00000034,
     "teq: Go's deliberate crash (the VM panics there too)"},
    {"runtime.switchToCrashStack0", 0xfc00003f, 0x00000034,
     "teq: Go's deliberate crash (the VM panics there too)"},
    {"runtime.systemstack_switch", 0xfc00003f, 0x00000034,
     "teq: a pc marker for tracebacks, never executed"},
    {"runtime.raiseproc", 0, 5060, "kill(2): only when the program dies of a fatal signal"},
    {"runtime.memclrNoHeapPointers", 0xfc000000, 0x78000000,
     "MSA vector instruction, used only when the CPU reports MSA (the VM's auxv has no AT_HWCAP)"},
    {"runtime.save_g", 0xffe0ffff, 0x7c00e83b,
     "rdhwr $29 (TLS), used only by cgo binaries (runtime.iscgo)"},
    {"runtime.load_g", 0xffe0ffff, 0x7c00e83b,
     "rdhwr $29 (TLS), used only by cgo binaries (runtime.iscgo)"},
};

}  // namespace

ElfCheckReport check_elf(std::span<const uint8_t> file, const ElfCheckOptions& options) {
  ElfCheckReport rep;
  const uint64_t entry = elf_entry(file);
  std::vector<ElfSegment> segments = elf_segments(file);
  std::vector<ElfSection> sections = elf_sections(file);
  std::vector<Symbol> symbols;
  try {
    symbols = elf_metadata(file).symbols;
  } catch (const ElfError& e) {
    // No symbol table: only reachability from the entry point decides what is code. A
    // malformed one is an error.
    if (std::string(e.what()).find("no symbol section") == std::string::npos) throw;
  }

  Image img;
  for (const ElfSegment& g : segments) {
    if (g.type != kPtLoad || !(g.flags & kPfX) || g.filesz == 0) continue;
    if (g.vaddr + g.filesz < g.vaddr || g.vaddr + g.filesz - 1 > kElfAddressLimit)
      throw ElfError("executable segment at 0x" + [&] {
        char b[24];
        std::snprintf(b, sizeof b, "%llx", (unsigned long long)g.vaddr);
        return std::string(b);
      }() + " lies outside the VM's loadable range");
    Seg s;
    s.vaddr = g.vaddr & ~uint64_t{3};
    const uint64_t skip = g.vaddr - s.vaddr;   // a misaligned start: pad the first word
    const uint64_t n = (skip + g.filesz) / 4;  // a partial last word is not checked
    s.words.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint32_t w = 0;
      for (uint64_t b = 0; b < 4; ++b) {
        uint64_t at = 4 * i + b;
        w = w << 8 | (at >= skip ? file[g.offset + at - skip] : 0);
      }
      s.words[i] = w;
    }
    s.code.assign(n, 0);
    s.reachable.assign(n, 0);
    img.segs.push_back(std::move(s));
  }
  auto mark = [&](uint64_t lo, uint64_t hi, auto&& f) {  // [lo, hi) clipped to the segments
    for (Seg& s : img.segs) {
      uint64_t a = std::max(lo, s.vaddr), b = std::min(hi, s.vaddr + 4 * s.words.size());
      for (uint64_t x = (a + 3) & ~uint64_t{3}; x + 4 <= b; x += 4) f(s, size_t((x - s.vaddr) / 4));
    }
  };

  // 1. Function symbols.
  for (const Symbol& sym : symbols) {
    if (sym.type != kSttFunc || sym.size == 0) continue;
    bool any = false;
    mark(sym.start, sym.start + sym.size, [&](Seg& s, size_t i) {
      s.code[i] = 1;
      any = true;
    });
    rep.functions += any;
  }
  // 2. Reachability inside executable sections (or whole segments without sections).
  bool have_exec_sections = false;
  for (const ElfSection& sec : sections) {
    if ((sec.flags & kShfExecInstr) && (sec.flags & kShfAlloc) && sec.size) {
      have_exec_sections = true;
      mark(sec.addr, sec.addr + sec.size, [](Seg& s, size_t i) { s.reachable[i] = 1; });
    }
  }
  if (!have_exec_sections)
    for (Seg& s : img.segs) s.reachable.assign(s.words.size(), 1);

  std::vector<uint64_t> work{entry};
  for (const Symbol& sym : symbols)
    if (sym.type != kSttSection && sym.type != kSttFile) work.push_back(sym.start);
  std::set<uint64_t> targets;  // every direct branch/jump target (basic-block leaders)
  for (Seg& s : img.segs)
    for (size_t i = 0; i < s.words.size(); ++i)
      if (s.code[i] == 1)
        if (auto t = direct_target(s.words[i], s.vaddr + 4 * i)) {
          targets.insert(*t);
          work.push_back(*t);
        }
  while (!work.empty()) {
    uint64_t pc = work.back();
    work.pop_back();
    for (;;) {
      size_t i;
      Seg* s = img.find(pc, i);
      if (!s || !s->reachable[i] || s->code[i]) break;
      s->code[i] = 2;
      const uint32_t w = s->words[i];
      if (decode(w) == Op::invalid) break;  // reported by the scan
      if (auto t = direct_target(w, pc)) {
        targets.insert(*t);
        work.push_back(*t);
      }
      if (is_unconditional(w)) {
        size_t j;
        Seg* d = img.find(pc + 4, j);  // the delay slot runs too
        if (d && d->reachable[j] && !d->code[j]) d->code[j] = 2;
        break;
      }
      pc += 4;
    }
  }

  // 3. Scan what is code, region by region, with constants per basic block.
  auto symbol_of = [&](uint64_t addr, std::string* base) -> std::string {
    const Symbol* best = nullptr;
    for (const Symbol& sym : symbols) {  // the covering function, else the nearest label
      if (sym.type == kSttSection || sym.type == kSttFile || sym.name.empty() || sym.start > addr)
        continue;
      if (sym.type == kSttFunc && sym.size && addr < sym.start + sym.size) {
        best = &sym;
        break;
      }
      if (sym.type != kSttFunc && (!best || sym.start > best->start)) best = &sym;
    }
    if (!best) {
      if (base) base->clear();
      return "?";
    }
    if (base) *base = best->name;
    char off[32];
    std::snprintf(off, sizeof off, "+0x%llx", (unsigned long long)(addr - best->start));
    return addr == best->start ? best->name : best->name + off;
  };
  auto report = [&](ElfFinding f) {
    std::string base;
    f.symbol = symbol_of(f.addr, &base);
    f.disassembly = disassemble(f.word, f.addr);
    if (std::find(options.allow_in.begin(), options.allow_in.end(), base) != options.allow_in.end())
      return;
    if (!options.strict) {
      for (const KnownSite& k : kGoRuntimeSites) {
        const bool form = f.kind == ElfFinding::Kind::kInstruction
                              ? k.mask && (f.word & k.mask) == k.value
                              : !k.mask && f.syscall == k.value;
        if (base == k.function && form) {
          rep.known.emplace_back(std::move(f), k.reason);
          return;
        }
      }
    }
    rep.findings.push_back(std::move(f));
  };
  for (Seg& s : img.segs) {
    Consts k;
    bool in_region = false;
    for (size_t i = 0; i < s.words.size(); ++i) {
      if (!s.code[i]) {
        ++rep.unchecked_words;
        in_region = false;
        continue;
      }
      (s.code[i] == 1 ? rep.function_words : rep.reached_words) += 1;
      const uint64_t pc = s.vaddr + 4 * i;
      const bool after_delay_slot = i >= 2 && s.code[i - 2] && is_control(s.words[i - 2]);
      if (!in_region || after_delay_slot || targets.count(pc)) k.reset();
      in_region = true;
      const uint32_t w = s.words[i];
      const Op op = decode(w);
      if (op == Op::invalid) {
        report(ElfFinding{ElfFinding::Kind::kInstruction, pc, w, {}, {}, 0, 0});
        k.reset();
        continue;
      }
      if (op == Op::syscall) {
        ++rep.syscall_sites;
        if (auto n = k.get(kRegV0)) {
          ++rep.syscall_constant;
          if (!sys::implemented(*n))
            report(ElfFinding{ElfFinding::Kind::kSyscall, pc, w, {}, {}, *n, k.set_at[kRegV0]});
        } else {
          ++rep.syscall_dynamic;
          rep.dynamic_sites.push_back(pc);
        }
      }
      k.apply(w, pc);
    }
  }
  std::sort(rep.findings.begin(), rep.findings.end(),
            [](const ElfFinding& a, const ElfFinding& b) { return a.addr < b.addr; });
  return rep;
}

}  // namespace cb
