// The run-loop policy: advances a VM to a target step with the fastest engine that is exact
// for the range (compiled blocks when the JIT is on and a block fits before the target, the
// canonical interpreter otherwise). Events (stop, proof, snapshot, info) are the caller's:
// it asks run_until() for the next event step, so no engine ever runs past one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "interp/vm.h"

namespace cb {

class JitEngine;  // jit/engine.h; absent in interpreter-only builds
struct JitEngineDeleter {
  void operator()(JitEngine* e) const;
};

struct ExecutorOptions {
  bool jit = true;         // ignored (off) when the build has no JIT
  bool jit_stats = false;  // count exits, causes and time (JitEngine::set_stats)
};

class Executor {
 public:
  Executor(Vm& vm, ExecutorOptions options = {});
  ~Executor();

  // Steps until state.step == target, the VM exits or panics. When stop_on_preimage is set it
  // also returns right after any step that read a pre-image (for --stop-at-preimage).
  StepStatus run_until(uint64_t target, bool stop_on_preimage = false);
  bool jit_enabled() const { return m_jit != nullptr; }
  uint64_t jit_steps() const;  // steps executed by compiled code so far
  // JitEngine::stats_report() with jit_stats on; a one-line note otherwise.
  std::string jit_stats_report() const;

 private:
  Vm& m_vm;
  std::unique_ptr<JitEngine, JitEngineDeleter> m_jit;
};

// True when this build contains a JIT backend for the host.
bool jit_available();

}  // namespace cb
