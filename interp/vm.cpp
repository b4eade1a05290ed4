// The step loop, the instructions and read-modify-write of the canonical VM (interp/vm.h);
// the syscalls are syscalls.cpp, the state-access policies step_policy.h.
#include "interp/vm.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "interp/decoder.h"
#include "interp/step_policy.h"

namespace cb {

using namespace sem;
using namespace step_detail;

Vm::Vm(State& state, PreimageOracle* oracle, OutputFn output)
    : m_state(state), m_oracle(oracle), m_output(std::move(output)) {}

void Vm::record_access(uint64_t addr) {
  if (m_last_access == addr) return;
  // The reference panics here too: a step touches at most one word through this path.
  if (m_last_access != ~uint64_t{0}) std::abort();
  m_last_access = addr;
  m_proof1 = m_state.memory->proof(addr);
}

void Vm::note_access2(uint64_t addr, bool record) {
  m_track2_step = m_state.step;
  if (record) {
    m_last_access = addr;
    m_proof2 = m_state.memory->proof(addr);
    m_proof2_step = m_state.step;
  } else if (m_state.step >= m_proof2_from) {
    m_proof2 = m_state.memory->proof(addr);  // see set_track_proof2_from()
    m_proof2_step = m_state.step;
  }
}

void Vm::preempt() {
  State& s = m_state;
  Thread t = s.current();
  if (s.traverse_right) {
    s.right.pop_back();
    s.left.push_back(t);
  } else {
    s.left.pop_back();
    s.right.push_back(t);
  }
  if (s.active().empty()) s.traverse_right = !s.traverse_right;
  s.steps_since_switch = 0;
  if (m_stats) m_stats->on_thread_activated(s.current().id, s.step);
}

void Vm::pop_thread() {
  State& s = m_state;
  s.active().pop_back();
  if (s.active().empty()) s.traverse_right = !s.traverse_right;
  s.steps_since_switch = 0;
}

StepStatus Vm::step() { return do_step<FastPolicy>(); }

StepStatus Vm::step_from_witness(WitnessView& view) {
  m_view = &view;
  m_last_access = ~uint64_t{0};
  StepStatus st = do_step<WitnessPolicy>();
  m_view = nullptr;
  return st;
}

uint64_t Vm::run(uint64_t max_steps, StepStatus& status) {
  status = StepStatus::kOk;
  uint64_t n = 0;
  while (n < max_steps && !m_state.exited) {
    status = do_step<FastPolicy>();
    ++n;
    if (status != StepStatus::kOk) break;
  }
  return n;
}

StepStatus Vm::step_with_proof(StepWitness& w) {
  State& s = m_state;
  m_last_access = ~uint64_t{0};
  w = StepWitness{};
  if (s.active().empty()) return panic("Active thread stack is empty");
  auto thread_proof = s.encode_thread_proof();
  MemProof insn_proof = s.memory->proof(s.current().cpu.pc);
  w.state = s.encode_witness();
  w.state_hash = state_hash_from_witness(w.state);
  StepStatus st = do_step<RecordPolicy>();
  if (st != StepStatus::kOk) return st;
  w.proof_data.reserve(kThreadWitnessSize + 3 * kMemProofSize);
  w.proof_data.insert(w.proof_data.end(), thread_proof.begin(), thread_proof.end());
  w.proof_data.insert(w.proof_data.end(), insn_proof.begin(), insn_proof.end());
  w.proof_data.insert(w.proof_data.end(), m_proof1.begin(), m_proof1.end());
  w.proof_data.insert(w.proof_data.end(), m_proof2.begin(), m_proof2.end());
  if (last_step_read_preimage() && m_pre_key != Hash32{}) {
    w.has_preimage = true;
    w.preimage_key = m_pre_key;
    w.preimage_value = m_pre_value;
    w.preimage_offset = m_pre_last_offset;
  }
  return st;
}

template <class P>
StepStatus Vm::do_step() {
  State& s = m_state;
  m_pre_last_offset = ~uint64_t{0};
  if (s.exited) return StepStatus::kOk;
  s.step += 1;
  if (P::active_empty(*this)) return panic("Active thread stack is empty");
  Thread& t = P::current(*this);
  if (t.exited) {
    P::pop_thread(*this);
    // The reference's post-step check (mipsStep: assertPostStateChecks).
    if (P::active_empty(*this)) return panic("post-state active thread stack is empty");
    return StepStatus::kOk;
  }
  if (s.steps_since_switch >= kSchedQuantum) {
    P::preempt(*this);
    if constexpr (P::kStats) {
      if (m_stats) m_stats->on_forced_preemption();
    }
    return StepStatus::kOk;
  }
  s.steps_since_switch += 1;
  uint64_t pc = t.cpu.pc;
  if ((pc & 3) != 0 || pc >= kICacheEnd) [[unlikely]] {
    if (pc & 3) return panic(fmt("unaligned instruction fetch: PC = 0x%llx", pc));
    if constexpr (P::kStats) {
      if (m_stats) m_stats->on_fetch(pc);  // the reference's instruction-cache miss
    }
  }
  return exec_insn<P>(t, P::fetch(*this, pc));
}

template <class P>
StepStatus Vm::exec_insn(Thread& t, uint32_t insn) {
  Cpu& c = t.cpu;
  uint64_t* R = t.regs;
  const unsigned rs_i = (insn >> 21) & 31, rt_i = (insn >> 16) & 31, rd_i = (insn >> 11) & 31;
  const unsigned sa = (insn >> 6) & 31;
  const uint64_t rs = R[rs_i], rt = R[rt_i];
  const Op op = decode(insn);

  auto branch = [&](bool taken) -> StepStatus {
    if (c.next_pc != c.pc + 4) return panic("branch in delay slot");
    uint64_t prev = c.pc;
    c.pc = c.next_pc;
    c.next_pc = taken ? prev + 4 + (simm(insn) << 2) : c.next_pc + 4;
    return StepStatus::kOk;
  };
  auto jump = [&](unsigned link, uint64_t dest) -> StepStatus {
    if (c.next_pc != c.pc + 4) return panic("jump in delay slot");
    uint64_t prev = c.pc;
    c.pc = c.next_pc;
    c.next_pc = dest;
    if (link != 0) R[link] = prev + 8;
    return StepStatus::kOk;
  };
  // HI/LO group: rd is written with `val` when rd != 0 (0 for the mt*/mul/div forms, as the
  // reference does).
  auto hilo = [&](uint64_t val) -> StepStatus {
    set_rd(t, rd_i, val);
    return StepStatus::kOk;
  };
  auto alu = [&](unsigned rd, uint64_t val) -> StepStatus {
    set_rd(t, rd, val);
    return StepStatus::kOk;
  };
  const uint64_t addr = rs + simm(insn);
  const uint64_t waddr = addr & kAddressMask;
  auto load = [&]() -> uint64_t {
    P::track(*this, waddr);
    return P::get_word(*this, waddr);
  };
  auto store = [&](uint64_t val) -> StepStatus {
    P::track(*this, waddr);
    P::set_word(*this, waddr, val);
    on_store(waddr);
    advance(c);
    return StepStatus::kOk;
  };

  switch (op) {
    case Op::j:
      return jump(0, (c.next_pc & 0xFFFFFFFFF0000000ULL) | uint64_t((insn & 0x03FFFFFF) << 2));
    case Op::jal:
      return jump(kRegRA, (c.next_pc & 0xFFFFFFFFF0000000ULL) | uint64_t((insn & 0x03FFFFFF) << 2));
    case Op::beq:
      return branch(rs == rt);
    case Op::bne:
      return branch(rs != rt);
    case Op::blez:
      return branch(int64_t(rs) <= 0);
    case Op::bgtz:
      return branch(int64_t(rs) > 0);
    case Op::bltz:
      return branch(int64_t(rs) < 0);
    case Op::bgez:
      return branch(int64_t(rs) >= 0);
    case Op::bltzal:
    case Op::bgezal: {
      if (c.next_pc != c.pc + 4) return panic("branch in delay slot");
      R[kRegRA] = c.pc + 8;  // linked whether or not the branch is taken
      return branch(op == Op::bltzal ? int64_t(rs) < 0 : int64_t(rs) >= 0);
    }
    case Op::regimm_never:
      return branch(false);
    case Op::addi:
    case Op::addiu:
      return alu(rt_i, sext32(uint32_t(rs) + uint32_t(simm(insn))));
    case Op::slti:
      return alu(rt_i, int64_t(rs) < int64_t(simm(insn)) ? 1 : 0);
    case Op::sltiu:
      return alu(rt_i, rs < simm(insn) ? 1 : 0);
    case Op::andi:
      return alu(rt_i, rs & (insn & 0xffff));
    case Op::ori:
      return alu(rt_i, rs | (insn & 0xffff));
    case Op::xori:
      return alu(rt_i, rs ^ (insn & 0xffff));
    case Op::lui:
      return alu(rt_i, sext32(uint64_t(insn & 0xffff) << 16));
    case Op::daddi:
    case Op::daddiu:
      return alu(rt_i, rs + simm(insn));
    // Loads.
    case Op::lb:
      return alu(rt_i, select_subword(addr, load(), 1, true));
    case Op::lh:
      return alu(rt_i, select_subword(addr, load(), 2, true));
    case Op::lw:
      return alu(rt_i, select_subword(addr, load(), 4, true));
    case Op::lbu:
      return alu(rt_i, select_subword(addr, load(), 1, false));
    case Op::lhu:
      return alu(rt_i, select_subword(addr, load(), 2, false));
    case Op::lwu:
      return alu(rt_i, lwu(addr, load()));
    case Op::ld:
      return alu(rt_i, load());
    case Op::lwl:
      return alu(rt_i, lwl(addr, load(), rt));
    case Op::lwr:
      return alu(rt_i, lwr(addr, load(), rt));
    case Op::ldl:
      return alu(rt_i, ldl(addr, load(), rt));
    case Op::ldr:
      return alu(rt_i, ldr(addr, load(), rt));
    // Stores.
    case Op::sb:
      return store(update_subword(addr, load(), 1, rt));
    case Op::sh:
      return store(update_subword(addr, load(), 2, rt));
    case Op::sw:
      return store(update_subword(addr, load(), 4, rt));
    case Op::sd:
      load();
      return store(rt);
    case Op::swl:
      return store(swl(addr, load(), rt));
    case Op::swr:
      return store(swr(addr, load(), rt));
    case Op::sdl:
      return store(sdl(addr, load(), rt));
    case Op::sdr:
      return store(sdr(addr, load(), rt));
    case Op::ll:
      return rmw<P>(t, insn, false, true);
    case Op::lld:
      return rmw<P>(t, insn, true, true);
    case Op::sc:
      return rmw<P>(t, insn, false, false);
    case Op::scd:
      return rmw<P>(t, insn, true, false);
    // SPECIAL.
    case Op::sll:
      return alu(rd_i, sext32((rt << sa) & 0xFFFFFFFFu));
    case Op::srl:
      return alu(rd_i, sext32((rt & 0xFFFFFFFFu) >> sa));
    case Op::sra:
      return alu(rd_i, uint64_t(int64_t(int32_t(uint32_t(rt))) >> sa));
    case Op::sllv:
      return alu(rd_i, sext32((rt << (rs & 31)) & 0xFFFFFFFFu));
    case Op::srlv:
      return alu(rd_i, sext32((rt & 0xFFFFFFFFu) >> (rs & 31)));
    case Op::srav:
      return alu(rd_i, uint64_t(int64_t(int32_t(uint32_t(rt))) >> (rs & 31)));
    case Op::jr:
      return jump(0, rs);
    case Op::jalr:
      return jump(rd_i, rs);
    case Op::movz:
      if (rt == 0 && rd_i != 0) R[rd_i] = rs;
      advance(c);
      return StepStatus::kOk;
    case Op::movn:
      if (rt != 0 && rd_i != 0) R[rd_i] = rs;
      advance(c);
      return StepStatus::kOk;
    case Op::syscall:
      return syscall<P>(t);
    case Op::sync:
      return alu(rd_i, rs);  // the reference writes rs to a non-zero rd field
    case Op::mfhi:
      return hilo(c.hi);
    case Op::mflo:
      return hilo(c.lo);
    case Op::mthi:
      c.hi = rs;
      return hilo(0);
    case Op::mtlo:
      c.lo = rs;
      return hilo(0);
    case Op::mult:
      mult(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::multu:
      multu(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::dmult:
      dmult(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::dmultu:
      dmultu(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::div:
      if (uint32_t(rt) == 0) return panic("instruction divide by zero");
      div32(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::divu:
      if (uint32_t(rt) == 0) return panic("instruction divide by zero");
      divu32(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::ddiv:
      if (rt == 0) return panic("instruction divide by zero");
      ddiv(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::ddivu:
      if (rt == 0) return panic("instruction divide by zero");
      ddivu(rs, rt, c.hi, c.lo);
      return hilo(0);
    case Op::dsllv:
      return hilo(rt << (rs & 63));
    case Op::dsrlv:
      return hilo(rt >> (rs & 63));
    case Op::dsrav:
      return hilo(uint64_t(int64_t(rt) >> (rs & 63)));
    case Op::add:
    case Op::addu:
      return alu(rd_i, sext32(uint32_t(rs) + uint32_t(rt)));
    case Op::sub:
    case Op::subu:
      return alu(rd_i, sext32(uint32_t(rs) - uint32_t(rt)));
    case Op::and_:
      return alu(rd_i, rs & rt);
    case Op::or_:
      return alu(rd_i, rs | rt);
    case Op::xor_:
      return alu(rd_i, rs ^ rt);
    case Op::nor:
      return alu(rd_i, ~(rs | rt));
    case Op::slt:
      return alu(rd_i, int64_t(rs) < int64_t(rt) ? 1 : 0);
    case Op::sltu:
      return alu(rd_i, rs < rt ? 1 : 0);
    case Op::dadd:
    case Op::daddu:
      return alu(rd_i, rs + rt);
    case Op::dsub:
    case Op::dsubu:
      return alu(rd_i, rs - rt);
    case Op::dsll:
      return alu(rd_i, rt << sa);
    case Op::dsrl:
      return alu(rd_i, rt >> sa);
    case Op::dsra:
      return alu(rd_i, uint64_t(int64_t(rt) >> sa));
    case Op::dsll32:
      return alu(rd_i, rt << (sa + 32));
    case Op::dsrl32:
      return alu(rd_i, rt >> (sa + 32));
    case Op::dsra32:
      return alu(rd_i, uint64_t(int64_t(rt) >> (sa + 32)));
    // SPECIAL2.
    case Op::mul:
      return alu(rd_i, sext32(uint32_t(rs) * uint32_t(rt)));
    case Op::clz:
      return alu(rd_i, clz32(rs));
    case Op::clo:
      return alu(rd_i, clz32(~rs));
    case Op::dclz:
      return alu(rd_i, clz64(rs));
    case Op::dclo:
      return alu(rd_i, clz64(~rs));
    case Op::invalid:
    case Op::kCount:
      break;
  }
  // The reference's two wordings (exec/mips_instructions.go ExecuteMipsInstruction): SPECIAL
  // and the immediate ALU opcodes panic with "0x%08x", every other opcode with "%x".
  const uint32_t opc = uint32_t(insn) >> 26;
  const bool alu_form = opc == 0 || (opc >= 8 && opc < 0xF) || opc == 0x18 || opc == 0x19;
  return panic(fmt(alu_form ? "invalid instruction: 0x%08llx" : "invalid instruction: %llx", insn));
}

template <class P>
StepStatus Vm::rmw(Thread& t, uint32_t insn, bool is64, bool is_load) {
  State& s = m_state;
  uint64_t addr = t.regs[(insn >> 21) & 31] + simm(insn);
  unsigned rt_i = (insn >> 16) & 31;
  unsigned len = is64 ? 8 : 4;
  uint64_t waddr = addr & kAddressMask;
  uint64_t ret;
  if (is_load) {
    P::track(*this, waddr);
    ret = select_subword(addr, P::get_word(*this, waddr), len, true);
    ll_reserve(s, addr, is64, t.id);
    if constexpr (P::kStats) {
      if (m_stats) m_stats->on_ll(t.id, s.step);
    }
  } else if (sc_consume(s, addr, is64, t.id)) {
    P::track(*this, waddr);
    uint64_t mem = P::get_word(*this, waddr);
    P::set_word(*this, waddr, update_subword(addr, mem, len, t.regs[rt_i]));
    ret = 1;
    if constexpr (P::kStats) {
      if (m_stats) m_stats->on_sc(t.id, s.step, true);
    }
  } else {
    ret = 0;
    if constexpr (P::kStats) {
      if (m_stats) m_stats->on_sc(t.id, s.step, false);
    }
  }
  set_rd(t, rt_i, ret);
  return StepStatus::kOk;
}

template StepStatus Vm::do_step<FastPolicy>();
template StepStatus Vm::do_step<RecordPolicy>();
template StepStatus Vm::do_step<WitnessPolicy>();

}  // namespace cb
