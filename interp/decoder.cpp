#include "interp/decoder.h"

#include <cstdio>

namespace cb {

namespace {
constexpr InsnInfo kInfo[] = {
#define INSN(name, kind, opcode, sel, format, cls, jit) \
  {#name, InsnKind::kind, opcode, sel, InsnFormat::format, InsnClass::cls},
#include "interp/isa.def"
#undef INSN
};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == kOpCount);

detail::DecodeTables build() {
  detail::DecodeTables t;
  for (auto& o : t.primary) o = Op::invalid;
  for (auto& o : t.special) o = Op::invalid;
  for (auto& o : t.special2) o = Op::invalid;
  for (auto& o : t.regimm) o = Op::regimm_never;
  for (size_t i = 0; i < kOpCount; ++i) {
    const InsnInfo& in = kInfo[i];
    Op op = static_cast<Op>(i);
    switch (in.kind) {
      case InsnKind::P:
        t.primary[in.opcode] = op;
        break;
      case InsnKind::S:
        t.special[in.sel] = op;
        break;
      case InsnKind::S2:
        t.special2[in.sel] = op;
        break;
      case InsnKind::R:
        if (in.sel < 32) t.regimm[in.sel] = op;
        break;
    }
  }
  return t;
}

const char* const kRegNames[32] = {"zero", "at", "v0", "v1", "a0", "a1", "a2", "a3",
                                   "a4",   "a5", "a6", "a7", "t0", "t1", "t2", "t3",
                                   "s0",   "s1", "s2", "s3", "s4", "s5", "s6", "s7",
                                   "t8",   "t9", "k0", "k1", "gp", "sp", "s8", "ra"};
}  // namespace

const detail::DecodeTables detail::g_decode = build();

const InsnInfo& insn_info(Op op) { return kInfo[static_cast<size_t>(op)]; }

std::string mnemonic(Op op) {
  if (op == Op::invalid || op == Op::kCount) return "invalid";
  std::string n = insn_info(op).name;
  if (!n.empty() && n.back() == '_') n.pop_back();  // and_, or_, xor_: C++ keywords
  return n;
}

uint32_t encode(Op op, unsigned rs, unsigned rt, unsigned rd, unsigned sa, uint32_t imm) {
  const InsnInfo& in = insn_info(op);
  uint32_t w = uint32_t(in.opcode) << 26 | (rs & 31) << 21 | (rt & 31) << 16;
  switch (in.kind) {
    case InsnKind::P:
      if (in.format == InsnFormat::J) return uint32_t(in.opcode) << 26 | (imm & 0x3ffffff);
      return w | (imm & 0xffff);
    case InsnKind::R:
      return uint32_t(1) << 26 | (rs & 31) << 21 | (in.sel == 0xff ? (rt & 31) : in.sel) << 16 |
             (imm & 0xffff);
    case InsnKind::S:
    case InsnKind::S2:
      return w | (rd & 31) << 11 | (sa & 31) << 6 | in.sel;
  }
  return w;
}

std::string disassemble(uint32_t insn, uint64_t pc) {
  Op op = decode(insn);
  char buf[128];
  if (op == Op::invalid) {
    std::snprintf(buf, sizeof buf, ".word 0x%08x (invalid)", insn);
    return buf;
  }
  const InsnInfo& in = insn_info(op);
  const std::string name_s = mnemonic(op);
  const char* name = name_s.c_str();
  const char* rs = kRegNames[(insn >> 21) & 31];
  const char* rt = kRegNames[(insn >> 16) & 31];
  const char* rd = kRegNames[(insn >> 11) & 31];
  unsigned sa = (insn >> 6) & 31;
  int16_t simm = int16_t(insn & 0xffff);
  uint64_t btarget = pc + 4 + (int64_t(simm) << 2);
  switch (in.format) {
    case InsnFormat::J:
      std::snprintf(buf, sizeof buf, "%s 0x%llx", name,
                    (unsigned long long)(((pc + 4) & ~0x0fffffffULL) | ((insn & 0x3ffffff) << 2)));
      break;
    case InsnFormat::BR1:
      std::snprintf(buf, sizeof buf, "%s $%s, 0x%llx", name, rs, (unsigned long long)btarget);
      break;
    case InsnFormat::BR2:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, 0x%llx", name, rs, rt,
                    (unsigned long long)btarget);
      break;
    case InsnFormat::I:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, %d", name, rt, rs, simm);
      break;
    case InsnFormat::IU:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, 0x%x", name, rt, rs, insn & 0xffff);
      break;
    case InsnFormat::LUI:
      std::snprintf(buf, sizeof buf, "%s $%s, 0x%x", name, rt, insn & 0xffff);
      break;
    case InsnFormat::MEM:
      std::snprintf(buf, sizeof buf, "%s $%s, %d($%s)", name, rt, simm, rs);
      break;
    case InsnFormat::SHIFT:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, %u", name, rd, rt, sa);
      break;
    case InsnFormat::SHIFTV:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, $%s", name, rd, rt, rs);
      break;
    case InsnFormat::JR:
      std::snprintf(buf, sizeof buf, "%s $%s", name, rs);
      break;
    case InsnFormat::JALR:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s", name, rd, rs);
      break;
    case InsnFormat::R3:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s, $%s", name, rd, rs, rt);
      break;
    case InsnFormat::R2:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s", name, rd, rs);
      break;
    case InsnFormat::RD:
      std::snprintf(buf, sizeof buf, "%s $%s", name, rd);
      break;
    case InsnFormat::RS:
      std::snprintf(buf, sizeof buf, "%s $%s", name, rs);
      break;
    case InsnFormat::MD:
      std::snprintf(buf, sizeof buf, "%s $%s, $%s", name, rs, rt);
      break;
    case InsnFormat::NONE:
      std::snprintf(buf, sizeof buf, "%s", name);
      break;
  }
  return buf;
}

}  // namespace cb
