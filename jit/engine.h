// The JIT engine: a block cache keyed by guest pc, hotness counting, chaining, invalidation
// of blocks whose code is overwritten, and the dispatcher that mixes compiled blocks with
// the canonical interpreter (which stays the authority: it takes every step a block cannot
// take exactly — syscalls and any other isa.def row without a JIT lowering, preemption steps,
// the steps before a stop target, panics, and LL/SC while the --debug-info statistics count
// them).
#pragma once
#include <tsl/robin_map.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "interp/decoder.h"
#include "interp/vm.h"
#include "jit/backend.h"
#include "jit/context.h"
#include "jit/ir.h"

namespace cb {

// Where the engine's steps and time went (JitEngine::set_stats; `run --jit-stats`).
struct JitStats {
  uint64_t entries = 0;         // dispatcher -> compiled code
  uint64_t blocks_run = 0;      // blocks started in compiled code (entries + chained jumps)
  uint64_t exits_linkable = 0;  // returned through a not-yet-chained direct exit
  uint64_t exits_other = 0;     // budget check, jr/jalr lookup miss, early exit
  uint64_t compiled_steps = 0;
  // Interpreter steps by cause.
  uint64_t interp_syscall = 0, interp_preempt = 0, interp_budget = 0, interp_cold = 0,
           interp_uncompilable = 0, interp_other = 0;
  uint64_t syscalls[8] = {};  // by kind: see JitEngine::stats_report
  // Interpreted steps of isa.def rows lowered to NONE (jit/frontend.h has_lowering), by Op.
  uint64_t no_lowering[kOpCount] = {};
  uint64_t compiles = 0, invalidations = 0, tlb_flushes = 0, verifies = 0;
  uint64_t code_bytes = 0;  // machine code emitted (all blocks ever compiled)
  double compile_s = 0, compiled_s = 0, interp_s = 0;  // time in compile(), enter(), step()
};

// Optional observer of every step the engine takes (`cannonball profile`, tools/profile.h).
// None by default, and then nothing of it is compiled or called. With one set before the first
// run(), every block is compiled with a step counter (jit::ProfileSlot, jit/context.h): the
// observer gets each interpreted step before it runs, chooses the counting tag before compiled
// code runs on a thread, receives the steps a slot counted under its previous tag (retag, and
// flush_profile() at the end), each completed call/return block (`event`; from compiled code,
// returning the tag to count under from then on), and after each entry the block that left
// early (`partial`, after `partial_run` of its steps).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual bool is_event(const uint32_t* words, uint32_t len) = 0;  // at compile time
  virtual void on_interp_step(const State& s) = 0;
  virtual uint32_t tag(const Thread& t) = 0;       // non-zero
  virtual void flush(jit::ProfileSlot& slot) = 0;  // take slot.steps (counted under slot.tag)
  virtual uint32_t on_event(const Thread& t, jit::ProfileSlot& event) = 0;
  virtual void after_enter(const Thread& t, jit::ProfileSlot* partial, uint64_t partial_run) = 0;
};

class JitEngine {
 public:
  explicit JitEngine(Vm& vm);
  ~JitEngine();
  JitEngine(const JitEngine&) = delete;
  JitEngine& operator=(const JitEngine&) = delete;

  // Steps until state.step == target, the VM exits or panics (like Vm::run, same states).
  StepStatus run(uint64_t target);
  uint64_t compiled_steps() const { return m_compiled_steps; }

  // Test hooks. max_entries limits how many times run() enters compiled code (1: return
  // after each block exit, for lockstep checks); 0 = unlimited.
  void set_max_entries(uint64_t n) { m_max_entries = n; }
  void set_hot_threshold(uint32_t n) { m_hot_threshold = n; }
  // Off: every block returns to the dispatcher (lockstep tests compare after each block).
  void set_chaining(bool on) { m_chaining = on; }
  // Compile without movbe (tests the fallback a host without it takes).
  void disable_movbe() { m_backend.disable_movbe(); }
  // Profiling (see StepObserver): set before the first run(); flush_profile() hands every live
  // slot's steps to the observer.
  void set_observer(StepObserver* o) { m_observer = o; }
  void flush_profile();
  void profile_retag(jit::ProfileSlot* slot);
  void profile_event(Thread* t, jit::ProfileSlot* slot) {
    m_ctx->profile_tag = m_observer->on_event(*t, *slot);
  }
  // Compiles the block at pc now, whatever its hotness; false when nothing there compiles.
  bool compile_at(uint64_t pc);
  size_t block_count() const { return m_blocks.size(); }
  uint64_t invalidations() const { return m_invalidations; }
  bool available() const { return m_backend.ok(); }
  // The guest range [start, end) of the compiled block that starts at pc (0, 0 when none).
  std::pair<uint64_t, uint64_t> block_range(uint64_t pc) const;
  // Counts exits, causes and time (a little slower: compiled blocks count themselves, and
  // every entry and interpreted step is timed). Call before run().
  void set_stats(bool on);
  const JitStats& stats() const { return m_stats; }
  std::string stats_report() const;  // multi-line, human readable

