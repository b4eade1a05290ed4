// AArch64 backend (issue 14): BlockIr -> AArch64 machine code with AsmJit's a64 assembler,
// plus the trampoline that enters compiled code. The same contract as X64Backend
// (jit/x64_backend.h): exit slots, the exit stubs, the pc -> entry table, step accounting
// and the profiling counters behave exactly alike; jit/README.md describes them.
//
// Register use inside compiled code:
//   x19 = Thread*, x20 = JitContext*, x21 = step budget left, x22 = branch condition / jump
//   target, x23 = effective address of a load/store; x24-x28 hold the block's most used
//   guest registers between its entry and its exits. All of these are callee-saved, so C++
//   slow paths and helpers leave them alone and the cached guest registers need no spill
//   around calls. x0-x7, x16, x17 are scratch.
// Code memory: a private arena (CodeArena in a64_backend.cpp) whose pages are RX except while
// a block is written into them (mprotect RW, copy, mprotect RX, instruction-cache flush):
// never writable and executable at once. It is single mapped on purpose: a write through a
// second (dual-mapped) view is invisible to emulators that track code pages (qemu-user), and
// an AArch64 host needs the cache maintenance either way.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "jit/context.h"
#include "jit/ir.h"

namespace cb::jit {

class A64Backend {
 public:
  A64Backend();
  ~A64Backend();
  A64Backend(const A64Backend&) = delete;
  A64Backend& operator=(const A64Backend&) = delete;

  bool ok() const { return m_ok; }
  const std::string& error() const { return m_error; }

  // As X64Backend::compile: slots[0] taken/jump exit, slots[1] fall-through exit.
  bool compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out,
               ProfileSlot* profile = nullptr);
  void release(const CompiledBlock& b);
  void set_count_blocks(bool on) { m_count_blocks = on; }
  // The x86-64 movbe test hook; AArch64 always loads and byte-reverses (rev), so a no-op.
  void disable_movbe() {}

  uint64_t enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const;

  const void* exit_link() const { return m_exit_link; }
  const void* exit_nolink() const { return m_exit_nolink; }
  const void* exit_jr() const { return m_exit_jr; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  bool m_ok = false;
  bool m_count_blocks = false;
  std::string m_error;
  using EnterFn = uint64_t (*)(JitContext*, Thread*, const void*, uint64_t);
  EnterFn m_enter = nullptr;
  const void* m_exit_link = nullptr;
  const void* m_exit_nolink = nullptr;
  const void* m_exit_jr = nullptr;
};

}  // namespace cb::jit
