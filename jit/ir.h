// The block description the frontend hands to a backend: one IrInsn per guest instruction
// (so the index of an instruction in the block is exactly its step offset), with operands
// already decoded. Backends see no MIPS encodings, only these operations, whose semantics are
// those of interp/vm.cpp (the authority) for the guest instruction they stand for.
#pragma once
#include <cstdint>
#include <vector>

namespace cb::jit {

enum class IrOp : uint8_t {
  kNop,
  // d = f(s, t) on 64-bit guest registers; "32" forms sign-extend a 32-bit result.
  kAdd32, kSub32, kAdd64, kSub64, kAnd, kOr, kXor, kNor, kSlt, kSltu, kMul32,
  // d = f(s, imm)
  kAddImm32, kAddImm64, kSltImm, kSltuImm, kAndImm, kOrImm, kXorImm,
  kConst,  // d = imm
  // Shifts: by `sa` (immediate, 0..63) or by s (variable); 32-bit forms sign-extend.
  kSll32, kSrl32, kSra32, kSll64, kSrl64, kSra64,
  kSllv32, kSrlv32, kSrav32, kSllv64, kSrlv64, kSrav64,
  kMovz, kMovn,  // if (t == 0 / t != 0) d = s
  kClz32, kClo32, kClz64, kClo64,
  // HI/LO; `zero_d` (when non-zero) names a register the instruction sets to 0 as well.
  kMfhi, kMflo, kMthi, kMtlo, kMult, kMultu, kDmult, kDmultu,
  kDiv, kDivu, kDdiv, kDdivu,  // exit *before* the instruction on a zero divisor
  kLoad,   // d = load(s + imm), see MemKind
  kStore,  // store t at s + imm
  kAtomic,  // ll/lld/sc/scd at s + imm (MemKind kLl..kScd), result into t
  // Control transfer (the block's last-but-one instruction; the delay slot follows).
  kBranch,   // if cond(s, t) goto target; link into d (bltzal/bgezal) whatever the outcome
  kJump,     // goto target; link into d
  kJumpReg,  // goto s; link into d
};

enum class MemKind : uint8_t {
  kS8, kU8, kS16, kU16, kS32, kU32, k64,  // plain loads (stores use kU8/kU16/kU32/k64)
  kLwl, kLwr, kLdl, kLdr,                 // merging loads (need the old d)
  kSwl, kSwr, kSdl, kSdr,                 // merging stores
  kLl, kLld, kSc, kScd,                   // LL/SC (reservation in the State)
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
