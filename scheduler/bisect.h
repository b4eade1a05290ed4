// Bisection: the first step whose post-state differs between a recorded trace and another
// trace or a list of claimed state hashes, and the proof of that step.
//
// Assumption (the dispute game's): once two executions differ they stay different, so
// "agrees at step s" is monotone and binary search applies. Hashes known without executing
// (checkpoint headers, hashes.txt, the claims) narrow the interval first; the rest is
// binary search over the candidate steps (the claimed steps, or every step when both sides
// are traces), where each probe runs forward from the latest state already reached at or
// before it (disk checkpoints plus a copy-on-write snapshot kept at every probe), so the
// whole search executes about one checkpoint interval rather than a re-run from step 0.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb {

// One side of the comparison.
class BisectSide {
 public:
  virtual ~BisectSide() = default;
  // The hash at `step` if known without executing.
  virtual std::optional<Hash32> known(uint64_t step) = 0;
  // The hash at `step`, executing if needed (claims: only known steps). Throws on failure.
  virtual Hash32 hash_at(uint64_t step) = 0;
  virtual uint64_t steps_executed() const { return 0; }
};

// A recorded trace that can be re-executed from its checkpoints.
class TraceSide final : public BisectSide {
 public:
  TraceSide(TraceReader& trace, PreimageOracle* oracle, bool jit,
            uint64_t proof2_window = kProof2Window);
  std::optional<Hash32> known(uint64_t step) override;
  Hash32 hash_at(uint64_t step) override;
  uint64_t steps_executed() const override { return m_executed; }
  // The proof of step -> step+1, from the nearest state reached so far.
  StepResult prove(uint64_t step);
  // Hashes at many steps in one batch (prove's jobs: one forward run per checkpoint
  // interval); steps past the end of the trace are left out. Throws on a failed step.
  std::map<uint64_t, Hash32> hashes_at(const std::vector<uint64_t>& steps);
  TraceReader& trace() { return m_trace; }

 private:
  CheckpointPtr nearest(uint64_t step);
  TraceReader& m_trace;
  PreimageOracle* m_oracle;
  bool m_jit;
  uint64_t m_proof2_window;
  std::map<uint64_t, CheckpointPtr> m_snapshots;  // probes reached so far
  uint64_t m_executed = 0;
};

// Claimed hashes ("STEP HASH" lines); nothing can be executed.
class ClaimsSide final : public BisectSide {
 public:
  explicit ClaimsSide(std::map<uint64_t, Hash32> claims) : m_claims(std::move(claims)) {}
  std::optional<Hash32> known(uint64_t step) override;
  Hash32 hash_at(uint64_t step) override;
  const std::map<uint64_t, Hash32>& claims() const { return m_claims; }

 private:
  std::map<uint64_t, Hash32> m_claims;
};

struct BisectResult {
  enum class Outcome {
    kNoDifference,     // every compared step agrees
    kPrestateDiffers,  // the first step compared (the trace's start) already differs
    kFound,            // agree at differ_step - 1, differ at differ_step: proof written
    kGap,              // agree at agree_step, differ at differ_step, no candidate between
    // The other side breaks the assumption (once different, always different): it differs
    // at differ_step and agrees again at the later agree_step. No first difference exists.
    kInconsistent,
  };
  Outcome outcome = Outcome::kNoDifference;
  uint64_t agree_step = 0, differ_step = 0;
  Hash32 ours{}, theirs{};      // at differ_step
  uint64_t probes = 0;          // comparisons that executed
  uint64_t steps_executed = 0;  // both sides, proof included
  uint64_t naive_steps = 0;     // a re-run from the start to differ_step (or to the end)
  StepResult proof;             // kFound: the proof of differ_step - 1 -> differ_step
};

struct BisectOptions {
  // Called for each probe: step, our hash, theirs, whether they agree.
  std::function<void(uint64_t step, const Hash32& ours, const Hash32& theirs, bool agree)> on_probe;
};

// `ours` is re-executed and proved; `theirs` is another trace or claims. With claims, the
// candidate steps are the claimed ones; with two traces, every step.
// Consistency: every step both sides know for free is compared first; a difference followed by
// an agreement is kInconsistent. Before reporting kNoDifference on claims, every claim between
// the first and the last is compared (one forward pass over the trace at most); after a
// kFound/kGap, every later claim known for free must still differ.
BisectResult bisect(TraceSide& ours, BisectSide& theirs, const BisectOptions& options = {});

}  // namespace cb
