// The state-access policies of the one step function (interp/vm.h), shared by the files that
// instantiate it: vm.cpp (step, instructions, read-modify-write) and syscalls.cpp. Internal
// to interp/: nothing outside includes it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "interp/semantics.h"
#include "interp/vm.h"
#include "interp/witness_step.h"

namespace cb {

// Small helpers of the step function and the syscalls.
namespace step_detail {
using namespace sem;
inline std::string fmt(const char* f, uint64_t v) {
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
inline bool is_noop_syscall(uint64_t n) {
  for (uint64_t x : sys::kNoops)
    if (x == n) return true;
  return false;
}
}  // namespace step_detail

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

}  // namespace cb
