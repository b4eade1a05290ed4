#include "cli/guest_stack.h"

#include <cinttypes>

#include "interp/constants.h"

namespace cb::cli {

void GuestStackTracker::before_step(const State& s) {
  if (s.exited || s.active().empty()) return;
  const Thread& t = s.current();
  if (t.exited) {  // this step pops the thread (reference: DropThread)
    m_threads.erase(t.id);
    return;
  }
  if (s.steps_since_switch >= kSchedQuantum) return;  // a preemption step runs no instruction
  const uint64_t pc = t.cpu.pc;
  if (pc & 3) return;  // the step panics
  const uint32_t insn = fetch_insn(*s.memory, pc);
  const uint32_t opcode = insn >> 26, fun = insn & 0x3f, rt = (insn >> 16) & 31;
  const uint64_t rs = t.regs[(insn >> 21) & 31];
  Frames& f = m_threads[t.id];
  auto push = [&](uint64_t caller, uint64_t target) {
    f.caller.push_back(caller);
    f.target.push_back(target);
  };
  if (opcode == 2 || opcode == 3) {  // j, jal
    push(pc, (t.cpu.next_pc & 0xFFFFFFFFF0000000ULL) | uint64_t((insn & 0x03FFFFFF) << 2));
  } else if (opcode == 0 && fun == 9) {  // jalr
    push(pc, rs);
  } else if (opcode == 0 && fun == 8) {  // jr
    pop(f, s, pc);
  } else if (opcode == 1 && (rt == 0x10 || rt == 0x11)) {  // bltzal, bgezal
    const bool taken = rt == 0x10 ? int64_t(rs) < 0 : int64_t(rs) >= 0;
    if (taken && t.cpu.next_pc == pc + 4)
      push(pc, pc + 4 + (uint64_t(int64_t(int16_t(insn & 0xffff))) << 2));
  } else if (opcode == 0 && fun == 0xc && t.regs[kRegV0] == sys::kClone &&
             t.regs[kRegA0] == kValidCloneFlags) {
    Frames& n = m_threads[s.next_thread_id];
    n = Frames{};
    n.caller.push_back(pc);
    n.target.push_back(t.cpu.next_pc);
  }
}

void GuestStackTracker::pop(Frames& f, const State& s, uint64_t pc) {
  if (f.target.empty()) {
    // The reference prints this with the step counter already advanced for this step.
    std::fflush(stderr);
    std::printf("ERROR: stack underflow at pc=%" PRIx64 ". step=%" PRIu64 "\n", pc, s.step + 1);
    std::fflush(stdout);
    return;
  }
  const std::string fn = m_meta.lookup(pc);
  if (m_meta.lookup(f.target.back()) == fn) {
    f.target.pop_back();
    f.caller.pop_back();
    return;
  }
  // Most likely an inlined function: snap back to the newest frame in the function returning.
  for (size_t i = f.target.size(); i-- > 0;) {
    if (m_meta.lookup(f.target[i]) == fn) {
      f.target.resize(i);
      f.caller.resize(i);
      return;
    }
  }
}

StepStatus GuestStackTracker::run_until(Vm& vm, uint64_t target, bool stop_on_preimage) {
  State& s = vm.state();
  StepStatus st = StepStatus::kOk;
  while (!s.exited && s.step < target) {
    before_step(s);
    st = vm.step();
    if (st != StepStatus::kOk || (stop_on_preimage && vm.last_step_read_preimage())) break;
  }
  return st;
}

void GuestStackTracker::traceback(const State& s, std::FILE* out) {
  const uint64_t pc = s.active().empty() ? 0 : s.current().cpu.pc;
  std::fflush(stderr);
  std::fprintf(out, "traceback at pc=%" PRIx64 ". step=%" PRIu64 "\n", pc, s.step);
  if (!s.active().empty()) {
    const Frames& f = m_threads[s.current().id];
    for (size_t i = f.target.size(); i-- > 0;) {
      std::fprintf(out, "\t%zu %" PRIx64 " in %s caller=%08" PRIx64 "\n", f.target.size() - i - 1,
                   f.target[i], m_meta.lookup(f.target[i]).c_str(), f.caller[i]);
    }
  }
  std::fflush(out);
}

}  // namespace cb::cli
