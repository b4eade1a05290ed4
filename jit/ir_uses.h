// Which guest registers an IR instruction reads and writes: shared by the backends (their
// register caches decide from it which guest registers to hold in host registers).
#pragma once
#include <cstdint>

#include "jit/ir.h"

namespace cb::jit {

// Guest registers an instruction reads (a conditional or merging write counts as a read: the
// old value must be there) and writes.
inline uint32_t bit(unsigned r) { return r ? uint32_t{1} << r : 0; }
inline uint32_t reads_of(const IrInsn& in) {
  switch (in.op) {
    case IrOp::kNop:
    case IrOp::kConst:
    case IrOp::kMfhi:
    case IrOp::kMflo:
    case IrOp::kJump: return 0;
    case IrOp::kAddImm32: case IrOp::kAddImm64: case IrOp::kSltImm: case IrOp::kSltuImm:
    case IrOp::kAndImm: case IrOp::kOrImm: case IrOp::kXorImm:
    case IrOp::kClz32: case IrOp::kClo32: case IrOp::kClz64: case IrOp::kClo64:
    case IrOp::kMthi: case IrOp::kMtlo: case IrOp::kJumpReg: return bit(in.s);
    case IrOp::kSll32: case IrOp::kSrl32: case IrOp::kSra32:
    case IrOp::kSll64: case IrOp::kSrl64: case IrOp::kSra64: return bit(in.t);
    case IrOp::kMovz: case IrOp::kMovn: return bit(in.s) | bit(in.t) | bit(in.d);
    case IrOp::kLoad:
      return bit(in.s) | (in.mem >= MemKind::kLwl && in.mem <= MemKind::kLdr ? bit(in.d) : 0);
    default: return bit(in.s) | bit(in.t);
  }
}
inline uint32_t writes_of(const IrInsn& in) {
  uint32_t w = bit(in.zero_d);
  switch (in.op) {
    case IrOp::kNop: case IrOp::kStore: case IrOp::kMthi: case IrOp::kMtlo:
    case IrOp::kMult: case IrOp::kMultu: case IrOp::kDmult: case IrOp::kDmultu:
    case IrOp::kDiv: case IrOp::kDivu: case IrOp::kDdiv: case IrOp::kDdivu: return w;
    case IrOp::kAtomic: return w | bit(in.t);
    default: return w | bit(in.d);
  }
}

}  // namespace cb::jit
