// Traces: one run that records checkpoints and state hashes into a trace directory, and the
// reader that gives them back. Layout of a trace directory:
//   trace.json        what was run and how it ended (rewritten atomically at start and end)
//   hashes.txt        "STEP HASH" lines (decimal step, 0x-hex state hash before executing
//                     STEP), ascending, like the reference vectors' hashes.txt; appended
//                     and fsynced at every checkpoint (a killed run keeps every hash up
//                     to its last checkpoint; readers use it only once trace.json is
//                     complete)
//   ckpt-*.cbck       checkpoints (scheduler/checkpoint_store.h), one at the start step,
//                     every `checkpoint_every` steps, and one at the last step
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "interp/oracle.h"
#include "interp/state.h"
#include "scheduler/checkpoint_store.h"
#include "scheduler/run_session.h"

namespace cb {

// A set of steps: an explicit list, and/or every multiple of `every` in [every_from, every_to].
struct StepSelection {
  std::vector<uint64_t> list;  // any order; duplicates allowed
  uint64_t every = 0;          // 0: none
  uint64_t every_from = 0, every_to = UINT64_MAX;
  bool empty() const { return list.empty() && every == 0; }
  // The smallest selected step >= `step`, or UINT64_MAX when none (check contains()).
  uint64_t next_at_or_after(uint64_t step) const;
  bool contains(uint64_t step) const;
  void normalize();  // sorts and dedups `list`
};

// The steps whose claims a dispute game asks for at depth `depth` of an execution-trace
// sub-game of `max_depth` levels (positions (k+1)·2^(max_depth-depth) - 1, k < 2^depth,
// whose claims are the states after those trace indices: steps k·2^(max_depth-depth),
// k = 1..2^depth). Steps past the end of a trace are claimed as its final state.
StepSelection game_positions(unsigned depth, unsigned max_depth);

struct TraceOptions {
  uint64_t checkpoint_every = 100'000'000;
  StepSelection hash_at;
  uint64_t stop_at = UINT64_MAX;  // stop at this step (exclusive) even if the VM has not exited
  bool jit = true;
  uint64_t proof2_window = kProof2Window;  // scheduler/run_session.h
  CheckpointWriterOptions writer;
  std::string input_label;  // recorded in trace.json
  // Called about every `progress_seconds` (0: never) with the current step.
  std::function<void(uint64_t step, double steps_per_s)> progress;
  double progress_seconds = 5;
  std::function<void(int fd, const uint8_t*, size_t)> guest_output;  // null: discarded
};

struct TraceSummary {
  uint64_t start_step = 0, final_step = 0;
  Hash32 start_hash{}, final_hash{};
  bool exited = false;
  uint8_t exit_code = 0;
  bool panicked = false;
  std::string panic_message;
  uint64_t checkpoints = 0;
  uint64_t proof2_rerun_steps = 0;  // re-run to make a checkpoint's second proof slot current
  CheckpointWriterStats store;
  double seconds = 0;
};

// Runs `state` to its end (or options.stop_at), writing the trace directory `dir`.
// Throws CheckpointError / IoError / OracleError; a guest panic ends the trace normally with
// panicked set (the checkpoints before it stay usable).
TraceSummary record_trace(State state, PreimageOracle* oracle, const std::string& dir,
                          const TraceOptions& options);

// A recorded trace, for prove / bisect.
class TraceReader {
 public:
  explicit TraceReader(const std::string& dir);  // throws CheckpointError when unusable

  const std::string& dir() const { return m_dir; }
  CheckpointReader& checkpoints() { return m_ckpts; }
  bool complete() const { return m_complete; }  // trace.json says the run finished
  uint64_t start_step() const { return m_start_step; }
  // The last step of the trace (the final checkpoint's step); the state there is final.
  uint64_t final_step() const { return m_final_step; }
  bool exited() const { return m_exited; }
  // Hashes known without executing: hashes.txt and the checkpoint headers.
  const std::map<uint64_t, Hash32>& known_hashes() const { return m_known; }
  std::optional<Hash32> known_hash(uint64_t step) const;

 private:
  std::string m_dir;
  CheckpointReader m_ckpts;
  std::map<uint64_t, Hash32> m_known;
  bool m_complete = false, m_exited = false;
  uint64_t m_start_step = 0, m_final_step = 0;
};

// "STEP HASH" lines (hashes.txt, claims files). Throws IoError with the line number.
std::map<uint64_t, Hash32> read_step_hashes(const std::string& path);
bool parse_hash(const std::string& text, Hash32& out);

}  // namespace cb