  // Slow paths of compiled code (jit/context.h).
  uint8_t* read_page(uint64_t addr);
  uint8_t* write_page(uint64_t addr);
  void on_store(uint64_t word_addr) { m_vm.on_store(word_addr); }

 private:
  struct Block;
  // An exit slot: compiled code jumps through `target` (first member, so a pointer to the
  // slot is a pointer to it); the epilogue reports which slot was taken.
  struct Slot {
    void* target = nullptr;
    uint64_t pc = 0;  // at jit::kSlotPcOffset: the exit stub reads it
    Block* owner = nullptr;
    int index = 0;
    bool used = false;
    Block* linked = nullptr;
  };
  static_assert(offsetof(Slot, pc) == jit::kSlotPcOffset);
  struct Block {
    uint64_t start = 0, end = 0;  // guest bytes [start, end)
    uint32_t len = 0;             // instructions = steps
    jit::CompiledBlock code;      // entry null: nothing compiles at `start` (interpreter)
    Slot slots[2];                // [0] taken / jump target, [1] fall-through

    std::vector<std::pair<Block*, int>> incoming;  // slots chained to this block
    std::vector<uint32_t> words;
    jit::ProfileSlot profile;  // used only with an observer
  };

  Block* compile(uint64_t pc);
  Block* find_block(uint64_t pc);  // through a direct-mapped cache in front of m_blocks
  void drop_tlb_entries(uint64_t addr);
  void register_pages(Block* b);
  void invalidate(Block* b);
  void invalidate_range(uint64_t lo, uint64_t hi);  // blocks overlapping [lo, hi)
  void invalidate_word(uint64_t addr) {
    invalidate_range(addr & kAddressMask, (addr & kAddressMask) + 8);
  }
  void link(Slot* slot, Block* target);
  void sync_with_state();
  void verify_blocks();
  void flush_tlbs();
  void free_graveyard();
  // Notes which words an interpreter step will write when they may hold compiled code.
  void collect_interp_writes(const Thread& t, std::vector<uint64_t>& out) const;
  bool is_code_page(uint64_t page) const { return m_code_pages.find(page) != m_code_pages.end(); }

  Vm& m_vm;
  State& m_state;
  jit::Backend m_backend;
  std::unique_ptr<jit::JitContext> m_ctx;
  tsl::robin_map<uint64_t, std::unique_ptr<Block>> m_blocks;
  std::vector<Block*> m_fast;  // direct-mapped pc -> Block* cache in front of m_blocks
  tsl::robin_map<uint64_t, std::vector<Block*>> m_code_pages;
  tsl::robin_map<uint64_t, uint32_t> m_counts;
  std::vector<std::unique_ptr<Block>> m_graveyard;
  std::vector<uint64_t> m_pending_writes;
  Slot* m_pending_link = nullptr;  // exit slot to chain once its target is compiled
  uint64_t m_compiled_steps = 0;
  uint64_t m_invalidations = 0;
  uint64_t m_max_entries = 0;
  uint32_t m_hot_threshold = 16;
  bool m_chaining = true;
  bool m_stats_on = false;
  JitStats m_stats;
  StepObserver* m_observer = nullptr;
  // What the caches were filled against (anything else changed them behind our back).
  Memory* m_memory = nullptr;       // what the TLBs were filled from
  Memory* m_memory_seen = nullptr;  // what the blocks were compiled from
  uint64_t m_epoch = 0;
  uint64_t m_last_step = ~uint64_t{0};
};

}  // namespace cb
