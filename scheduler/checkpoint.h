// In-memory checkpoints: a VM state frozen at some step, its memory shared copy-on-write
// with the live run (memory/memory.h: Memory::share), so taking one costs a Merkle flush
// plus one reference count per page, and keeping one costs only the pages written after it.
//
// A Checkpoint is immutable once taken; any number of threads may restore() it at the same
// time (each restore gets its own Memory whose pages are shared until written).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "interp/state.h"

namespace cb {

class Checkpoint {
 public:
  // Freezes `live` (flushes its Merkle caches, shares its pages). `live` stays usable.
  // `proof2` is the running Vm's second memory-proof slot (Vm::proof2_slot): VM state
  // outside State that a later proof may repeat (see interp/vm.h set_track_proof2_always).
  // `keep_tree` false: the checkpoint keeps no copy of the inner-node cache (most of its
  // cost at GiB scale); restore() then rebuilds the tree from the page roots (trace: its
  // checkpoints are written out and restored only to refresh the second proof slot).
  explicit Checkpoint(State& live, const MemProof& proof2 = MemProof{}, bool keep_tree = true);
  // From a complete state that nothing else references (checkpoint loading).
  static std::shared_ptr<const Checkpoint> adopt(State&& state,
                                                 const MemProof& proof2 = MemProof{});

  uint64_t step() const { return m_step; }
  const Hash32& hash() const { return m_hash; }  // state hash (witness hash) at step()
  bool exited() const { return m_meta.exited; }

  // A private, writable copy of the state (memory copy-on-write). Thread-safe.
  State restore() const;
  // Read-only views for writers (serialization): the state without memory, and the memory.
  const State& meta() const { return m_meta; }
  const Memory& memory() const { return *m_memory; }
  const MemProof& proof2() const { return m_proof2; }

 private:
  Checkpoint() = default;
  MemProof m_proof2{};
  State m_meta;                      // every field, with an empty Memory
  std::unique_ptr<Memory> m_memory;  // clean (Memory::clean()), never written to
  uint64_t m_step = 0;
  Hash32 m_hash{};
};

using CheckpointPtr = std::shared_ptr<const Checkpoint>;

// Checkpoints by step. Thread-safe.
class CheckpointSet {
 public:
  void add(CheckpointPtr c);
  // The checkpoint with the largest step <= `step`, or null.
  CheckpointPtr at_or_before(uint64_t step) const;
  CheckpointPtr exact(uint64_t step) const;
  std::vector<uint64_t> steps() const;
  size_t size() const;

 private:
  mutable std::mutex m_mu;
  std::map<uint64_t, CheckpointPtr> m_by_step;
};

// A copy of everything in `s` except its memory (which is left empty). Cheap.
State clone_without_memory(const State& s);

}  // namespace cb
