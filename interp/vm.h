// The canonical MT-Cannon v5 state transition: one step function, instantiated for three
// state-access policies (step_policy.h; the step and instructions in vm.cpp, the syscalls in
// syscalls.cpp): fast (plain run), recording (also collects the memory proofs
// of what the step touched, for the witness and proof) and witness-only (memory and thread
// stacks only through a step witness's Merkle proofs and thread witness, as the on-chain
// MIPS64.step does; interp/witness_step.h). This is the authority; the JIT only ever
// fast-forwards to a state it produces.
// Reference: multithreaded/mips.go, instrumented.go, exec/mips_instructions.go,
// exec/mips_syscalls.go, exec/preimage.go.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "interp/oracle.h"
#include "interp/state.h"
#include "interp/stats.h"

namespace cb {

class WitnessView;  // interp/witness_step.h
struct FastPolicy;
struct RecordPolicy;
struct WitnessPolicy;

enum class StepStatus : uint8_t { kOk = 0, kPanic = 1 };

// Everything `cannon run --proof-at` writes for one step.
struct StepWitness {
  std::array<uint8_t, kStateWitnessSize> state{};  // pre-state witness
  Hash32 state_hash{};                             // pre-state hash
  std::vector<uint8_t> proof_data;                 // thread witness + insn proof + 2 memory proofs
  bool has_preimage = false;
  Hash32 preimage_key{};
  std::vector<uint8_t> preimage_value;  // with its 8-byte big-endian length prefix
  uint64_t preimage_offset = 0;
};

// Guest output: fd 1 or 2 and the bytes written.
using OutputFn = std::function<void(int fd, const uint8_t* data, size_t len)>;

class Vm {
 public:
  Vm(State& state, PreimageOracle* oracle, OutputFn output);

  // One step. kPanic means the reference VM would have panicked: panic_message() says why,
  // and the state must not be used further.
  StepStatus step();
  // One step that also fills `w` with the pre-state witness and the proof data.
  StepStatus step_with_proof(StepWitness& w);
  // One step that reads memory and the thread stacks only through `view` (a step witness
  // being verified); the Vm's State holds the witness's scalar fields and is updated in place
  // (its thread vectors and memory are not used). See interp/witness_step.h.
  StepStatus step_from_witness(WitnessView& view);
  // Up to `max_steps` steps; stops early on exit or panic. Returns the steps taken.
  uint64_t run(uint64_t max_steps, StepStatus& status);

  // The reference's memory tracker computes the SECOND data proof on every clock_gettime step
  // (exec/memory.go TrackMemAccess2 ignores memProofEnabled), so a proof step that does not
  // touch that slot repeats the proof taken at the last clock_gettime, proof step or not.
  // That costs a Merkle proof per clock_gettime, so the plain (non-proof) path computes it
  // only for steps >= `step` (0 = always, UINT64_MAX = never, the default); the step of the
  // latest clock_gettime is always noted, and proof2_current() says whether the slot holds
  // its proof (when it is stale, a re-run from an earlier state with the threshold at
  // last_track2_step() recomputes it: scheduler/run_session.h Proof2Keeper, the one user).
  void set_track_proof2_from(uint64_t step) { m_proof2_from = step; }
  void set_track_proof2_always(bool on) { m_proof2_from = on ? 0 : ~uint64_t{0}; }
  bool proof2_current() const { return m_track2_step == m_proof2_step; }
  uint64_t last_track2_step() const { return m_track2_step; }  // ~0: none yet
  const MemProof& proof2_slot() const { return m_proof2; }
  // Restores the slot (e.g. from a checkpoint taken with it); it counts as current.
  void set_proof2_slot(const MemProof& p) {
    m_proof2 = p;
    m_proof2_step = m_track2_step;
  }
  // Zeroes both data memory-proof slots and forgets the clock_gettime bookkeeping, as at the
  // start of a fresh run. A run with several proof steps keeps the first slot across them;
  // a tool producing proofs exactly as separate single-proof runs would write them calls
  // reset_proof1() before each proof step.
  void reset_proof_slots() {
    m_proof1 = {};
    m_proof2 = {};
    m_track2_step = m_proof2_step = ~uint64_t{0};
  }
  void reset_proof1() { m_proof1 = {}; }

  const std::string& panic_message() const { return m_panic; }
  State& state() { return m_state; }

