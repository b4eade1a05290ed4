#include "jit/frontend.h"

#include "interp/decoder.h"
#include "interp/semantics.h"
#include "interp/vm.h"

namespace cb::jit {

namespace {
constexpr uint64_t kJumpRegionMask = 0xFFFFFFFFF0000000ULL;  // j/jal keep these bits of pc+4
}

bool translate(uint32_t word, uint64_t pc, IrInsn& ir) {
  const Op op = decode(word);
  if (op == Op::invalid) return false;
  const InsnInfo& info = insn_info(op);
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
  auto rr = [&](IrOp o) { ir.op = o; };  // d = rd
  auto ri = [&](IrOp o, int64_t imm) {  // d = rt
    ir.op = o;
    ir.d = rt;
    ir.imm = imm;
  };
  auto hilo = [&](IrOp o) {
    ir.op = o;
    ir.zero_d = rd;
    ir.d = 0;
  };
  auto mem = [&](IrOp o, MemKind k) {
    ir.op = o;
    ir.mem = k;
    ir.imm = simm;
    ir.d = o == IrOp::kLoad ? rt : 0;
  };
  auto branch = [&](Cond c, uint8_t link) {
    ir.op = IrOp::kBranch;
    ir.cond = c;
    ir.d = link;
    ir.target = pc + 4 + uint64_t(simm << 2);
  };
  // Syscalls change VM state beyond registers and memory: the interpreter's.
  if (info.cls == InsnClass::SYSCALL) return false;

  switch (op) {
    case Op::j:
    case Op::jal:
      ir.op = IrOp::kJump;
      ir.d = op == Op::jal ? 31 : 0;
      ir.target = ((pc + 4) & kJumpRegionMask) | uint64_t((word & 0x03FFFFFF) << 2);
      break;
    case Op::beq: branch(Cond::kEq, 0); break;
    case Op::bne: branch(Cond::kNe, 0); break;
    case Op::blez: branch(Cond::kLez, 0); break;
    case Op::bgtz: branch(Cond::kGtz, 0); break;
    case Op::bltz: branch(Cond::kLtz, 0); break;
    case Op::bgez: branch(Cond::kGez, 0); break;
    case Op::bltzal: branch(Cond::kLtz, 31); break;
    case Op::bgezal: branch(Cond::kGez, 31); break;
    case Op::regimm_never: branch(Cond::kNever, 0); break;
    case Op::addi:
    case Op::addiu: ri(IrOp::kAddImm32, simm); break;
    case Op::slti: ri(IrOp::kSltImm, simm); break;
    case Op::sltiu: ri(IrOp::kSltuImm, simm); break;
    case Op::andi: ri(IrOp::kAndImm, uimm); break;
    case Op::ori: ri(IrOp::kOrImm, uimm); break;
    case Op::xori: ri(IrOp::kXorImm, uimm); break;
    case Op::lui: ri(IrOp::kConst, int64_t(sem::sext32(uint64_t(uimm) << 16))); break;
    case Op::daddi:
    case Op::daddiu: ri(IrOp::kAddImm64, simm); break;
    case Op::lb: mem(IrOp::kLoad, MemKind::kS8); break;
    case Op::lbu: mem(IrOp::kLoad, MemKind::kU8); break;
    case Op::lh: mem(IrOp::kLoad, MemKind::kS16); break;
    case Op::lhu: mem(IrOp::kLoad, MemKind::kU16); break;
    case Op::lw: mem(IrOp::kLoad, MemKind::kS32); break;
    case Op::lwu: mem(IrOp::kLoad, MemKind::kU32); break;
    case Op::ld: mem(IrOp::kLoad, MemKind::k64); break;
    case Op::lwl: mem(IrOp::kLoad, MemKind::kLwl); break;
    case Op::lwr: mem(IrOp::kLoad, MemKind::kLwr); break;
    case Op::ldl: mem(IrOp::kLoad, MemKind::kLdl); break;
    case Op::ldr: mem(IrOp::kLoad, MemKind::kLdr); break;
    case Op::sb: mem(IrOp::kStore, MemKind::kU8); break;
    case Op::sh: mem(IrOp::kStore, MemKind::kU16); break;
    case Op::sw: mem(IrOp::kStore, MemKind::kU32); break;
    case Op::sd: mem(IrOp::kStore, MemKind::k64); break;
    case Op::swl: mem(IrOp::kStore, MemKind::kSwl); break;
    case Op::swr: mem(IrOp::kStore, MemKind::kSwr); break;
    case Op::sdl: mem(IrOp::kStore, MemKind::kSdl); break;
    case Op::sdr: mem(IrOp::kStore, MemKind::kSdr); break;
    // LL/SC: compiled inline with the rules of ll_reserve/sc_consume (interp/vm.h).
    case Op::ll: mem(IrOp::kAtomic, MemKind::kLl); break;
    case Op::lld: mem(IrOp::kAtomic, MemKind::kLld); break;
    case Op::sc: mem(IrOp::kAtomic, MemKind::kSc); break;
    case Op::scd: mem(IrOp::kAtomic, MemKind::kScd); break;
    case Op::sll: rr(IrOp::kSll32); break;
    case Op::srl: rr(IrOp::kSrl32); break;
    case Op::sra: rr(IrOp::kSra32); break;
    case Op::sllv: rr(IrOp::kSllv32); break;
    case Op::srlv: rr(IrOp::kSrlv32); break;
    case Op::srav: rr(IrOp::kSrav32); break;
    case Op::dsllv: rr(IrOp::kSllv64); break;
    case Op::dsrlv: rr(IrOp::kSrlv64); break;
    case Op::dsrav: rr(IrOp::kSrav64); break;
    case Op::dsll: rr(IrOp::kSll64); break;
    case Op::dsrl: rr(IrOp::kSrl64); break;
    case Op::dsra: rr(IrOp::kSra64); break;
    case Op::dsll32: rr(IrOp::kSll64); ir.sa = sa + 32; break;
    case Op::dsrl32: rr(IrOp::kSrl64); ir.sa = sa + 32; break;
    case Op::dsra32: rr(IrOp::kSra64); ir.sa = sa + 32; break;
    case Op::jr: ir.op = IrOp::kJumpReg; ir.d = 0; break;
    case Op::jalr: ir.op = IrOp::kJumpReg; break;  // links into rd (none when rd == 0)
    case Op::movz: rr(IrOp::kMovz); break;
    case Op::movn: rr(IrOp::kMovn); break;
    case Op::sync: rr(IrOp::kOrImm); ir.imm = 0; break;  // the reference writes rs to rd
    case Op::mfhi: rr(IrOp::kMfhi); break;
    case Op::mflo: rr(IrOp::kMflo); break;
    case Op::mthi: hilo(IrOp::kMthi); break;
    case Op::mtlo: hilo(IrOp::kMtlo); break;
    case Op::mult: hilo(IrOp::kMult); break;
    case Op::multu: hilo(IrOp::kMultu); break;
    case Op::dmult: hilo(IrOp::kDmult); break;
    case Op::dmultu: hilo(IrOp::kDmultu); break;
    case Op::div: hilo(IrOp::kDiv); break;
    case Op::divu: hilo(IrOp::kDivu); break;
    case Op::ddiv: hilo(IrOp::kDdiv); break;
    case Op::ddivu: hilo(IrOp::kDdivu); break;
    case Op::add:
    case Op::addu: rr(IrOp::kAdd32); break;
    case Op::sub:
    case Op::subu: rr(IrOp::kSub32); break;
    case Op::and_: rr(IrOp::kAnd); break;
    case Op::or_: rr(IrOp::kOr); break;
    case Op::xor_: rr(IrOp::kXor); break;
    case Op::nor: rr(IrOp::kNor); break;
    case Op::slt: rr(IrOp::kSlt); break;
    case Op::sltu: rr(IrOp::kSltu); break;
    case Op::dadd:
    case Op::daddu: rr(IrOp::kAdd64); break;
    case Op::dsub:
    case Op::dsubu: rr(IrOp::kSub64); break;
    case Op::mul: rr(IrOp::kMul32); break;
    case Op::clz: rr(IrOp::kClz32); break;
    case Op::clo: rr(IrOp::kClo32); break;
    case Op::dclz: rr(IrOp::kClz64); break;
    case Op::dclo: rr(IrOp::kClo64); break;
    default: return false;
  }
  // A write to $zero is dropped by the interpreter (set_rd); loads have no other effect.
  const bool writes_only_d = ir.op != IrOp::kStore && ir.op != IrOp::kAtomic && !is_control(ir.op) && ir.zero_d == 0 &&
                             ir.op != IrOp::kMthi && ir.op != IrOp::kMtlo && ir.op != IrOp::kMult &&
                             ir.op != IrOp::kMultu && ir.op != IrOp::kDmult && ir.op != IrOp::kDmultu &&
                             !may_exit_before(ir.op);
  if (writes_only_d && ir.d == 0) ir.op = IrOp::kNop;
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
    out.end = ir.op == IrOp::kBranch ? EndKind::kBranch : ir.op == IrOp::kJump ? EndKind::kJump : EndKind::kJumpReg;
    if (ir.op == IrOp::kBranch && ir.cond == Cond::kNever) out.end = EndKind::kFallthrough;
    return true;
  }
  out.end = EndKind::kFallthrough;
  out.next_pc = pc;
  return !out.insns.empty();
}

}  // namespace cb::jit
