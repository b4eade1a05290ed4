// Decoder and disassembler, both generated from interp/isa.def.
#pragma once
#include <cstdint>
#include <string>

namespace cb {

enum class Op : uint8_t {
#define INSN(name, kind, opcode, sel, format, cls, jit) name,
#include "interp/isa.def"
#undef INSN
  invalid,
  kCount
};

enum class InsnClass : uint8_t { ALU, SHIFT, HILO, BRANCH, JUMP, LOAD, STORE, RMW, SYSCALL, NOP };
enum class InsnFormat : uint8_t {
  J,
  BR1,
  BR2,
  I,
  IU,
  LUI,
  MEM,
  SHIFT,
  SHIFTV,
  JR,
  JALR,
  R3,
  R2,
  RD,
  RS,
  MD,
  NONE
};
enum class InsnKind : uint8_t { P, S, S2, R };

struct InsnInfo {
  const char* name;
  InsnKind kind;
  uint8_t opcode;
  uint8_t sel;  // funct or rt
  InsnFormat format;
  InsnClass cls;
};

// One row per Op (except Op::invalid).
const InsnInfo& insn_info(Op op);
std::string mnemonic(Op op);  // "and" for Op::and_
constexpr size_t kOpCount = static_cast<size_t>(Op::invalid);

namespace detail {
struct DecodeTables {
  Op primary[64];
  Op special[64];
  Op special2[64];
  Op regimm[32];
};
extern const DecodeTables g_decode;
}  // namespace detail

inline Op decode(uint32_t insn) {
  uint32_t opcode = insn >> 26;
  const auto& t = detail::g_decode;
  switch (opcode) {
    case 0:
      return t.special[insn & 0x3f];
    case 1:
      return t.regimm[(insn >> 16) & 0x1f];
    case 0x1c:
      return t.special2[insn & 0x3f];
    default:
      return t.primary[opcode];
  }
}

// Encodes an instruction of the given Op with the given fields (fields the format does not
// use are left as given; tests use it to build edge cases).
uint32_t encode(Op op, unsigned rs, unsigned rt, unsigned rd, unsigned sa, uint32_t imm);

// "addiu $sp, $sp, -16" style; pc is used for branch and jump targets.
std::string disassemble(uint32_t insn, uint64_t pc);

}  // namespace cb
