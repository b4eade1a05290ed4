// Batch jobs on a recorded trace: proofs and state hashes at many steps, each reached from
// the nearest earlier checkpoint by fast-forward (Executor: JIT when built, else the
// interpreter) and, for a proof, one canonical step on a fresh Vm with a current second slot
// (scheduler/run_session.h prove_step), so the proof is byte-identical to a single-proof `run`.
// Steps are grouped by checkpoint; groups run in parallel as TBB tasks, and within a group
// the requested steps are visited in order by one forward run.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "interp/vm.h"
#include "scheduler/checkpoint.h"
#include "scheduler/run_session.h"

namespace cb {

// Makes one PreimageOracle usable from many threads: requests are serialized, and every
// pre-image is cached by key (a replay from a checkpoint asks again for what an earlier
// replay read). Hints are forwarded under the same lock.
class SharedOracle final : public PreimageOracle {
 public:
  explicit SharedOracle(PreimageOracle* inner) : m_inner(inner) {}
  void hint(std::span<const uint8_t> hint) override;
  std::vector<uint8_t> get_preimage(const Hash32& key) override;
  PreimageOracle* get() { return m_inner ? this : nullptr; }  // null when there is no host

 private:
  struct KeyHash {
    size_t operator()(const Hash32& k) const {
      size_t h;
      std::memcpy(&h, k.data() + 24, sizeof h);
      return h;
    }
  };
  PreimageOracle* m_inner;
  std::mutex m_mu;
  std::unordered_map<Hash32, std::vector<uint8_t>, KeyHash> m_cache;
};

struct StepRequest {
  uint64_t step = 0;
  bool proof = false;  // the proof of step -> step+1
  bool hash = false;   // the state hash at step (before executing it)
};

struct StepResult {
  uint64_t step = 0;
  bool proof = false, hash = false;
  Hash32 state_hash{};  // hash at `step`
  StepWitness witness;  // when proof
  Hash32 post_hash{};   // when proof: hash at step + 1
  std::string error;    // non-empty: this request failed (past the end, guest panic, oracle)
};

struct JobOptions {
  unsigned threads = 0;  // 0: TBB's default
  bool jit = true;
  uint64_t proof2_window = kProof2Window;  // scheduler/run_session.h
};

struct JobStats {
  uint64_t steps_executed = 0;  // fast-forward plus proof steps, all tasks
  uint64_t groups = 0;
  double seconds = 0;
};

// Where a job's states come from: the latest checkpoint at or before a step (thread-safe).
using CheckpointLookup = std::function<CheckpointPtr(uint64_t step)>;

// Runs the requests (any order; the same step may be both proved and hashed). `done` is
// called once per request as it completes, from worker threads but never concurrently.
JobStats run_step_jobs(const std::vector<StepRequest>& requests, const CheckpointLookup& lookup,
                       PreimageOracle* oracle, const JobOptions& options,
                       const std::function<void(StepResult&&)>& done);

}  // namespace cb
