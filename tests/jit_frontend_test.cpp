// JIT frontend (jit/frontend.cpp): LL/SC are compiled inline by default (JIT v2), and left to
// the interpreter when the --debug-info statistics are on (build_block's `atomics` false),
// so that the interpreter counts every one of them (tests/vm_stats_test.cpp checks the counts).
// Also the isa.def `jit` column and the jit/ir.def traits: which rows have no lowering, and
// hand-derived lowerings and register sets of some instructions (encodings and operand
// meanings from the MIPS64 manual, not from the code under test).
#ifdef CB_HAVE_JIT
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "interp/decoder.h"
#include "jit/engine.h"
#include "jit/frontend.h"
#include "vm_test_util.h"

namespace cb::jit {
namespace {

// 0x1000: ll t0,0(a0); addiu t1,t0,1; sc t1,0(a0); sll zero,zero,0; syscall
// (encodings by hand from the MIPS64 manual: LL 0x30, ADDIU 0x09, SC 0x38, SYSCALL funct 0x0c).
constexpr uint32_t kLl = 0x30u << 26 | 4u << 21 | 8u << 16;
constexpr uint32_t kAddiu = 0x09u << 26 | 8u << 21 | 9u << 16 | 1u;
constexpr uint32_t kSc = 0x38u << 26 | 4u << 21 | 9u << 16;
constexpr uint32_t kSyscall = 0x0c;

void program(Memory& m) {
  m.set_word(0x1000, uint64_t{kLl} << 32 | kAddiu);
  m.set_word(0x1008, uint64_t{kSc} << 32 | 0);
  m.set_word(0x1010, uint64_t{kSyscall} << 32);
}

size_t atomics_in(const BlockIr& b) {
  size_t n = 0;
  for (const IrInsn& i : b.insns) n += i.op == IrOp::kAtomic;
  return n;
}

TEST(JitFrontend, AtomicsCompiledByDefault) {
  Memory m;
  program(m);
  BlockIr b;
  ASSERT_TRUE(build_block(m, 0x1000, b));
  EXPECT_EQ(b.insns.size(), 4u);  // up to the syscall
  EXPECT_EQ(atomics_in(b), 2u);
}

TEST(JitFrontend, AtomicsLeftToTheInterpreterWithStatistics) {
  Memory m;
  program(m);
  BlockIr b;
  EXPECT_FALSE(build_block(m, 0x1000, b, false));  // starts with ll
  ASSERT_TRUE(build_block(m, 0x1004, b, false));
  EXPECT_EQ(b.insns.size(), 1u);  // addiu, then the sc ends the block
  EXPECT_EQ(atomics_in(b), 0u);
  ASSERT_TRUE(build_block(m, 0x100c, b, false));  // after the sc: the nop
  EXPECT_EQ(b.insns.size(), 1u);
}

// The only isa.def row the JIT does not compile is syscall (it changes VM state beyond
// registers and memory). A row added with `NONE` must be added here, on purpose.
TEST(JitLowering, OnlySyscallHasNoLowering) {
  std::set<std::string> none;
  for (size_t i = 0; i < kOpCount; ++i)
    if (!has_lowering(Op(i))) none.insert(mnemonic(Op(i)));
  EXPECT_EQ(none, (std::set<std::string>{"syscall"}));
  EXPECT_FALSE(has_lowering(Op::invalid));
}

// Every row with a lowering translates, whatever its operand fields; a NONE row never does.
TEST(JitLowering, EveryLoweredRowTranslates) {
  for (size_t i = 0; i < kOpCount; ++i) {
    for (unsigned f : {0u, 1u, 17u, 31u}) {
      const uint32_t w = encode(Op(i), f, (f * 7) & 31, (f * 3) & 31, f, 0x8000 | f);
      IrInsn ir;
      EXPECT_EQ(translate(w, 0x10000, ir), has_lowering(Op(i)))
          << mnemonic(Op(i)) << " " << std::hex << w;
    }
  }
}

constexpr uint32_t special(unsigned rs, unsigned rt, unsigned rd, unsigned sa, unsigned funct) {
  return rs << 21 | rt << 16 | rd << 11 | sa << 6 | funct;
}
constexpr uint32_t itype(unsigned op, unsigned rs, unsigned rt, uint16_t imm) {
  return op << 26 | rs << 21 | rt << 16 | imm;
}

TEST(JitLowering, HandDerivedLowerings) {
  IrInsn ir;
  // dsll32 $t2, $t1, 4 (SPECIAL funct 0x3c): d = rt << (4 + 32).
  ASSERT_TRUE(translate(special(0, 9, 10, 4, 0x3c), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kSll64);
  EXPECT_EQ(ir.d, 10);
  EXPECT_EQ(ir.t, 9);
  EXPECT_EQ(ir.sa, 36);
  // lui $t1, 0x8001 (0x0f): d = rt = sign-extended 0x80010000.
  ASSERT_TRUE(translate(itype(0x0f, 0, 9, 0x8001), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kConst);
  EXPECT_EQ(ir.d, 9);
  EXPECT_EQ(ir.imm, int64_t(0xffffffff80010000ULL));
  // andi $t1, $t0, 0xffff (0x0c): zero-extended immediate; addiu: sign-extended.
  ASSERT_TRUE(translate(itype(0x0c, 8, 9, 0xffff), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kAndImm);
  EXPECT_EQ(ir.imm, 0xffff);
  ASSERT_TRUE(translate(itype(0x09, 8, 9, 0xffff), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kAddImm32);
  EXPECT_EQ(ir.imm, -1);
  // addiu $zero, $t0, 1: a write to $zero only, so nothing.
  ASSERT_TRUE(translate(itype(0x09, 8, 0, 1), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kNop);
  // bgezal $t0, +2 (REGIMM rt 0x11) at 0x1000: links $ra, target 0x1000 + 4 + 8.
  ASSERT_TRUE(translate(itype(0x01, 8, 0x11, 2), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kBranch);
  EXPECT_EQ(ir.cond, Cond::kGez);
  EXPECT_EQ(ir.d, 31);
  EXPECT_EQ(ir.target, 0x100cu);
  // An unknown REGIMM rt (0x1f): a branch never taken.
  ASSERT_TRUE(translate(itype(0x01, 8, 0x1f, 2), 0x1000, ir));
  EXPECT_EQ(ir.cond, Cond::kNever);
  // jal 0x40 (0x03) at 0x10001000: target keeps the top 4 bits of pc + 4.
  ASSERT_TRUE(translate(0x03u << 26 | 0x10, 0x10001000, ir));
  EXPECT_EQ(ir.op, IrOp::kJump);
  EXPECT_EQ(ir.d, 31);
  EXPECT_EQ(ir.target, 0x10000040u);
  // jr $t0 links nowhere, jalr $t2, $t0 links into rd.
  ASSERT_TRUE(translate(special(8, 0, 10, 0, 0x08), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kJumpReg);
  EXPECT_EQ(ir.d, 0);
  ASSERT_TRUE(translate(special(8, 0, 10, 0, 0x09), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kJumpReg);
  EXPECT_EQ(ir.d, 10);
  // mult $t0, $t1 with a non-zero rd field: HI/LO, and rd is set to 0 (the reference's HandleHiLo).
  ASSERT_TRUE(translate(special(8, 9, 10, 0, 0x18), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kMult);
  EXPECT_EQ(ir.zero_d, 10);
  EXPECT_EQ(ir.d, 0);
  // lwl $t1, -4($t0) (0x22): a merging load into rt.
  ASSERT_TRUE(translate(itype(0x22, 8, 9, 0xfffc), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kLoad);
  EXPECT_EQ(ir.mem, MemKind::kLwl);
  EXPECT_EQ(ir.d, 9);
  EXPECT_EQ(ir.imm, -4);
  // sync (funct 0x0f) with rd = $t2, rs = $t0: the reference writes rs to rd.
  ASSERT_TRUE(translate(special(8, 0, 10, 0, 0x0f), 0x1000, ir));
  EXPECT_EQ(ir.op, IrOp::kOrImm);
  EXPECT_EQ(ir.d, 10);
  EXPECT_EQ(ir.s, 8);
  EXPECT_EQ(ir.imm, 0);
}

uint32_t bits(std::initializer_list<unsigned> regs) {
  uint32_t m = 0;
  for (unsigned r : regs) m |= uint32_t{1} << r;
  return m;
}

TEST(JitIrTraits, RegistersReadAndWritten) {
  IrInsn in;
  in.d = 10, in.s = 8, in.t = 9;
  in.op = IrOp::kMovz;  // conditional: the old d must be there
  EXPECT_EQ(ir_reads(in), bits({8, 9, 10}));
  EXPECT_EQ(ir_writes(in), bits({10}));
  in.op = IrOp::kLoad;
  in.mem = MemKind::kLwl;  // merging: reads the old d
  EXPECT_EQ(ir_reads(in), bits({8, 10}));
  in.mem = MemKind::kS32;
  EXPECT_EQ(ir_reads(in), bits({8}));
  EXPECT_EQ(ir_writes(in), bits({10}));
  in.op = IrOp::kAtomic;  // sc: reads the base and the value, writes the result into t
  in.mem = MemKind::kSc;
  EXPECT_EQ(ir_reads(in), bits({8, 9}));
  EXPECT_EQ(ir_writes(in), bits({9}));
  in.op = IrOp::kDiv;  // HI/LO only, plus zero_d
  in.zero_d = 11;
  EXPECT_EQ(ir_writes(in), bits({11}));
  in.zero_d = 0;
  in.op = IrOp::kSll32;  // shift by sa: reads t only
  EXPECT_EQ(ir_reads(in), bits({9}));
  in.s = 0;  // $zero is never a register to read or write
  in.op = IrOp::kAdd64;
  EXPECT_EQ(ir_reads(in), bits({9}));
}

TEST(JitIrTraits, ControlAndEarlyExits) {
  std::set<IrOp> control, early;
  for (size_t i = 0; i < kIrOpCount; ++i) {
    if (is_control(IrOp(i))) control.insert(IrOp(i));
    if (may_exit_before(IrOp(i))) early.insert(IrOp(i));
  }
  EXPECT_EQ(control, (std::set<IrOp>{IrOp::kBranch, IrOp::kJump, IrOp::kJumpReg}));
  EXPECT_EQ(early, (std::set<IrOp>{IrOp::kDiv, IrOp::kDivu, IrOp::kDdiv, IrOp::kDdivu}));
  EXPECT_FALSE(writes_only_d(IrOp::kStore));
  EXPECT_FALSE(writes_only_d(IrOp::kMthi));
  EXPECT_TRUE(writes_only_d(IrOp::kLoad));
  EXPECT_TRUE(writes_only_d(IrOp::kMflo));
}

// --jit-stats counts the interpreted steps of rows without a lowering, by name.
TEST(JitLowering, StatsCountStepsWithoutALowering) {
  test::VmFixture f;
  // loop: addiu $v0, $zero, 5023 (sched_yield); syscall; j loop; nop - 4 steps, 1 syscall.
  f.insn_at(test::kPC, itype(0x09, 0, 2, 5023));
  f.insn_at(test::kPC + 4, 0x0c);
  f.insn_at(test::kPC + 8, 0x02u << 26 | uint32_t(test::kPC >> 2));
  f.insn_at(test::kPC + 12, 0);
  JitEngine jit(*f.vm);
  jit.set_hot_threshold(1);
  jit.set_stats(true);
  ASSERT_EQ(jit.run(400), StepStatus::kOk);
  EXPECT_EQ(f.s.step, 400u);
  EXPECT_EQ(jit.stats().no_lowering[size_t(Op::syscall)], 100u);
  EXPECT_NE(jit.stats_report().find("(isa.def NONE): syscall 100\n"), std::string::npos)
      << jit.stats_report();
}

}  // namespace
}  // namespace cb::jit
#endif
