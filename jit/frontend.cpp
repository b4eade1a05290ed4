#include "jit/frontend.h"

#include "interp/decoder.h"
#include "interp/semantics.h"
#include "interp/vm.h"

namespace cb::jit {

namespace {
constexpr uint64_t kJumpRegionMask = 0xFFFFFFFFF0000000ULL;  // j/jal keep these bits of pc+4

// The `jit` column of interp/isa.def as data: how each row becomes one IrInsn.
enum class Form : uint8_t {
  kNone,     // never compiled (the interpreter's)
  kRR,       // d = rd
  kRRSa32,   // d = rd, sa + 32
  kRI,       // d = rt, imm from the word (see Imm)
  kHiLo,     // writes HI/LO, zero_d = rd
  kMem,      // load / store / atomic: imm = simm; d = rt for loads
  kBranch,   // target = pc + 4 + simm * 4
  kJump,     // target in the 256 MiB region of pc + 4
  kJumpReg,  // target = s; link into rd (jalr) or nowhere (jr)
};
enum class Imm : uint8_t { kSIMM, kUIMM, kLUI };  // named as in the isa.def column

struct Lowering {
  Form form = Form::kNone;
  IrOp op = IrOp::kNop;
  MemKind mem = MemKind::k64;
  Cond cond = Cond::kEq;
  Imm imm = Imm::kSIMM;
  uint8_t link = 0;  // kBranch / kJump: the register linked into (0 = none); kJumpReg: 1 = rd
};

// The lowering forms of the isa.def `jit` column (CB_LOWER_ is pasted onto the column).
#define CB_LOWER_NONE \
  Lowering {}
#define CB_LOWER_RR(o) \
  Lowering { Form::kRR, IrOp::k##o }
#define CB_LOWER_RR_SA32(o) \
  Lowering { Form::kRRSa32, IrOp::k##o }
#define CB_LOWER_RI(o, i) \
  Lowering { Form::kRI, IrOp::k##o, MemKind::k64, Cond::kEq, Imm::k##i }
#define CB_LOWER_HILO(o) \
  Lowering { Form::kHiLo, IrOp::k##o }
#define CB_LOWER_LOAD(kind) \
  Lowering { Form::kMem, IrOp::kLoad, MemKind::k##kind }
#define CB_LOWER_STORE(kind) \
  Lowering { Form::kMem, IrOp::kStore, MemKind::k##kind }
#define CB_LOWER_ATOMIC(kind) \
  Lowering { Form::kMem, IrOp::kAtomic, MemKind::k##kind }
#define CB_LOWER_BRANCH(c) \
  Lowering { Form::kBranch, IrOp::kBranch, MemKind::k64, Cond::k##c }
#define CB_LOWER_BRANCH_LINK(c) \
  Lowering { Form::kBranch, IrOp::kBranch, MemKind::k64, Cond::k##c, Imm::kSIMM, 31 }
#define CB_LOWER_JUMP \
  Lowering { Form::kJump, IrOp::kJump }
#define CB_LOWER_JUMP_LINK \
  Lowering { Form::kJump, IrOp::kJump, MemKind::k64, Cond::kEq, Imm::kSIMM, 31 }
#define CB_LOWER_JUMP_REG \
  Lowering { Form::kJumpReg, IrOp::kJumpReg }
#define CB_LOWER_JUMP_REG_LINK \
  Lowering { Form::kJumpReg, IrOp::kJumpReg, MemKind::k64, Cond::kEq, Imm::kSIMM, 1 }
constexpr Lowering kLowering[] = {
#define INSN(name, kind, opcode, sel, format, cls, jit) CB_LOWER_##jit,
#include "interp/isa.def"
#undef INSN
};
#undef CB_LOWER_NONE
#undef CB_LOWER_RR
#undef CB_LOWER_RR_SA32
#undef CB_LOWER_RI
#undef CB_LOWER_HILO
#undef CB_LOWER_LOAD
#undef CB_LOWER_STORE
#undef CB_LOWER_ATOMIC
#undef CB_LOWER_BRANCH
#undef CB_LOWER_BRANCH_LINK
#undef CB_LOWER_JUMP
#undef CB_LOWER_JUMP_LINK
#undef CB_LOWER_JUMP_REG
#undef CB_LOWER_JUMP_REG_LINK
static_assert(sizeof kLowering / sizeof kLowering[0] == kOpCount, "one lowering per isa.def row");

// The jit column agrees with the class column, row by row (a row moved to another class,
// or lowered to the wrong kind of op, fails to compile).
constexpr InsnClass kClass[] = {
#define INSN(name, kind, opcode, sel, format, cls, jit) InsnClass::cls,
#include "interp/isa.def"
#undef INSN
};
constexpr bool consistent(InsnClass c, const Lowering& l) {
  switch (c) {
    case InsnClass::SYSCALL:
      return l.form == Form::kNone;  // changes VM state beyond registers and memory
    case InsnClass::LOAD:
      return l.form == Form::kMem && l.op == IrOp::kLoad && l.mem < MemKind::kLl &&
             (is_merging_load(l.mem) || !merges(l.mem));
    case InsnClass::STORE:
      return l.form == Form::kMem && l.op == IrOp::kStore &&
             (l.mem == MemKind::kU8 || l.mem == MemKind::kU16 || l.mem == MemKind::kU32 ||
              l.mem == MemKind::k64 || (merges(l.mem) && !is_merging_load(l.mem)));
    case InsnClass::RMW:
      return l.form == Form::kMem && l.op == IrOp::kAtomic && l.mem >= MemKind::kLl;
    case InsnClass::BRANCH:
      return l.form == Form::kBranch;
    case InsnClass::JUMP:
      return l.form == Form::kJump || l.form == Form::kJumpReg;
    case InsnClass::HILO:
      return l.form == Form::kHiLo ||
             (l.form == Form::kRR && (l.op == IrOp::kMfhi || l.op == IrOp::kMflo));
    case InsnClass::ALU:
    case InsnClass::SHIFT:
    case InsnClass::NOP:
      return (l.form == Form::kRR || l.form == Form::kRRSa32 || l.form == Form::kRI) &&
             !is_control(l.op) && l.op != IrOp::kLoad && l.op != IrOp::kStore &&
             l.op != IrOp::kAtomic;
  }
  return false;
}
constexpr bool all_consistent() {
  for (size_t i = 0; i < kOpCount; ++i)
    if (!consistent(kClass[i], kLowering[i])) return false;
  return true;
}
static_assert(all_consistent(), "an isa.def row's jit column does not fit its class");
}  // namespace

bool has_lowering(Op op) {
  return op < Op::invalid && kLowering[static_cast<size_t>(op)].form != Form::kNone;
}

bool translate(uint32_t word, uint64_t pc, IrInsn& ir) {
  const Op op = decode(word);
  if (op == Op::invalid) return false;
  const Lowering& l = kLowering[static_cast<size_t>(op)];
  const uint8_t rs = (word >> 21) & 31, rt = (word >> 16) & 31, rd = (word >> 11) & 31;
  const uint8_t sa = (word >> 6) & 31;
  const int64_t simm = int64_t(sem::simm(word));
  const int64_t uimm = int64_t(word & 0xffff);
  ir = IrInsn{};
  ir.pc = pc;
  ir.s = rs;
  ir.t = rt;
  ir.d = rd;
  ir.sa = sa;
  ir.op = l.op;
  switch (l.form) {
    case Form::kNone:
      return false;
    case Form::kRR:
      break;
    case Form::kRRSa32:
      ir.sa = sa + 32;
      break;
    case Form::kRI:
      ir.d = rt;
      ir.imm = l.imm == Imm::kSIMM   ? simm
               : l.imm == Imm::kUIMM ? uimm
                                     : int64_t(sem::sext32(uint64_t(uimm) << 16));
      break;
    case Form::kHiLo:
      ir.zero_d = rd;
      ir.d = 0;
      break;
    case Form::kMem:
      ir.mem = l.mem;
      ir.imm = simm;
      ir.d = l.op == IrOp::kLoad ? rt : 0;
      break;
    case Form::kBranch:
      ir.cond = l.cond;
      ir.d = l.link;
      ir.target = pc + 4 + uint64_t(simm << 2);
      break;
    case Form::kJump:
      ir.d = l.link;
      ir.target = ((pc + 4) & kJumpRegionMask) | uint64_t((word & 0x03FFFFFF) << 2);
      break;
    case Form::kJumpReg:
      if (!l.link) ir.d = 0;  // jalr links into rd (none when rd == 0)
      break;
  }
  // A write to $zero is dropped by the interpreter (set_rd); loads have no other effect.
  if (writes_only_d(ir.op) && ir.zero_d == 0 && ir.d == 0) ir.op = IrOp::kNop;
  return true;
}

bool build_block(const Memory& mem, uint64_t pc, BlockIr& out, bool atomics) {
  out = BlockIr{};
  out.start_pc = pc;
  IrInsn ir;
  auto take = [atomics](uint32_t w, uint64_t at, IrInsn& i) {
    return translate(w, at, i) && (atomics || i.op != IrOp::kAtomic);
  };
  while (out.insns.size() < kMaxBlockInsns) {
    // A block never wraps around the end of the address space (its range must be [a, b)).
    if (pc == 0 && !out.insns.empty()) break;
    uint32_t word = fetch_insn(mem, pc);
    if (!take(word, pc, ir)) break;
    if (!is_control(ir.op)) {
      out.insns.push_back(ir);
      out.words.push_back(word);
      pc += 4;
      continue;
    }
    // Branch + delay slot. The delay slot must be a plain instruction that cannot leave the
    // block early (a branch there panics in the interpreter; a division needs an exit
    // between the branch and its delay slot, which the backend does not model).
    if (pc + 4 == 0) break;
    IrInsn ds;
    uint32_t ds_word = fetch_insn(mem, pc + 4);
    if (!take(ds_word, pc + 4, ds) || is_control(ds.op) || may_exit_before(ds.op)) break;
    out.insns.push_back(ir);
    out.words.push_back(word);
    out.insns.push_back(ds);
    out.words.push_back(ds_word);
    out.next_pc = pc + 8;
    out.taken_pc = ir.target;
    out.end = ir.op == IrOp::kBranch ? EndKind::kBranch
              : ir.op == IrOp::kJump ? EndKind::kJump
                                     : EndKind::kJumpReg;
    if (ir.op == IrOp::kBranch && ir.cond == Cond::kNever) out.end = EndKind::kFallthrough;
    return true;
  }
  out.end = EndKind::kFallthrough;
  out.next_pc = pc;
  return !out.insns.empty();
}

}  // namespace cb::jit
