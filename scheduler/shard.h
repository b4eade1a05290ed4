// Batch work split into shards that independent processes (Slurm array tasks, Kubernetes
// Indexed Job pods, plain shell loops on several machines) run against one shared, immutable
// trace store, then merged.
//
// The unit of work is a *unit*: the requested steps of one job (a trace directory, or a state
// file that is its own only checkpoint) that start from the same checkpoint, i.e. lie in
// [from, to) between two consecutive checkpoints. One forward run from `from` visits them all,
// so a unit costs about (its last step - from) fast-forward steps; units never split.
// Units are assigned to shards by longest-processing-time-first on that cost (ties broken by
// job and step, then by the lowest shard index), so every process that plans the same inputs
// gets the same assignment.
//
// Batch directory (shared between the shards):
//   plan.json                         the jobs and the units with their shard (written once,
//                                     by whichever shard comes first, with link(2) so it is
//                                     never replaced; later shards check their inputs against it
//                                     and run its assignment)
//   units/unit-<job>-<from>.txt       one unit's results, written atomically (temp + rename)
//                                     after all of its proof files are in place; a unit is
//                                     complete when this file exists and names proof files
//                                     that exist. Rerunning a shard skips its complete units.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "interp/state.h"

namespace cb {

struct ShardId {
  uint32_t index = 0, count = 1;  // 0 <= index < count
};
// "K/N" with 0 <= K < N <= 100000. Throws std::runtime_error naming the text.
ShardId parse_shard(const std::string& text);

struct BatchJob {
  std::string source;                    // trace directory, or state file (.bin / .bin.gz)
  bool trace = true;                     // false: `source` is a state file
  std::vector<uint64_t> proofs, hashes;  // ascending, unique
  std::string proof_fmt;                 // where the proofs go (pattern with %d)
  bool operator==(const BatchJob&) const = default;
};

struct BatchUnit {
  uint32_t job = 0;
  uint64_t from = 0;                // the checkpoint all of the unit's steps start from
  uint64_t to = UINT64_MAX;         // exclusive: the next checkpoint's step (UINT64_MAX: none)
  uint64_t proofs = 0, hashes = 0;  // how many requests of each kind lie in [from, to)
  uint64_t cost = 0;                // (last step - from) + kBatchItemCost per request
  uint32_t shard = 0;
};

// A request's own cost in fast-forward steps (restore, proof, write): small next to a
// checkpoint interval, it only separates units that need no fast-forward at all.
constexpr uint64_t kBatchItemCost = 1'000'000;

struct BatchPlan {
  // "prove": one job from `prove --shard`; "jobs": a jobs file; "window": a window sweep
  // (each job's source is one `window` command line, one unit per job, no steps).
  std::string kind = "prove";
  uint32_t shards = 1;
  std::vector<BatchJob> jobs;
  std::vector<BatchUnit> units;  // ordered by (job, from)

  std::string to_json() const;
  // Throws std::runtime_error naming `name` when the text is not a valid plan.
  static BatchPlan from_json(const std::string& text, const std::string& name);
  bool same_inputs(const BatchPlan& o) const {
    return kind == o.kind && shards == o.shards && jobs == o.jobs;
  }
};

// The units of every job (`checkpoints[j]`: the checkpoint steps of job j, ascending), each
// assigned to a shard. Throws std::runtime_error when a requested step has no checkpoint at
// or before it.
BatchPlan make_batch_plan(std::string kind, std::vector<BatchJob> jobs,
                          const std::vector<std::vector<uint64_t>>& checkpoints, uint32_t shards);
// Longest-processing-time-first assignment of units to `shards` shards (deterministic).
void assign_shards(std::vector<BatchUnit>& units, uint32_t shards);

// The requested steps of a unit: those of `job` in [unit.from, unit.to).
std::vector<uint64_t> unit_steps(const std::vector<uint64_t>& steps, const BatchUnit& unit);

// Writes `dir`/plan.json from `plan` if it is absent (never replacing one another process
// wrote), else reads it and checks it was made for the same inputs. Returns the plan to run:
// the one on disk. Throws std::runtime_error / IoError.
BatchPlan establish_batch_plan(const std::string& dir, const BatchPlan& plan);
// Reads `dir`/plan.json. Throws.
BatchPlan read_batch_plan(const std::string& dir);

// What a finished unit produced.
struct UnitResult {
  std::map<uint64_t, Hash32> hashes;       // requested state hashes
  std::map<uint64_t, std::string> proofs;  // proved step -> proof file written
  std::vector<std::string> files;          // other outputs (a window sweep's report)
};
std::string unit_result_path(const std::string& dir, const BatchUnit& unit);
// Atomic (temp + rename, fsynced).
void write_unit_result(const std::string& dir, const BatchUnit& unit, const UnitResult& r);
// The unit's results if it is complete (its file exists, is well-formed, holds every
// requested step, and every proof or other file it names exists); nullopt otherwise.
std::optional<UnitResult> read_unit_result(const std::string& dir, const BatchPlan& plan,
                                           const BatchUnit& unit);

struct BatchProgress {
  struct Shard {
    uint64_t units = 0, complete = 0;
    uint64_t proofs = 0, hashes = 0;                  // requested
    uint64_t missing_proofs = 0, missing_hashes = 0;  // in incomplete units
  };
  std::vector<Shard> shards;                 // by index
  std::vector<const BatchUnit*> incomplete;  // into plan.units
  bool done() const { return incomplete.empty(); }
};
BatchProgress batch_progress(const std::string& dir, const BatchPlan& plan);

}  // namespace cb
