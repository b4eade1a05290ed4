// x86-64 backend: BlockIr -> machine code with AsmJit, plus the trampoline that enters
// compiled code. Code memory is dual mapped (an RX view that runs, an RW view that is
// written), so no page is ever writable and executable at once.
//
// Register use inside compiled code (all callee-saved, so slow-path calls keep them):
//   rbx = Thread* (guest registers, pc, HI/LO live in the Thread, read and written in place)
//   r12 = JitContext*, r13 = step budget left, r14 = branch condition / jump target,
//   r15 = effective address of the current load/store, rbp = scratch across helper calls.
// Exit protocol: an exit stores pc and next_pc (= pc + 4) into the Thread, then jumps through
// an exit slot. A slot points at the shared epilogue (which records the slot, so the
// dispatcher can chain it) or, once chained, at the target block's entry. Every block starts
// with "budget >= its length?" and leaves with nothing else to flush.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "jit/context.h"
#include "jit/ir.h"

namespace cb::jit {

struct CompiledBlock {
  void* entry = nullptr;  // RX address
  size_t size = 0;
};

class X64Backend {
public:
  X64Backend();
  ~X64Backend();
  X64Backend(const X64Backend&) = delete;
  X64Backend& operator=(const X64Backend&) = delete;

  // False when executable memory could not be set up (the engine then only interprets).
  bool ok() const { return m_ok; }
  const std::string& error() const { return m_error; }

  // Compiles `ir`. slots[0] is the taken/jump exit, slots[1] the fall-through exit: the code
  // jumps through *slots[i], so those words must stay valid while the block lives.
  // `profile`: count the block's steps in it (see ProfileSlot); null: no profiling code.
  bool compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out, ProfileSlot* profile = nullptr);
  void release(const CompiledBlock& b);

  // Runs compiled code from `entry` with `budget` steps; returns the steps left.
  uint64_t enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const;

  // The exit that records its slot (slots start out pointing here) and the one that does not.
  const void* exit_link() const { return m_exit_link; }
  const void* exit_nolink() const { return m_exit_nolink; }

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  bool m_ok = false;
  std::string m_error;
  using EnterFn = uint64_t (*)(JitContext*, Thread*, const void*, uint64_t);
  EnterFn m_enter = nullptr;
  const void* m_exit_link = nullptr;
  const void* m_exit_nolink = nullptr;
};

}  // namespace cb::jit
