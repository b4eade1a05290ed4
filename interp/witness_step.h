// Verifying a step from its witness alone, the way the on-chain MIPS64.step does: the pre-state
// is only the 188-byte state witness, the active thread with the root of the rest of its stack,
// and up to three memory proofs (instruction, data, second data). Memory is read and written
// only through those proofs, and the thread stacks only through their roots, while the step
// itself is the interpreter's own (Vm::step_from_witness runs the one step function with the
// witness-only policy). Facts from MIPS64.sol (okx/optimism packages/contracts-bedrock/src/
// cannon/): the instruction proof opens at pc against the pre-state root; the first data proof
// at the step's data word against the same root, and after a write the new root is computed
// from that proof's siblings; the second data proof (clock_gettime's nanoseconds word) opens
// against the root left by the first write; a proof slot the step does not use is not read.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "interp/state.h"
#include "interp/vm.h"

namespace cb {

// The root of the memory tree that `proof` (leaf + 59 siblings, bottom-up) proves for the
// 32-byte leaf holding `addr` (MIPS64Memory's proof walk: bit i of addr >> 5 says whether the
// node at height i is a right child).
Hash32 mem_proof_root(std::span<const uint8_t, kMemProofSize> proof, uint64_t addr);

// The pre-state as a step witness shows it, and what the step does to it.
class WitnessView {
 public:
  // `proofs`: the three memory proofs, 3 x kMemProofSize bytes (must outlive the view).
  WitnessView(const Hash32& mem_root, const uint8_t* proofs, const Thread& top, const Hash32& inner,
              const Hash32& left_root, const Hash32& right_root, bool top_on_right);

  // Memory. fetch() opens proof 0 at pc and returns the instruction; open() binds data proof
  // `slot` (1 or 2) to the word at addr, checking it against the current root; get_word and
  // set_word act on the leaf of the proof opened last (a write recomputes the root from it).
  // A failed check is recorded (failure()) and the access reads 0 / is dropped: the step's
  // result is then meaningless and the caller reports the failure instead.
  uint32_t fetch(uint64_t pc);
  void open(unsigned slot, uint64_t addr);
  uint64_t get_word(uint64_t addr);
  void set_word(uint64_t addr, uint64_t v);
  const Hash32& mem_root() const { return m_root; }
  bool used(unsigned slot) const { return m_slots[slot].bound; }

  // Thread stacks: the active thread (from the witness) stays on top of its stack until the
  // step removes it (exited thread), moves it to the other stack (preemption) or pushes a new
  // thread above it (clone); after that it is frozen.
  Thread& top() { return m_top; }
  bool stack_empty(bool right) const;
  bool last_thread() const;  // the active thread is the only one (sys_exit)
  void remove_top();
  void move_top_to_other();
  void push_above_top(const Thread& t);
  Hash32 stack_root(bool right) const;

  void fail(std::string why) {
    if (m_failure.empty()) m_failure = std::move(why);
  }
  const std::string& failure() const { return m_failure; }

 private:
  struct Slot {
    bool bound = false;
    uint64_t addr = 0;  // the 32-byte leaf's address
    std::array<uint8_t, 32> leaf{};
  };
  std::span<const uint8_t, kMemProofSize> proof(unsigned slot) const {
    return std::span<const uint8_t, kMemProofSize>(m_proofs + slot * kMemProofSize, kMemProofSize);
  }
  bool bind(unsigned slot, uint64_t addr, const char* what);
  Slot* covering(uint64_t addr, const char* access);

  Hash32 m_root;
  const uint8_t* m_proofs;
  Slot m_slots[3];
  int m_current = -1;  // the slot data accesses go through
  Thread m_top;
  Hash32 m_inner;
  Hash32 m_roots[2];  // [0] left, [1] right, as of the last change
  bool m_top_right;
  bool m_top_live = true;
  std::string m_failure;
};

struct WitnessCheck {
  std::string failure;  // "" = valid; otherwise "<field or check>: <what does not hold>"
  Hash32 post{};        // the post-state hash the witness gives (when execution got that far)
};

// Checks one proof: `w` as StepWitness holds it (state = state-data, state_hash = pre,
// proof_data, pre-image fields), `post` the claimed post-state hash, `step` the proof's step
// field. Checks, in order: state-data's booleans; state-data hashes to pre; step matches
// state-data; the active stack is not empty and the thread witness hashes to its root; the
// oracle fields agree with the state (key, offset, length prefix, keccak256 for type-2 keys);
// the step executed from the witness alone (every memory proof it uses opens; no VM panic;
// a pre-image read has its oracle-value, and oracle fields imply a read); its post-state
// hashes to post.
WitnessCheck verify_step_witness(const StepWitness& w, uint64_t step, const Hash32& post);

}  // namespace cb