  // What the last step read from the pre-image oracle (valid when last_step_read_preimage()).
  bool last_step_read_preimage() const { return m_pre_last_offset != ~uint64_t{0}; }
  const Hash32& last_preimage_key() const { return m_pre_key; }
  const std::vector<uint8_t>& last_preimage() const { return m_pre_value; }
  uint64_t last_preimage_offset() const { return m_pre_last_offset; }
  uint64_t preimage_requests() const { return m_pre_requests; }
  uint64_t preimage_bytes() const { return m_pre_total; }

  // Called (from compiled code too) after a store to the aligned word at `addr`: an LL/SC
  // reservation on that word is cleared (reference: handleMemoryUpdate).
  void on_store(uint64_t word_addr) {
    if (word_addr == (kAddressMask & m_state.ll_address)) {
      clear_reservation();
      if (m_stats) m_stats->on_reservation_invalidated();
    }
  }

  // --debug-info statistics (interp/stats.h): off (null) unless enabled; enabling again
  // starts them afresh. With them on, the JIT leaves LL/SC and fetches at or above kICacheEnd to
  // the interpreter (jit/engine.cpp), so every count comes from here.
  void enable_stats() { m_stats = std::make_unique<VmStats>(); }
  VmStats* stats() const { return m_stats.get(); }

 private:
  friend struct FastPolicy;
  friend struct RecordPolicy;
  friend struct WitnessPolicy;
  // P: how the step touches memory, the thread stacks and the host (vm.cpp).
  template <class P>
  StepStatus do_step();
  template <class P>
  StepStatus exec_insn(Thread& t, uint32_t insn);
  template <class P>
  StepStatus syscall(Thread& t);
  template <class P>
  StepStatus rmw(Thread& t, uint32_t insn, bool is64, bool is_load);

  void record_access(uint64_t addr);
  void note_access2(uint64_t addr, bool record);
  void emit_output(int fd, uint64_t addr, uint64_t len);
  void emit_hint(uint64_t addr, uint64_t len);
  StepStatus panic(std::string msg) {
    m_panic = std::move(msg);
    return StepStatus::kPanic;
  }
  void clear_reservation() {
    m_state.ll_status = kLLNone;
    m_state.ll_address = 0;
    m_state.ll_owner = 0;
  }
  void preempt();
  void pop_thread();
  bool read_preimage(const Hash32& key, uint64_t offset, uint8_t out[32], uint64_t& len);

  State& m_state;
  WitnessView* m_view = nullptr;  // set only during step_from_witness
  PreimageOracle* m_oracle;
  OutputFn m_output;
  std::string m_panic;

  // Proof recording (the reference keeps the two proofs across steps: a slot a proof step
  // does not touch repeats the previous proof step's, all zeros until then).
  uint64_t m_last_access = ~uint64_t{0};
  MemProof m_proof1{}, m_proof2{};
  uint64_t m_proof2_from = ~uint64_t{0};
  uint64_t m_track2_step = ~uint64_t{0};  // step of the latest clock_gettime (TrackMemAccess2)
  uint64_t m_proof2_step = ~uint64_t{0};  // step whose proof m_proof2 holds

  // Pre-image reader cache (reference: TrackingPreimageOracleReader).
  Hash32 m_pre_key{};
  std::vector<uint8_t> m_pre_value;
  uint64_t m_pre_last_offset = ~uint64_t{0};
  uint64_t m_pre_requests = 0, m_pre_total = 0;
  std::vector<uint8_t> m_scratch;
  std::unique_ptr<VmStats> m_stats;
};

// LL/SC reservation rules (reference: handleRMWOps), shared by the interpreter and the JIT so
// they are written once. ll/lld reserve `addr` (the full, unaligned address) for `owner`;
// sc/scd succeed only on the same size, owner and address, and consume the reservation.
inline void ll_reserve(State& s, uint64_t addr, bool is64, uint64_t owner) {
  s.ll_status = is64 ? kLLActive64 : kLLActive32;
  s.ll_address = addr;
  s.ll_owner = owner;
}
inline bool sc_consume(State& s, uint64_t addr, bool is64, uint64_t owner) {
  if (s.ll_status != (is64 ? kLLActive64 : kLLActive32) || s.ll_owner != owner ||
      s.ll_address != addr)
    return false;
  s.ll_status = kLLNone;
  s.ll_address = 0;
  s.ll_owner = 0;
  return true;
}

// The 32-bit instruction at pc (pc must be 4-aligned).
inline uint32_t fetch_insn(const Memory& m, uint64_t pc) {
  uint64_t w = m.get_word(pc & kAddressMask);
  return (pc & 4) ? uint32_t(w) : uint32_t(w >> 32);
}

}  // namespace cb
