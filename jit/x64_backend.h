// x86-64 backend: BlockIr -> machine code with AsmJit, plus the trampoline that enters
// compiled code. Code memory is dual mapped (an RX view that runs, an RW view that is
// written), so no page is ever writable and executable at once.
//
// Register use inside compiled code (jit/README.md has the details):
//   rbx = Thread* (guest registers, pc, HI/LO live in the Thread), r12 = JitContext*,
//   r13 = step budget left, r14 = branch condition / jump target; rax, rsi, rcx scratch
//   (rcx = effective address of a load/store); rbp, r15, rdi, r8-r11, rdx hold the block's
//   most used guest registers between its entry and its exits.
// Exit protocol: every exit leaves all guest registers in the Thread and jumps through an
// exit slot. A slot points at the shared epilogue (which stores pc from the slot and records
// it, so the dispatcher can chain it) or, once chained, at the target block's entry. Every
// block starts with "budget >= its length?".
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "jit/context.h"
#include "jit/ir.h"

namespace cb::jit {

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
  bool compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out,
               ProfileSlot* profile = nullptr);
  void release(const CompiledBlock& b);
  // Blocks compiled from now on count their runs in JitContext::blocks_run (statistics).
  void set_count_blocks(bool on) { m_count_blocks = on; }
  // Test hook: blocks compiled from now on use bswap + mov even when the host has movbe.
  void disable_movbe() { m_movbe = false; }

  // Runs compiled code from `entry` with `budget` steps; returns the steps left.
  uint64_t enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const;

  // The exit that records its slot (slots start out pointing here) and the one that does not.
  const void* exit_link() const { return m_exit_link; }
  const void* exit_nolink() const { return m_exit_nolink; }
  // For free pc -> entry lookup entries: stores the jr/jalr target (r14) as pc, then exits.
  const void* exit_jr() const { return m_exit_jr; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  bool m_ok = false;
  bool m_count_blocks = false;
  bool m_movbe = false;  // the host has movbe (big-endian loads and stores in one instruction)
  std::string m_error;
  using EnterFn = uint64_t (*)(JitContext*, Thread*, const void*, uint64_t);
  EnterFn m_enter = nullptr;
  const void* m_exit_link = nullptr;
  const void* m_exit_nolink = nullptr;
  const void* m_exit_jr = nullptr;
};

}  // namespace cb::jit
