// `run --debug`: the guest call stacks the reference keeps in debug mode (its stack trackers,
// cannon/mipsevm/exec/stack.go and multithreaded/stack.go), one per thread, printed as a
// traceback of the running thread at the end of the run with the --meta symbols:
//   traceback at pc=<pc hex>. step=<step>
//   \t<depth> <call target hex> in <symbol> caller=<caller pc, %08x>
// What it tracks, as the reference does: j, jal, jalr and a taken bltzal/bgezal push (caller
// pc, target); jr pops (when the symbol of the jr's pc is not the top frame's, the stack
// snaps back to the newest frame in that function: an inlined return); clone starts the new
// thread's stack with (pc, next_pc) of the syscall; popping an exited thread drops its stack.
// A jr on an empty stack prints "ERROR: stack underflow at pc=<hex>. step=<n>" on stdout, as
// the reference does. The steps run on the interpreter one at a time (debug mode only).
#pragma once
#include <cstdint>
#include <cstdio>
#include <unordered_map>
#include <vector>

#include "interp/elf_loader.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "scheduler/run_session.h"

namespace cb::cli {

class GuestStackTracker final : public StepDriver {
 public:
  explicit GuestStackTracker(const Metadata& meta) : m_meta(meta) {}
  // Call before every step, with the state the step starts from.
  void before_step(const State& s) override;
  // Steps `vm` one step at a time (before_step each) to `target`, an exit or a panic; with
  // stop_on_preimage also right after a step that read a pre-image (Executor::run_until's rules).
  StepStatus run_until(Vm& vm, uint64_t target, bool stop_on_preimage) override;
  // The reference's Traceback() of the running thread.
  void traceback(const State& s, std::FILE* out);

 private:
  struct Frames {
    std::vector<uint64_t> target, caller;
  };
  void pop(Frames& f, const State& s, uint64_t pc);
  const Metadata& m_meta;
  std::unordered_map<uint64_t, Frames> m_threads;
};

}  // namespace cb::cli
