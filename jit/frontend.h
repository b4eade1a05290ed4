// JIT frontend: MIPS64 words -> BlockIr. Each isa.def row's `jit` column says how it lowers
// to one IR op (jit/ir.def); a row lowered to NONE (syscall: it changes VM state beyond
// registers and memory), an invalid word, or a branch whose delay slot may not follow it ends
// the block, so that the interpreter executes it. LL/SC are compiled inline, except with the
// --debug-info statistics on (then the interpreter counts them).
#pragma once
#include <cstdint>

#include "interp/decoder.h"
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

// False for the rows of interp/isa.def lowered to NONE (and Op::invalid): the interpreter
// always executes those.
bool has_lowering(Op op);

}  // namespace cb::jit
