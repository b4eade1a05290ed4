// What compiled code sees at run time: the JitContext (software TLBs, the indirect-jump
// lookup table, exit bookkeeping) and the C++ slow paths it calls. Shared by the backend
// (which bakes the offsets into code) and the engine (which owns and fills them).
#pragma once
#include <cstddef>
#include <cstdint>

#include "interp/state.h"

namespace cb::jit {

// Direct-mapped software TLB: (page base address -> page data). A tag that is not page
// aligned never matches a guest address, so kTlbEmpty marks a free entry.
struct TlbEntry {
  uint64_t tag;
  uint8_t* data;
};
constexpr uint64_t kTlbEmpty = 1;
constexpr unsigned kTlbBits = 12;
constexpr size_t kTlbEntries = size_t{1} << kTlbBits;

// pc -> compiled entry, for jr/jalr inside compiled code. A free entry holds a tag that no
// aligned pc matches and the exit that stores the jump target as pc (X64Backend::exit_jr), so
// even a guest jumping to that tag just exits.
struct LookupEntry {
  uint64_t pc;
  const void* entry;
};
constexpr unsigned kLookupBits = 13;
constexpr size_t kLookupEntries = size_t{1} << kLookupBits;

// An exit slot (JitEngine::Slot) holds the jump target at offset 0 and the guest pc of its
// exit here: the exit stub stores that pc, so chained exits need not.
constexpr size_t kSlotPcOffset = 8;

// Per-block step counter for `cannonball profile` (JitEngine::set_observer; absent otherwise).
// Compiled code adds the block's length to `steps` on entry while `tag` equals
// JitContext::profile_tag, else it first calls jit_profile_retag (the engine hands the steps
// counted so far under the old tag to the observer). A block that leaves early takes its
// length back and reports itself in profile_partial; an `event` block (one ending in a call or
// return, as the observer decides) calls jit_profile_event once its pc is stored, before it
// chains on (the observer moves its shadow stack and returns the new tag).
struct ProfileSlot {
  uint64_t steps = 0;
  uint32_t tag = 0;  // 0: counted under no tag yet
  uint32_t len = 0;
  uint64_t start = 0;
  const uint32_t* words = nullptr;
  bool event = false;
  uint64_t memo[2] = {~uint64_t{0}, 0};  // the observer's own per-block cache (never read here)
};

// A block's machine code, as a backend returns it.
struct CompiledBlock {
  void* entry = nullptr;  // RX address
  size_t size = 0;
};

struct JitContext {
  TlbEntry read_tlb[kTlbEntries];
  TlbEntry write_tlb[kTlbEntries];  // only private (refs == 1), non-code pages
  LookupEntry lookup[kLookupEntries];
  const void* exit_nolink = nullptr;  // returns to the dispatcher without chaining
  void* engine = nullptr;             // JitEngine*, for the slow paths
  uint64_t* ll_address = nullptr;     // &state.ll_address (the LL/SC reservation, inline)
  uint8_t* ll_status = nullptr;       // &state.ll_status
  uint64_t* ll_owner = nullptr;       // &state.ll_owner
  uint64_t budget_out = 0;            // steps left in the budget when compiled code returned
  void** last_slot = nullptr;         // exit slot taken (to chain it), or null
  uint8_t invalidated = 0;            // a store hit compiled code: leave compiled code now
  uint64_t blocks_run = 0;            // blocks started (only counted when compiled to count)
  // Profiling only (see ProfileSlot).
  uint32_t profile_tag = 0;
  ProfileSlot* profile_partial = nullptr;
  uint64_t profile_partial_run = 0;  // steps of profile_partial that ran
};

// Slow paths called from compiled code (System V ABI, plain functions).
uint8_t* jit_read_page(JitContext* ctx, uint64_t addr);   // page data, or a zero page
uint8_t* jit_write_page(JitContext* ctx, uint64_t addr);  // allocates, unshares, marks dirty
void jit_on_store(JitContext* ctx, uint64_t word_addr);   // LL/SC reservation check
uint64_t jit_merge(unsigned kind, uint64_t addr, uint64_t mem, uint64_t rt);  // MemKind
void jit_divide(unsigned op, uint64_t rs, uint64_t rt, Cpu* cpu);             // IrOp (div*)
void jit_profile_retag(JitContext* ctx, ProfileSlot* slot);                   // profiling only
void jit_profile_event(JitContext* ctx, Thread* t, ProfileSlot* slot);        // profiling only

constexpr size_t kRegsOffset = offsetof(Thread, regs);
constexpr size_t kPcOffset = offsetof(Thread, cpu) + offsetof(Cpu, pc);
constexpr size_t kNextPcOffset = offsetof(Thread, cpu) + offsetof(Cpu, next_pc);
constexpr size_t kHiOffset = offsetof(Thread, cpu) + offsetof(Cpu, hi);
constexpr size_t kLoOffset = offsetof(Thread, cpu) + offsetof(Cpu, lo);
constexpr size_t kCpuOffset = offsetof(Thread, cpu);

// Offsets the backends' generated code addresses (one set for both backends).
constexpr int32_t kCtxReadTlb = int32_t(offsetof(JitContext, read_tlb));
constexpr int32_t kCtxWriteTlb = int32_t(offsetof(JitContext, write_tlb));
constexpr int32_t kCtxLookup = int32_t(offsetof(JitContext, lookup));
constexpr int32_t kCtxExitNolink = int32_t(offsetof(JitContext, exit_nolink));
constexpr int32_t kCtxLl = int32_t(offsetof(JitContext, ll_address));
constexpr int32_t kCtxBudget = int32_t(offsetof(JitContext, budget_out));
constexpr int32_t kCtxLastSlot = int32_t(offsetof(JitContext, last_slot));
constexpr int32_t kCtxInvalidated = int32_t(offsetof(JitContext, invalidated));
constexpr int32_t kCtxBlocksRun = int32_t(offsetof(JitContext, blocks_run));
constexpr int32_t kCtxLlStatus = int32_t(offsetof(JitContext, ll_status));
constexpr int32_t kCtxLlOwner = int32_t(offsetof(JitContext, ll_owner));
constexpr int32_t kCtxProfileTag = int32_t(offsetof(JitContext, profile_tag));
constexpr int32_t kCtxProfilePartial = int32_t(offsetof(JitContext, profile_partial));
constexpr int32_t kCtxProfilePartialRun = int32_t(offsetof(JitContext, profile_partial_run));
constexpr int32_t kIdOffset = int32_t(offsetof(Thread, id));
constexpr int32_t kProfSteps = int32_t(offsetof(ProfileSlot, steps));
constexpr int32_t kProfTag = int32_t(offsetof(ProfileSlot, tag));

}  // namespace cb::jit
