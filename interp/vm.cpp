#include "interp/vm.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "interp/decoder.h"
#include "interp/semantics.h"
#include "interp/witness_step.h"

namespace cb {

using namespace sem;

namespace {
std::string fmt(const char* f, uint64_t v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, static_cast<unsigned long long>(v));
  return buf;
}
inline void advance(Cpu& c) {
  c.pc = c.next_pc;
  c.next_pc += 4;
}
inline void set_rd(Thread& t, unsigned rd, uint64_t v) {
  if (rd != 0) t.regs[rd] = v;
  advance(t.cpu);
}
inline void syscall_return(Thread& t, uint64_t v0, uint64_t v1) {
  t.regs[kRegV0] = v0;
  t.regs[kRegA3] = v1;
  advance(t.cpu);
}
bool is_noop_syscall(uint64_t n) {
  for (uint64_t x : sys::kNoops)
    if (x == n) return true;
  return false;
}
}  // namespace

Vm::Vm(State& state, PreimageOracle* oracle, OutputFn output)
    : m_state(state), m_oracle(oracle), m_output(std::move(output)) {}

// The state-access policies of the one step function. Each says how a step fetches its
// instruction, touches data memory (track/track2 announce the word a data access goes
// through: the first and the second memory-proof slot), changes the thread stacks, and talks
// to the host (guest output, hints). Fast and recording policies use the State's memory and
// thread vectors; the witness-only policy uses only a WitnessView (interp/witness_step.h).
// Fast and recording steps also feed the --debug-info statistics (kStats).
struct FastPolicy {
  // The --debug-info statistics (interp/stats.h) count steps of a run, on the State; a
  // witness-only step (verify) counts nothing.
  static constexpr bool kStats = true;
  static uint32_t fetch(Vm& vm, uint64_t pc) { return fetch_insn(*vm.m_state.memory, pc); }
  static uint64_t get_word(Vm& vm, uint64_t addr) { return vm.m_state.memory->get_word(addr); }
  static void set_word(Vm& vm, uint64_t addr, uint64_t v) { vm.m_state.memory->set_word(addr, v); }
  static void track(Vm&, uint64_t) {}
  static void track2(Vm& vm, uint64_t addr) { vm.note_access2(addr, false); }
  static Thread& current(Vm& vm) { return vm.m_state.current(); }
  static bool active_empty(Vm& vm) { return vm.m_state.active().empty(); }
  static bool last_thread(Vm& vm) { return vm.m_state.thread_count() == 1; }
  static void pop_thread(Vm& vm) { vm.pop_thread(); }
  static void preempt(Vm& vm) { vm.preempt(); }
  static void push_thread(Vm& vm, const Thread& t) { vm.m_state.active().push_back(t); }
  static void output(Vm& vm, int fd, uint64_t addr, uint64_t len) { vm.emit_output(fd, addr, len); }
  static void hint(Vm& vm, uint64_t addr, uint64_t len) { vm.emit_hint(addr, len); }
};

struct RecordPolicy : FastPolicy {
  static void track(Vm& vm, uint64_t addr) { vm.record_access(addr); }
  static void track2(Vm& vm, uint64_t addr) { vm.note_access2(addr, true); }
};

// Guest output and hints change nothing the state hash covers (on chain, write to fds 1, 2
// and 4 only returns the length), so this policy reads no memory for them.
struct WitnessPolicy {
  static constexpr bool kStats = false;
  static uint32_t fetch(Vm& vm, uint64_t pc) { return vm.m_view->fetch(pc); }
  static uint64_t get_word(Vm& vm, uint64_t addr) { return vm.m_view->get_word(addr); }
  static void set_word(Vm& vm, uint64_t addr, uint64_t v) { vm.m_view->set_word(addr, v); }
  static void track(Vm& vm, uint64_t addr) { vm.m_view->open(1, addr); }
  static void track2(Vm& vm, uint64_t addr) { vm.m_view->open(2, addr); }
  static Thread& current(Vm& vm) { return vm.m_view->top(); }
  static bool active_empty(Vm& vm) { return vm.m_view->stack_empty(vm.m_state.traverse_right); }
  static bool last_thread(Vm& vm) { return vm.m_view->last_thread(); }
  static void pop_thread(Vm& vm) {
    vm.m_view->remove_top();
    end_switch(vm);
  }
  static void preempt(Vm& vm) {
    vm.m_view->move_top_to_other();
    end_switch(vm);
  }
  static void push_thread(Vm& vm, const Thread& t) { vm.m_view->push_above_top(t); }
  static void output(Vm&, int, uint64_t, uint64_t) {}
  static void hint(Vm&, uint64_t, uint64_t) {}

private:
  // As Vm::pop_thread / preempt after the stack change: an emptied stack flips the direction.
  static void end_switch(Vm& vm) {
    State& s = vm.m_state;
    if (vm.m_view->stack_empty(s.traverse_right)) s.traverse_right = !s.traverse_right;
    s.steps_since_switch = 0;
  }
};

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

