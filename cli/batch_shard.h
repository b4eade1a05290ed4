// Sharded batch proofs across processes and machines (scheduler/shard.h):
//   prove ... --shard K/N [--batch-dir B]    one shard of a prove (called from prove_main)
//   batch run --jobs FILE --shard K/N --batch-dir B    one shard of a jobs file
//   batch status --batch-dir B               what is complete, what is missing, by shard
//   batch merge --batch-dir B                checks completeness, writes the hashes in order
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "scheduler/run_session.h"
#include "scheduler/shard.h"

namespace cb::cli {

struct ShardRunOptions {
  std::string batch_dir;
  ShardId shard;
  unsigned threads = 0;
  bool jit = true;
  uint64_t proof2_window = kProof2Window;  // scheduler/run_session.h
  double progress_seconds = 2;
  std::vector<std::string> host;  // pre-image server command (empty: none)
  // Where the proof of `step` of job `job` goes.
  std::function<std::string(uint32_t job, uint64_t step)> proof_path;
};

// Plans (or joins the plan in batch_dir) and runs shard `options.shard`: the units assigned to
// it that are not complete yet. Returns the exit code (errors reported).
int run_batch_shard(const std::string& kind, std::vector<BatchJob> jobs,
                    const ShardRunOptions& options);

// `cannonball batch run|status|merge`; argv starts at "batch".
int batch_main(int argc, char** argv);

}  // namespace cb::cli
