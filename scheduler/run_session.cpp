#include "scheduler/run_session.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace cb {

RunOrigin RunOrigin::of(const CheckpointPtr& checkpoint) {
  RunOrigin o;
  o.step = checkpoint->step();
  o.restore = [checkpoint] { return checkpoint->restore(); };
  o.proof2 = checkpoint->proof2();
  return o;
}

Proof2Keeper::Proof2Keeper(RunOrigin origin, PreimageOracle* oracle, bool jit, uint64_t window)
    : m_origin(std::move(origin)), m_oracle(oracle), m_jit(jit), m_window(window) {}

void Proof2Keeper::aim(Vm& vm, uint64_t target) const {
  vm.set_track_proof2_from(target > m_window ? target - m_window : 0);
}

void Proof2Keeper::make_current(Vm& vm) {
  if (vm.proof2_current()) return;
  const uint64_t t = vm.last_track2_step();  // state.step after that clock_gettime step
  if (t <= m_origin.step)
    throw std::runtime_error("internal error: stale proof slot predates its origin");
  State s = m_origin.restore();
  Vm v(s, m_oracle, [](int, const uint8_t*, size_t) {});
  v.set_proof2_slot(m_origin.proof2);
  v.set_track_proof2_from(t);
  StepStatus st;
  {
    Executor e(v, ExecutorOptions{m_jit});
    st = e.run_until(t);
  }
  m_rerun_steps += s.step - m_origin.step;
  if (st != StepStatus::kOk || s.step != t || !v.proof2_current() || v.last_track2_step() != t)
    throw std::runtime_error("re-running to the clock_gettime of step " + std::to_string(t) +
                             " failed" +
                             (v.panic_message().empty() ? "" : ": " + v.panic_message()));
  vm.set_proof2_slot(v.proof2_slot());
}

StepStatus prove_step(Vm& vm, Proof2Keeper& keeper, bool fresh_first_slot, StepWitness& w,
                      std::string* panic) {
  keeper.make_current(vm);
  if (!fresh_first_slot) {
    StepStatus st = vm.step_with_proof(w);
    if (st != StepStatus::kOk && panic) *panic = vm.panic_message();
    return st;
  }
  Vm pv(vm.state(), keeper.oracle(), [](int, const uint8_t*, size_t) {});
  pv.set_proof2_slot(vm.proof2_slot());
  StepStatus st = pv.step_with_proof(w);
  vm.set_proof2_slot(pv.proof2_slot());
  if (st != StepStatus::kOk && panic) *panic = pv.panic_message();
  return st;
}

RunSession::RunSession(Vm& vm, RunPlan plan, RunOrigin origin, PreimageOracle* oracle,
                       StepDriver* driver)
    : m_vm(vm),
      m_plan(std::move(plan)),
      m_keeper(std::move(origin), oracle, m_plan.exec.jit, m_plan.proof2_window),
      m_driver(driver),
      m_exec(vm, m_plan.exec) {}

// The reference's checks after a step that read a pre-image (cannon/cmd/run.go), in its order.
bool RunSession::preimage_stop(PreimageStopHit& hit) const {
  const PreimageStop& ps = m_plan.preimage_stop;
  const Hash32& key = m_vm.last_preimage_key();
  const int64_t size = int64_t(m_vm.last_preimage().size());
  hit.size = uint64_t(size);
  hit.offset = m_vm.last_preimage_offset();
  hit.step = m_vm.state().step - 1;
  if (ps.any) {
    hit.rule = PreimageStopHit::Rule::kAny;
    return true;
  }
  const bool prefix_ok = !ps.prefix.empty() && ps.prefix.size() <= key.size() &&
                         std::equal(ps.prefix.begin(), ps.prefix.end(), key.begin());
  const bool size_ok = ps.larger_than != 0 && size > ps.larger_than;
  if (prefix_ok && size_ok) {
    hit.rule = PreimageStopHit::Rule::kPrefixAndSize;
    return true;
  }
  if (prefix_ok && ps.larger_than == 0 && ps.offset == hit.offset && hit.step >= ps.from_step) {
    hit.rule = PreimageStopHit::Rule::kPrefixAtOffset;
    return true;
  }
  if (size_ok && ps.prefix.empty()) {
    hit.rule = PreimageStopHit::Rule::kSize;
    return true;
  }
  return false;
}

// Steps run between two looks at the clock / the interrupt flag: adapted so that a batch
// takes roughly 10-50 ms whatever the engine's speed.
constexpr uint64_t kMinBatch = uint64_t{1} << 14, kMaxBatch = uint64_t{1} << 28;

RunResult RunSession::run(RunEvents& events) {
  using Clock = std::chrono::steady_clock;
  const RunPlan& p = m_plan;
  State& state = m_vm.state();
  const bool stop_on_preimage = p.preimage_stop.enabled();
  RunResult res;
  try {
    while (!state.exited) {
      if (events.interrupted()) {
        res.end = RunResult::End::kInterrupted;
        return res;
      }
      const uint64_t step = state.step;
      if (p.info_at.matches(step)) events.info(step);
      if (p.stop_at.matches(step)) {
        res.end = RunResult::End::kStopAt;
        return res;
      }
      if (p.snapshot_at.matches(step)) events.snapshot(step);
      res.fail_step = step;
      // Track the second slot only within the window before the next proof step.
      const uint64_t next_proof = p.proof_at.next_match(step);
      if (next_proof == StepPattern::kNoMatch && !p.proof_at.matches(next_proof))
        Proof2Keeper::aim_nowhere(m_vm);
      else
        m_keeper.aim(m_vm, next_proof);
      StepStatus st;
      if (p.proof_at.matches(step)) {
        res.fail_in_proof = true;
        StepWitness w;
        if (m_driver) m_driver->before_step(state);
        if (!m_vm.proof2_current()) events.proof2_rerun(step, m_vm.last_track2_step() - 1);
        st = prove_step(m_vm, m_keeper, false, w);
        if (st == StepStatus::kOk) events.proof(step, w);
      } else {
        res.fail_in_proof = false;
        const uint64_t next = std::min(
            {p.stop_at.next_match(step + 1), p.snapshot_at.next_match(step + 1),
             p.proof_at.next_match(step + 1), p.info_at.next_match(step + 1), step + m_batch});
        const auto t0 = Clock::now();
        st = m_driver ? m_driver->run_until(m_vm, next, stop_on_preimage)
                      : m_exec.run_until(next, stop_on_preimage);
        if (next == step + m_batch && state.step == next) {
          const auto took = Clock::now() - t0;
          if (took < std::chrono::milliseconds(10))
            m_batch = std::min(m_batch * 2, kMaxBatch);
          else if (took > std::chrono::milliseconds(50))
            m_batch = std::max(m_batch / 2, kMinBatch);
        }
        if (st != StepStatus::kOk) res.fail_step = state.step - 1;
        events.progress();
      }
      if (st != StepStatus::kOk) {
        res.end = RunResult::End::kPanic;
        res.error = m_vm.panic_message();
        return res;
      }
      if (stop_on_preimage && m_vm.last_step_read_preimage() && preimage_stop(res.preimage)) {
        res.end = RunResult::End::kPreimageStop;
        return res;
      }
    }
  } catch (const OracleError& e) {
    // The step that made the request (the VM counts a step before executing it).
    if (state.step > res.fail_step) res.fail_step = state.step - 1;
    res.end = RunResult::End::kOracleError;
    res.error = e.what();
    return res;
  }
  res.end = RunResult::End::kExited;
  return res;
}

}  // namespace cb