void Vm::emit_output(int fd, uint64_t addr, uint64_t len) {
  // Streamed in chunks: a guest may name any length.
  for (uint64_t off = 0; off < len;) {
    uint64_t n = std::min<uint64_t>(len - off, 1 << 16);
    m_state.memory->read_range(addr + off, n, m_scratch);
    if (m_output) m_output(fd, m_scratch.data(), m_scratch.size());
    off += n;
  }
}

void Vm::emit_hint(uint64_t addr, uint64_t len) {
  m_state.memory->read_range(addr, len, m_scratch);
  auto& h = m_state.last_hint;
  h.insert(h.end(), m_scratch.begin(), m_scratch.end());
  size_t pos = 0;
  while (h.size() - pos >= 4) {
    uint32_t n = uint32_t(h[pos]) << 24 | uint32_t(h[pos + 1]) << 16 | uint32_t(h[pos + 2]) << 8 | h[pos + 3];
    if (n > h.size() - pos - 4) break;
    if (m_oracle) m_oracle->hint(std::span<const uint8_t>(h.data() + pos + 4, n));
    pos += 4 + size_t(n);
  }
  h.erase(h.begin(), h.begin() + pos);
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
    case Op::j: return jump(0, (c.next_pc & 0xFFFFFFFFF0000000ULL) | uint64_t((insn & 0x03FFFFFF) << 2));
    case Op::jal: return jump(kRegRA, (c.next_pc & 0xFFFFFFFFF0000000ULL) | uint64_t((insn & 0x03FFFFFF) << 2));
    case Op::beq: return branch(rs == rt);
    case Op::bne: return branch(rs != rt);
    case Op::blez: return branch(int64_t(rs) <= 0);
    case Op::bgtz: return branch(int64_t(rs) > 0);
    case Op::bltz: return branch(int64_t(rs) < 0);
    case Op::bgez: return branch(int64_t(rs) >= 0);
    case Op::bltzal:
    case Op::bgezal: {
      if (c.next_pc != c.pc + 4) return panic("branch in delay slot");
      R[kRegRA] = c.pc + 8;  // linked whether or not the branch is taken
      return branch(op == Op::bltzal ? int64_t(rs) < 0 : int64_t(rs) >= 0);
    }
    case Op::regimm_never: return branch(false);
    case Op::addi:
    case Op::addiu: return alu(rt_i, sext32(uint32_t(rs) + uint32_t(simm(insn))));
    case Op::slti: return alu(rt_i, int64_t(rs) < int64_t(simm(insn)) ? 1 : 0);
    case Op::sltiu: return alu(rt_i, rs < simm(insn) ? 1 : 0);
    case Op::andi: return alu(rt_i, rs & (insn & 0xffff));
    case Op::ori: return alu(rt_i, rs | (insn & 0xffff));
    case Op::xori: return alu(rt_i, rs ^ (insn & 0xffff));
    case Op::lui: return alu(rt_i, sext32(uint64_t(insn & 0xffff) << 16));
    case Op::daddi:
    case Op::daddiu: return alu(rt_i, rs + simm(insn));
    // Loads.
    case Op::lb: return alu(rt_i, select_subword(addr, load(), 1, true));
    case Op::lh: return alu(rt_i, select_subword(addr, load(), 2, true));
    case Op::lw: return alu(rt_i, select_subword(addr, load(), 4, true));
    case Op::lbu: return alu(rt_i, select_subword(addr, load(), 1, false));
    case Op::lhu: return alu(rt_i, select_subword(addr, load(), 2, false));
    case Op::lwu: return alu(rt_i, lwu(addr, load()));
    case Op::ld: return alu(rt_i, load());
    case Op::lwl: return alu(rt_i, lwl(addr, load(), rt));
    case Op::lwr: return alu(rt_i, lwr(addr, load(), rt));
    case Op::ldl: return alu(rt_i, ldl(addr, load(), rt));
    case Op::ldr: return alu(rt_i, ldr(addr, load(), rt));
    // Stores.
    case Op::sb: return store(update_subword(addr, load(), 1, rt));
    case Op::sh: return store(update_subword(addr, load(), 2, rt));
    case Op::sw: return store(update_subword(addr, load(), 4, rt));
    case Op::sd: load(); return store(rt);
    case Op::swl: return store(swl(addr, load(), rt));
    case Op::swr: return store(swr(addr, load(), rt));
    case Op::sdl: return store(sdl(addr, load(), rt));
    case Op::sdr: return store(sdr(addr, load(), rt));
    case Op::ll: return rmw<P>(t, insn, false, true);
    case Op::lld: return rmw<P>(t, insn, true, true);
    case Op::sc: return rmw<P>(t, insn, false, false);
    case Op::scd: return rmw<P>(t, insn, true, false);
    // SPECIAL.
    case Op::sll: return alu(rd_i, sext32((rt << sa) & 0xFFFFFFFFu));
    case Op::srl: return alu(rd_i, sext32((rt & 0xFFFFFFFFu) >> sa));
    case Op::sra: return alu(rd_i, uint64_t(int64_t(int32_t(uint32_t(rt))) >> sa));
    case Op::sllv: return alu(rd_i, sext32((rt << (rs & 31)) & 0xFFFFFFFFu));
    case Op::srlv: return alu(rd_i, sext32((rt & 0xFFFFFFFFu) >> (rs & 31)));
    case Op::srav: return alu(rd_i, uint64_t(int64_t(int32_t(uint32_t(rt))) >> (rs & 31)));
    case Op::jr: return jump(0, rs);
    case Op::jalr: return jump(rd_i, rs);
    case Op::movz:
      if (rt == 0 && rd_i != 0) R[rd_i] = rs;
      advance(c);
      return StepStatus::kOk;
    case Op::movn:
      if (rt != 0 && rd_i != 0) R[rd_i] = rs;
      advance(c);
      return StepStatus::kOk;
    case Op::syscall: return syscall<P>(t);
    case Op::sync: return alu(rd_i, rs);  // the reference writes rs to a non-zero rd field
    case Op::mfhi: return hilo(c.hi);
    case Op::mflo: return hilo(c.lo);
    case Op::mthi: c.hi = rs; return hilo(0);
    case Op::mtlo: c.lo = rs; return hilo(0);
    case Op::mult: mult(rs, rt, c.hi, c.lo); return hilo(0);
    case Op::multu: multu(rs, rt, c.hi, c.lo); return hilo(0);
    case Op::dmult: dmult(rs, rt, c.hi, c.lo); return hilo(0);
    case Op::dmultu: dmultu(rs, rt, c.hi, c.lo); return hilo(0);
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
    case Op::dsllv: return hilo(rt << (rs & 63));
    case Op::dsrlv: return hilo(rt >> (rs & 63));
    case Op::dsrav: return hilo(uint64_t(int64_t(rt) >> (rs & 63)));
    case Op::add:
    case Op::addu: return alu(rd_i, sext32(uint32_t(rs) + uint32_t(rt)));
    case Op::sub:
    case Op::subu: return alu(rd_i, sext32(uint32_t(rs) - uint32_t(rt)));
    case Op::and_: return alu(rd_i, rs & rt);
    case Op::or_: return alu(rd_i, rs | rt);
    case Op::xor_: return alu(rd_i, rs ^ rt);
    case Op::nor: return alu(rd_i, ~(rs | rt));
    case Op::slt: return alu(rd_i, int64_t(rs) < int64_t(rt) ? 1 : 0);
    case Op::sltu: return alu(rd_i, rs < rt ? 1 : 0);
    case Op::dadd:
    case Op::daddu: return alu(rd_i, rs + rt);
    case Op::dsub:
    case Op::dsubu: return alu(rd_i, rs - rt);
    case Op::dsll: return alu(rd_i, rt << sa);
    case Op::dsrl: return alu(rd_i, rt >> sa);
    case Op::dsra: return alu(rd_i, uint64_t(int64_t(rt) >> sa));
    case Op::dsll32: return alu(rd_i, rt << (sa + 32));
    case Op::dsrl32: return alu(rd_i, rt >> (sa + 32));
    case Op::dsra32: return alu(rd_i, uint64_t(int64_t(rt) >> (sa + 32)));
    // SPECIAL2.
    case Op::mul: return alu(rd_i, sext32(uint32_t(rs) * uint32_t(rt)));
    case Op::clz: return alu(rd_i, clz32(rs));
    case Op::clo: return alu(rd_i, clz32(~rs));
    case Op::dclz: return alu(rd_i, clz64(rs));
    case Op::dclo: return alu(rd_i, clz64(~rs));
    case Op::invalid:
    case Op::kCount: break;
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

bool Vm::read_preimage(const Hash32& key, uint64_t offset, uint8_t out[32], uint64_t& len) {
  if (key != m_pre_key || m_pre_value.empty()) {
    // The reader's cache starts as (zero key, no data): a read with the zero key before any
    // other read finds no data and hits the out-of-bounds panic, as in the reference.
    if (key != m_pre_key) {
      if (!m_oracle) {
        m_panic = "no pre-image retriever available";
        return false;
      }
      std::vector<uint8_t> data = m_oracle->get_preimage(key);
      ++m_pre_requests;
      m_pre_total += data.size();
      m_pre_key = key;
      m_pre_value.resize(8 + data.size());
      store_be64(m_pre_value.data(), data.size());
      if (!data.empty()) std::memcpy(m_pre_value.data() + 8, data.data(), data.size());  // empty: data() may be null
    }
  }
  m_pre_last_offset = offset;
  if (offset >= m_pre_value.size()) {
    m_panic = "Preimage offset out-of-bounds";
    return false;
  }
  len = std::min<uint64_t>(32, m_pre_value.size() - offset);
  std::memcpy(out, m_pre_value.data() + offset, len);
  return true;
}

template <class P>
StepStatus Vm::syscall(Thread& t) {
  State& s = m_state;
  const uint64_t num = t.regs[kRegV0], a0 = t.regs[kRegA0], a1 = t.regs[kRegA1], a2 = t.regs[kRegA2];
  uint64_t v0 = 0, v1 = 0;
  auto yield = [&]() {
    syscall_return(t, 0, 0);
    P::preempt(*this);
    return StepStatus::kOk;
  };
  switch (num) {
    case sys::kMmap: {
      uint64_t sz = a1;
      if (sz & kPageAddrMask) sz += kPageSize - (sz & kPageAddrMask);
      if (a0 == 0) {
        uint64_t new_heap = s.heap + sz;
        if (new_heap > kHeapEnd || new_heap < s.heap || sz < a1) {
          v0 = kEINVAL;
          v1 = kSysErrorSignal;
        } else {
          v0 = s.heap;
          s.heap = new_heap;
        }
      } else {
        v0 = a0;
      }
      break;
    }
    case sys::kBrk: v0 = kProgramBreak; break;
    case sys::kClone: {
      if (a0 != kValidCloneFlags) {
        s.exited = true;
        s.exit_code = kVmPanic;
        return StepStatus::kOk;
      }
      Thread n;
      n.id = s.next_thread_id;
      n.cpu.pc = t.cpu.next_pc;
      n.cpu.next_pc = t.cpu.next_pc + 4;
      n.cpu.hi = t.cpu.hi;
      n.cpu.lo = t.cpu.lo;
      std::memcpy(n.regs, t.regs, sizeof n.regs);
      n.regs[kRegSP] = a1;
      n.regs[kRegV0] = 0;
      n.regs[kRegA3] = 0;
      s.next_thread_id++;
      syscall_return(t, n.id, 0);
      P::push_thread(*this, n);  // invalidates t
      s.steps_since_switch = 0;
      return StepStatus::kOk;
    }
    case sys::kExitGroup:
      s.exited = true;
      s.exit_code = uint8_t(a0);
      return StepStatus::kOk;
    case sys::kRead:
      switch (a0) {
        case fd::kStdin: break;
        case fd::kPreimageRead: {
          uint64_t eff = a1 & kAddressMask;
          P::track(*this, eff);
          uint64_t word = P::get_word(*this, eff);
          uint8_t dat[32];
          uint64_t len = 0;
          if (!read_preimage(s.preimage_key, s.preimage_offset, dat, len)) return StepStatus::kPanic;
          uint64_t alignment = a1 & 7, space = 8 - alignment;
          len = std::min({len, space, a2});
          uint8_t out[8];
          store_be64(out, word);
          std::memcpy(out + alignment, dat, len);
          P::set_word(*this, eff, load_be64(out));
          on_store(eff);
          s.preimage_offset += len;
          v0 = len;
          break;
        }
        case fd::kHintRead: v0 = a2; break;
        case fd::kEventFd: v0 = kEAGAIN; v1 = kSysErrorSignal; break;
        default: v0 = kEBADF; v1 = kSysErrorSignal; break;
      }
      break;
    case sys::kWrite:
      switch (a0) {
        case fd::kStdout:
        case fd::kStderr:
          P::output(*this, int(a0), a1, a2);
          v0 = a2;
          break;
        case fd::kHintWrite:
          P::hint(*this, a1, a2);
          v0 = a2;
          break;
        case fd::kPreimageWrite: {
          uint64_t eff = a1 & kAddressMask;
          P::track(*this, eff);
          uint64_t word = P::get_word(*this, eff);
          uint64_t alignment = a1 & 7, space = 8 - alignment;
          uint64_t n = std::min(a2, space);
          Hash32 key = s.preimage_key;
          std::memmove(key.data(), key.data() + n, 32 - n);
          uint8_t tmp[8];
          store_be64(tmp, word);
          std::memcpy(key.data() + 32 - n, tmp + alignment, n);
          s.preimage_key = key;
          s.preimage_offset = 0;
          v0 = n;
          break;
        }
        case fd::kEventFd: v0 = kEAGAIN; v1 = kSysErrorSignal; break;
        default: v0 = kEBADF; v1 = kSysErrorSignal; break;
      }
      break;
    case sys::kFcntl:
      if (a1 == 1) {  // F_GETFD
        if (a0 <= fd::kPreimageWrite) v0 = 0;
        else { v0 = kEBADF; v1 = kSysErrorSignal; }
      } else if (a1 == 3) {  // F_GETFL
        if (a0 == fd::kStdin || a0 == fd::kPreimageRead || a0 == fd::kHintRead) v0 = 0;
        else if (a0 == fd::kStdout || a0 == fd::kStderr || a0 == fd::kPreimageWrite || a0 == fd::kHintWrite) v0 = 1;
        else { v0 = kEBADF; v1 = kSysErrorSignal; }
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    case sys::kGetTid: v0 = t.id; break;
    case sys::kExit:
      t.exited = true;
      t.exit_code = uint8_t(a0);
      if (P::last_thread(*this)) {
        s.exited = true;
        s.exit_code = uint8_t(a0);
      }
      return StepStatus::kOk;
    case sys::kFutex: {
      uint64_t futex_addr = a0 & ~uint64_t{3};
      if (a1 == kFutexWaitPrivate) {
        uint64_t eff = futex_addr & kAddressMask;
        P::track(*this, eff);
        uint32_t val = uint32_t(select_subword(futex_addr, P::get_word(*this, eff), 4, false));
        if (val != uint32_t(a2)) {
          v0 = kEAGAIN;
          v1 = kSysErrorSignal;
        } else {
          return yield();
        }
      } else if (a1 == kFutexWakePrivate) {
        return yield();
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    }
    case sys::kSchedYield:
    case sys::kNanosleep: return yield();
    case sys::kOpen: v0 = kEBADF; v1 = kSysErrorSignal; break;
    case sys::kClockGetTime:
      if (a0 == kClockRealtime || a0 == kClockMonotonic) {
        uint64_t secs = 0, nsecs = 0;
        if (a0 == kClockMonotonic) {
          secs = s.step / kHz;
          nsecs = (s.step % kHz) * (1000000000 / kHz);
        }
        uint64_t eff = a1 & kAddressMask;
        P::track(*this, eff);
        P::set_word(*this, eff, secs);
        on_store(eff);
        P::track2(*this, eff + 8);
        P::set_word(*this, eff + 8, nsecs);
        on_store(eff + 8);
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    case sys::kGetpid: break;
    case sys::kGetRandom: {
      uint64_t eff = a0 & kAddressMask;
      P::track(*this, eff);
      uint64_t word = P::get_word(*this, eff);
      uint64_t rnd = splitmix64(s.step);
      uint64_t index = a0 - eff;
      uint64_t count = std::min<uint64_t>(8 - index, a1);
      // Go shifts by >= 64 give 0; mirror that.
      uint64_t mask = count * 8 >= 64 ? ~uint64_t{0} : (uint64_t{1} << (count * 8)) - 1;
      uint64_t sl = (8 - count) * 8;
      mask = sl >= 64 ? 0 : mask << sl;
      mask >>= index * 8;
      P::set_word(*this, eff, (word & ~mask) | (rnd & mask));
      on_store(eff);
      v0 = count;
      break;
    }
    case sys::kEventFd2:
      if ((a1 & kEfdNonblock) == 0) {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      } else {
        v0 = fd::kEventFd;
      }
      break;
    default:
      if (!is_noop_syscall(num)) return panic(fmt("unrecognized syscall: %llu", num));
      break;
  }
  syscall_return(t, v0, v1);
  return StepStatus::kOk;
}

template StepStatus Vm::do_step<FastPolicy>();
template StepStatus Vm::do_step<RecordPolicy>();
template StepStatus Vm::do_step<WitnessPolicy>();

}  // namespace cb
