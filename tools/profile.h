// `cannonball profile`: exact step counts per guest function, per thread, and per call stack.
//
// Every step is attributed, none is sampled: the profiler is a StepObserver (jit/engine.h) of
// the JIT engine, which then runs unchained (one compiled block per entry) and reports each
// block it ran with the number of its steps that ran, and each step the interpreter takes;
// with the JIT off, the same observer sees every interpreter step. A step is attributed to
// the function holding the pc of the instruction it executed (symbols from meta.json or the
// ELF); steps that execute no instruction are the VM's own: "[vm: preempt]" (a forced thread
// switch after kSchedQuantum steps) and "[vm: pop exited thread]".
//
// Inclusive counts come from a shadow call stack per VM thread, kept from the instructions
// executed: a jal/jalr/bal (taken) pushes a frame (its return address, pc + 8) once its delay
// slot ran; a `jr $ra` pops back to the frame whose return address it jumps to (none: it is
// treated as a jump, e.g. Go's gogo). Exact for code that calls and returns (C, most of Go);
// approximate where control moves otherwise: Go's goroutine switches and stack growth
// (morestack/newstack/gogo) run on the same VM thread, so their frames appear under whatever
// stack that thread had; tail calls (j, jr $t9) replace the leaf, as a real stack would.
// Self counts never depend on this. Limits: 1024 frames deep per thread, 2^22 distinct
// stacks (deeper calls and new stacks beyond are folded into their caller's frame).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "interp/elf_loader.h"
#include "interp/vm.h"

namespace cb {

struct ProfileOptions {
  bool jit = true;
  uint64_t stop_at = ~uint64_t{0};  // stop before this step (state.step == stop_at)
};

struct FunctionProfile {
  std::string name;
  uint64_t self = 0, inclusive = 0;
};
struct ThreadProfile {
  uint64_t id = 0, steps = 0;
};

struct ProfileResult {
  uint64_t start_step = 0, end_step = 0;  // state.step before and after the run
  uint64_t attributed = 0;                // sum of all self counts (= end_step - start_step)
  StepStatus status = StepStatus::kOk;
  std::vector<FunctionProfile> functions;  // by self steps, descending (ties: by name)
  std::vector<ThreadProfile> threads;      // by thread id
  // "caller;...;leaf" -> steps, sorted by stack text (the folded format of flamegraph.pl).
  std::vector<std::pair<std::string, uint64_t>> folded;
};

// Runs `vm` (its state as given) until it exits, panics, or reaches options.stop_at.
ProfileResult profile_run(Vm& vm, const Metadata& symbols, const ProfileOptions& options);

// Output formats.
std::string profile_table(const ProfileResult& r, size_t max_rows);         // sorted text table
std::string profile_folded(const ProfileResult& r);                         // "a;b;c 123\n" lines
std::string profile_svg(const ProfileResult& r, const std::string& title);  // flame graph
std::string profile_pprof(const ProfileResult& r);  // pprof profile.proto, not yet gzipped

}  // namespace cb
