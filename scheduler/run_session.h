// A run session: the events of one run of the VM (stop, proof, snapshot, info, pre-image
// stops, batch sizing) and the one mechanism that makes a proof's second memory-proof slot
// right, whether the run started from a state file or from a checkpoint. `cannonball run`
// (cli/run.cpp: flags and printing) drives a RunSession; trace, prove, bisect and window use
// its Proof2Keeper and prove_step() for every checkpoint and proof they make.
//
// The second slot. The reference's memory tracker computes the SECOND data proof on every
// clock_gettime step (exec/memory.go TrackMemAccess2 ignores memProofEnabled), so a proof
// step that does not touch that slot repeats the proof taken at the last clock_gettime
// (interp/vm.h set_track_proof2_from). Taking that proof at every clock_gettime costs
// ~4-5x on a JIT run of `compute`, so a run takes it only in the last `window` steps before
// a step that needs the slot (a proof, a checkpoint): Proof2Keeper::aim(). When the last
// clock_gettime came earlier, make_current() re-runs from the run's origin (a checkpoint, or
// the input state reloaded) to exactly that clock_gettime with tracking on, on a separate Vm
// (guest output discarded, statistics and first slot untouched), and copies the slot back.
// Exact either way; the window only trades tracking cost against re-run cost.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "interp/vm.h"
#include "scheduler/checkpoint.h"
#include "scheduler/executor.h"
#include "scheduler/step_pattern.h"

namespace cb {

// Steps before a proof or checkpoint in which clock_gettime memory proofs are taken.
// 2^20: at JIT speed well under a second of tracking per proof or checkpoint, while Go guests
// read the clock far more often than once per 2^20 steps, so re-runs are rare. Tests pass a
// small window (the hidden --proof2-window flag, or the options below) to force re-runs.
inline constexpr uint64_t kProof2Window = uint64_t{1} << 20;

// Where a run started: what a re-run for the second slot starts from.
struct RunOrigin {
  uint64_t step = 0;
  std::function<State()> restore;  // a fresh, private copy of the state at `step`
  MemProof proof2{};               // the second slot at `step` (current there)
  static RunOrigin of(const CheckpointPtr& checkpoint);
};

// Keeps the second memory-proof slot of Vms that run from one origin current where needed.
class Proof2Keeper {
 public:
  Proof2Keeper(RunOrigin origin, PreimageOracle* oracle, bool jit, uint64_t window = kProof2Window);

  // Loads the origin's slot into a Vm whose state was just restored from the origin.
  void start(Vm& vm) const { vm.set_proof2_slot(m_origin.proof2); }
  // The next step at which `vm` needs a current slot is `target`: track from target - window.
  void aim(Vm& vm, uint64_t target) const;
  // No step ahead needs the slot: track nothing.
  static void aim_nowhere(Vm& vm) { vm.set_track_proof2_from(~uint64_t{0}); }
  // Makes vm.proof2_slot() current for `vm`, which ran from the origin (re-running when the
  // last clock_gettime predates the window). Throws std::runtime_error on failure.
  void make_current(Vm& vm);

  uint64_t window() const { return m_window; }
  uint64_t rerun_steps() const { return m_rerun_steps; }  // steps executed by re-runs
  PreimageOracle* oracle() const { return m_oracle; }
  bool jit() const { return m_jit; }

 private:
  RunOrigin m_origin;
  PreimageOracle* m_oracle;
  bool m_jit;
  uint64_t m_window;
  uint64_t m_rerun_steps = 0;
};

// The proof of step vm.state().step -> +1 into `w`, with a current second slot. With
// `fresh_first_slot` the step runs on a new Vm over the same state (first slot zero and an
// empty pre-image cache, as in a single-proof run: what prove and bisect write); otherwise on
// `vm` itself (a run with several proof steps keeps its first slot, as the reference does).
// On kPanic, *panic (when given) holds the VM's message.
StepStatus prove_step(Vm& vm, Proof2Keeper& keeper, bool fresh_first_slot, StepWitness& w,
                      std::string* panic = nullptr);

// --stop-at-preimage / --stop-at-preimage-type / --stop-at-preimage-larger-than, parsed.
struct PreimageStop {
  bool any = false;             // type "any": the first pre-image read
  std::vector<uint8_t> prefix;  // key prefix (the type byte, or --stop-at-preimage's key)
  uint64_t offset = 0;          // --stop-at-preimage's @offset ...
  uint64_t from_step = 0;       // ... and @step
  int64_t larger_than = 0;      // 0: off
  bool enabled() const { return any || !prefix.empty() || larger_than != 0; }
};

// Which of the reference's pre-image stop rules ended the run.
struct PreimageStopHit {
  enum class Rule : uint8_t { kAny, kPrefixAndSize, kPrefixAtOffset, kSize };
  Rule rule = Rule::kAny;
  uint64_t size = 0, offset = 0, step = 0;  // of the read (step: the step that read it)
};

struct RunPlan {
  StepPattern stop_at, proof_at, snapshot_at, info_at;
  PreimageStop preimage_stop;
  ExecutorOptions exec;
  uint64_t proof2_window = kProof2Window;
};

// Runs the plain steps instead of the Executor (run --debug: the guest call-stack tracker,
// one interpreted step at a time).
class StepDriver {
 public:
  virtual ~StepDriver() = default;
  virtual void before_step(const State& s) = 0;  // before a proof step
  virtual StepStatus run_until(Vm& vm, uint64_t target, bool stop_on_preimage) = 0;
};

// What the caller does at each event, in the reference's order for step N: info(N),
// the stop check, snapshot(N) with the state before the step, then the proof step (proof(N)
// with the state after it) or plain steps (progress() after each batch).
class RunEvents {
 public:
  virtual ~RunEvents() = default;
  virtual bool interrupted() { return false; }  // polled once per event or batch
  virtual void info(uint64_t /*step*/) {}
  virtual void snapshot(uint64_t /*step*/) {}
  virtual void proof(uint64_t /*step*/, const StepWitness& /*w*/) {}
  // Before proof step `step`, the second slot is stale: a re-run from the origin to the
  // clock_gettime at `clock_gettime_step` follows (Proof2Keeper::make_current).
  virtual void proof2_rerun(uint64_t /*step*/, uint64_t /*clock_gettime_step*/) {}
  virtual void progress() {}
};

struct RunResult {
  enum class End : uint8_t { kExited, kStopAt, kPreimageStop, kPanic, kOracleError, kInterrupted };
  End end = End::kExited;
  PreimageStopHit preimage;    // kPreimageStop
  uint64_t fail_step = 0;      // kPanic / kOracleError: the step being executed
  bool fail_in_proof = false;  // ... and it was a proof step
  std::string error;           // kPanic: the VM's message; kOracleError: the oracle's
};

class RunSession {
 public:
  // `vm` runs on the state `origin` restores (the run's input); `driver` may be null.
  RunSession(Vm& vm, RunPlan plan, RunOrigin origin, PreimageOracle* oracle,
             StepDriver* driver = nullptr);
  // Runs to an exit, a stop or a failure. Exceptions from `events` pass through.
  RunResult run(RunEvents& events);
  Executor& executor() { return m_exec; }
  const RunPlan& plan() const { return m_plan; }

 private:
  bool preimage_stop(PreimageStopHit& hit) const;

  Vm& m_vm;
  RunPlan m_plan;
  Proof2Keeper m_keeper;
  StepDriver* m_driver;
  Executor m_exec;
  uint64_t m_batch = uint64_t{1} << 20;  // plain steps between two looks at the clock
};

}  // namespace cb
