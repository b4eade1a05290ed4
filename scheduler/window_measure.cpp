#include "scheduler/window_measure.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>
#include <vector>

#include "interp/vm.h"
#include "scheduler/checkpoint.h"
#include "scheduler/checkpoint_store.h"
#include "scheduler/executor.h"
#include "scheduler/run_session.h"

namespace cb::window {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Sample {
  double steps_per_s = 0;
  uint64_t steps = 0;
};

// Runs `steps` steps from a copy of `initial`.
Sample run_sample(const State& initial, uint64_t steps, bool jit, PreimageOracle* oracle) {
  State s = initial.clone();
  Vm vm(s, oracle, nullptr);
  Executor ex(vm, ExecutorOptions{jit});
  auto t = Clock::now();
  if (ex.run_until(s.step + steps) != StepStatus::kOk)
    throw std::runtime_error("the guest panicked during the sample: " + vm.panic_message());
  double secs = seconds_since(t);
  uint64_t done = s.step - initial.step;
  return {done / std::max(secs, 1e-9), done};
}

}  // namespace

Measurements measure(const State& initial, const MeasureOptions& opt, PreimageOracle* oracle) {
  if (opt.sample_steps == 0) throw std::runtime_error("--sample-steps must be positive");
  if (opt.checkpoint_every == 0) throw std::runtime_error("--checkpoint-every must be positive");
  Measurements meas;
  meas.guest = opt.guest;
  Sample interp = run_sample(initial, opt.sample_steps, false, oracle);
  meas.sample_steps = interp.steps;
  meas.modes.push_back({"interp", interp.steps_per_s, 0, 0, true});
  Sample jit{};
  if (jit_available()) {
    jit = run_sample(initial, opt.sample_steps, true, oracle);
    meas.modes.push_back({"jit", jit.steps_per_s, 0, 0, true});
  }

  // Checkpoint mode: the fastest engine, an in-memory checkpoint every `checkpoint_every`
  // steps, each also encoded for the on-disk store (incremental, zstd) to measure disk use.
  CheckpointSet set;
  State s = initial.clone();
  Vm vm(s, oracle, nullptr);
  Executor ex(vm, ExecutorOptions{jit_available()});
  uint64_t disk = 0;
  CheckpointPtr prev;
  auto t = Clock::now();
  double encode_secs = 0;
  while (!s.exited && s.step < initial.step + opt.sample_steps) {
    auto c = std::make_shared<const Checkpoint>(s);
    set.add(c);
    // The store encodes on a background thread during a real trace; its cost is timed
    // separately so the run-time overhead reported is the in-memory checkpoint's.
    auto te = Clock::now();
    disk += encode_checkpoint(*c, prev.get(), 3).size();
    encode_secs += seconds_since(te);
    prev = c;
    if (ex.run_until(std::min(s.step + opt.checkpoint_every, initial.step + opt.sample_steps)) !=
        StepStatus::kOk)
      throw std::runtime_error("the guest panicked during the sample: " + vm.panic_message());
  }
  double ck_secs = seconds_since(t) - encode_secs;
  uint64_t ck_steps = s.step - initial.step;
  double ck_rate = ck_steps / std::max(ck_secs, 1e-9);
  double base_rate = jit_available() ? jit.steps_per_s : interp.steps_per_s;
  meas.checkpoint_overhead_pct = 100.0 * (base_rate / ck_rate - 1.0);
  meas.checkpoint_disk_bytes = disk;

  // Prove random steps as prove does: restore the nearest checkpoint, fast-forward with the
  // second memory-proof slot tracked before the step, one recorded step.
  std::mt19937_64 rng(1);
  std::vector<double> prove;
  for (unsigned i = 0; i < opt.proofs && ck_steps > 1; ++i) {
    uint64_t step = initial.step + rng() % (ck_steps - 1);
    auto tp = Clock::now();
    CheckpointPtr c = set.at_or_before(step);
    State r = c->restore();
    Vm pvm(r, oracle, nullptr);
    Proof2Keeper keeper(RunOrigin::of(c), oracle, jit_available());
    keeper.start(pvm);
    keeper.aim(pvm, step);
    {
      Executor pex(pvm, ExecutorOptions{jit_available()});
      if (pex.run_until(step) != StepStatus::kOk)
        throw std::runtime_error("the guest panicked during the sample: " + pvm.panic_message());
    }
    StepWitness w;
    if (prove_step(pvm, keeper, true, w) != StepStatus::kOk)
      throw std::runtime_error("the guest panicked proving step " + std::to_string(step));
    (void)r.hash();
    prove.push_back(seconds_since(tp));
  }
  std::sort(prove.begin(), prove.end());
  double prove_median = prove.empty() ? 0 : prove[prove.size() / 2];
  meas.modes.push_back(
      {jit_available() ? "jit+checkpoints" : "interp+checkpoints", ck_rate, prove_median, 0, true});
  for (auto& m : meas.modes) m.prove_s = prove_median;  // every mode proves from checkpoints
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  meas.peak_rss_bytes = uint64_t(ru.ru_maxrss) * 1024;
  return meas;
}

}  // namespace cb::window
