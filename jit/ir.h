// The block description the frontend hands to a backend: one IrInsn per guest instruction
// (so the index of an instruction in the block is exactly its step offset), with operands
// already decoded. Backends see no MIPS encodings, only these operations, whose semantics are
// those of interp/vm.cpp (the authority) for the guest instruction they stand for. The
// operations and their traits (which registers they read and write, which end or may leave a
// block) are listed once, in jit/ir.def; the functions below are generated from it.
#pragma once
#include <cstdint>
#include <vector>

namespace cb::jit {

enum class IrOp : uint8_t {
#define IR_OP(name, reads, writes, traits) k##name,
#include "jit/ir.def"
#undef IR_OP
};

enum class MemKind : uint8_t {
#define MEM_KIND(name, merge) k##name,
#include "jit/ir.def"
#undef MEM_KIND
};

enum class Cond : uint8_t { kEq, kNe, kLez, kGtz, kLtz, kGez, kNever };

struct IrInsn {
  IrOp op = IrOp::kNop;
  MemKind mem = MemKind::k64;
  Cond cond = Cond::kEq;
  uint8_t d = 0, s = 0, t = 0, sa = 0;
  uint8_t zero_d = 0;  // HI/LO forms: register written with 0 (0 = none)
  int64_t imm = 0;
  uint64_t pc = 0;
  uint64_t target = 0;  // kBranch / kJump
};

// The columns of jit/ir.def as data (IrOpTraits per op; see ir.def for their meaning).
namespace irdef {
constexpr uint8_t S = 1, T = 2, D = 4, DM = 8;               // reads / writes
constexpr uint8_t ONLY_D = 1, CONTROL = 2, EXIT_BEFORE = 4;  // traits
constexpr uint8_t L = 1, ST = 2;                             // MEM_KIND merge
struct IrOpTraits {
  uint8_t reads, writes, traits;
};
constexpr IrOpTraits kOps[] = {
#define IR_OP(name, reads, writes, traits) {reads, writes, traits},
#include "jit/ir.def"
#undef IR_OP
};
constexpr uint8_t kMerge[] = {
#define MEM_KIND(name, merge) merge,
#include "jit/ir.def"
#undef MEM_KIND
};
constexpr const IrOpTraits& of(IrOp op) { return kOps[static_cast<size_t>(op)]; }
constexpr uint32_t bit(unsigned r) { return r ? uint32_t{1} << r : 0; }
}  // namespace irdef

constexpr size_t kIrOpCount = sizeof irdef::kOps / sizeof irdef::kOps[0];

// Control transfers: the block's last-but-one instruction, a delay slot follows.
constexpr bool is_control(IrOp op) { return irdef::of(op).traits & irdef::CONTROL; }
// May leave the block before itself (data-dependent panics): never in a delay slot.
constexpr bool may_exit_before(IrOp op) { return irdef::of(op).traits & irdef::EXIT_BEFORE; }
// Its only effect is writing d (so with d == $zero it does nothing: the interpreter drops
// writes to $zero).
constexpr bool writes_only_d(IrOp op) { return irdef::of(op).traits & irdef::ONLY_D; }
// The access combines the memory word with the old register (a merging load: lwl, lwr, ldl,
// ldr) or the register with the old memory word (a merging store: swl, swr, sdl, sdr).
constexpr bool merges(MemKind k) { return irdef::kMerge[static_cast<size_t>(k)] != 0; }
constexpr bool is_merging_load(MemKind k) {
  return irdef::kMerge[static_cast<size_t>(k)] == irdef::L;
}

// Guest registers an instruction reads (a conditional or merging write counts as a read: the
// old value must be there) and writes, as bit masks (bit r = guest register r; $zero never).
constexpr uint32_t ir_reads(const IrInsn& in) {
  const uint8_t r = irdef::of(in.op).reads;
  return (r & irdef::S ? irdef::bit(in.s) : 0) | (r & irdef::T ? irdef::bit(in.t) : 0) |
         (r & irdef::D || (r & irdef::DM && is_merging_load(in.mem)) ? irdef::bit(in.d) : 0);
}
constexpr uint32_t ir_writes(const IrInsn& in) {
  const uint8_t w = irdef::of(in.op).writes;
  return irdef::bit(in.zero_d) | (w & irdef::D ? irdef::bit(in.d) : 0) |
         (w & irdef::T ? irdef::bit(in.t) : 0);
}

enum class EndKind : uint8_t {
  kFallthrough,  // stopped before an instruction a block may not contain (or max length)
  kBranch,       // conditional: taken -> taken_pc, else next_pc
  kJump,         // direct: taken_pc
  kJumpReg,      // indirect: the register value read by the jump
};

struct BlockIr {
  uint64_t start_pc = 0;
  std::vector<IrInsn> insns;  // insns[i] is at start_pc + 4 * i
  EndKind end = EndKind::kFallthrough;
  uint64_t taken_pc = 0;  // kBranch, kJump
  uint64_t next_pc = 0;   // where execution continues when no branch is taken
  // Guest words the block was built from (to notice code that changed behind our back).
  std::vector<uint32_t> words;
  uint64_t end_addr() const { return start_pc + 4 * insns.size(); }
};

}  // namespace cb::jit
