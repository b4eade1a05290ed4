#include "scheduler/executor.h"

#ifdef CB_HAVE_JIT
#include "jit/engine.h"
#endif

namespace cb {

void JitEngineDeleter::operator()(JitEngine* e) const {
#ifdef CB_HAVE_JIT
  delete e;
#else
  (void)e;
#endif
}

bool jit_available() {
#ifdef CB_HAVE_JIT
  return true;
#else
  return false;
#endif
}

Executor::Executor(Vm& vm, ExecutorOptions options) : m_vm(vm) {
#ifdef CB_HAVE_JIT
  if (options.jit) {
    m_jit.reset(new JitEngine(vm));
    if (options.jit_stats) m_jit->set_stats(true);
  }
#else
  (void)options;
#endif
}

Executor::~Executor() = default;

uint64_t Executor::jit_steps() const {
#ifdef CB_HAVE_JIT
  return m_jit ? m_jit->compiled_steps() : 0;
#else
  return 0;
#endif
}

std::string Executor::jit_stats_report() const {
#ifdef CB_HAVE_JIT
  if (m_jit) return m_jit->stats_report();
#endif
  return "jit-stats: the JIT is off\n";
}

StepStatus Executor::run_until(uint64_t target, bool stop_on_preimage) {
  State& s = m_vm.state();
  StepStatus st = StepStatus::kOk;
  while (!s.exited && s.step < target) {
    if (stop_on_preimage) {
      st = m_vm.step();
      if (st != StepStatus::kOk || m_vm.last_step_read_preimage()) return st;
      continue;
    }
#ifdef CB_HAVE_JIT
    if (m_jit) {
      st = m_jit->run(target);
      if (st != StepStatus::kOk) return st;
      continue;
    }
#endif
    m_vm.run(target - s.step, st);
    if (st != StepStatus::kOk) return st;
  }
  return st;
}

}  // namespace cb
