// JIT frontend: MIPS64 words -> BlockIr. Decides which instructions a compiled block may
// contain (everything the interpreter does without side effects beyond registers, HI/LO and
// plain memory, and LL/SC unless statistics are on); the rest (syscalls, invalid words, branches in
// delay slots) ends the block so that the interpreter executes it.
#pragma once
#include <cstdint>

#include "jit/ir.h"
#include "memory/memory.h"

namespace cb::jit {

constexpr size_t kMaxBlockInsns = 64;

// Builds the block starting at `pc` (4-aligned). False when its first instruction cannot be
// compiled. With `atomics` false, LL/LLD/SC/SCD end the block like an uncompilable word, so
// the interpreter executes them (the --debug-info statistics count them there, exactly).
bool build_block(const Memory& mem, uint64_t pc, BlockIr& out, bool atomics = true);

// Translates one instruction; false when a block may not contain it.
bool translate(uint32_t word, uint64_t pc, IrInsn& out);

inline bool is_control(IrOp op) { return op == IrOp::kBranch || op == IrOp::kJump || op == IrOp::kJumpReg; }
// Instructions that may leave the block before themselves (data-dependent panics).
inline bool may_exit_before(IrOp op) {
  return op == IrOp::kDiv || op == IrOp::kDivu || op == IrOp::kDdiv || op == IrOp::kDdivu;
}

}  // namespace cb::jit
