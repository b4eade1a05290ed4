// Table-driven unit tests for every MIPS64 instruction of the MT-Cannon v5 VM.
//
// Every expected value below was derived by hand from the reference semantics (the Go
// reference in the OP monorepo, cannon/mipsevm/exec/mips_instructions.go: ExecMipsCoreStepLogic,
// ExecuteMipsInstruction, HandleBranch, HandleHiLo, HandleJump, HandleRd, SelectSubWord,
// UpdateSubWord; multithreaded/mips.go: doMipsStep, handleRMWOps, handleMemoryUpdate) — never
// from cannonball's output. Each row carries its derivation as its description.
//
// Layout used by the tables: rs = $t0 (8), rt = $t1 (9), rd = $t2 (10); every other register
// holds a distinct sentinel, so a write to an unexpected register is caught. PC = 0x10000,
// NextPC = 0x10004 unless stated.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "interp/decoder.h"
#include "vm_test_util.h"

namespace cb {
namespace {

using test::kPC;
using test::kT0;
using test::kT1;
using test::kT2;
using test::kT3;
using test::Snap;
using test::VmFixture;

constexpr uint64_t kHiIn = 0x4848484848484848ULL;  // HI before every row
constexpr uint64_t kLoIn = 0x4c4c4c4c4c4c4c4cULL;  // LO before every row
constexpr uint64_t kM1 = ~uint64_t{0};             // -1
constexpr uint64_t kMin64 = 0x8000000000000000ULL;

// Every Op that some row executed (IsaCoverage checks that no row of isa.def is missing).
std::set<Op>& covered() {
  static std::set<Op> s;
  return s;
}

uint64_t sentinel(unsigned r) {
  return r == 0 ? 0 : 0x5e00000000000000ULL | (uint64_t(r) << 8) | r;
}

void fill_sentinels(VmFixture& f) {
  for (unsigned r = 1; r < 32; ++r) f.reg(r) = sentinel(r);
}

struct Row {
  std::string what;
  uint32_t insn;
  std::vector<std::pair<unsigned, uint64_t>> in;   // registers set before the step
  std::vector<std::pair<unsigned, uint64_t>> out;  // registers that must change (others must not)
  uint64_t hi_out = kHiIn, lo_out = kLoIn;
};

Row r3(Op op, uint64_t rs, uint64_t rt, uint64_t want, std::string what) {
  return {std::move(what), encode(op, kT0, kT1, kT2, 0, 0), {{kT0, rs}, {kT1, rt}}, {{kT2, want}}};
}
Row sh(Op op, uint64_t rt, unsigned sa, uint64_t want, std::string what) {
  return {std::move(what), encode(op, 0, kT1, kT2, sa, 0), {{kT1, rt}}, {{kT2, want}}};
}
Row im(Op op, uint64_t rs, uint32_t imm, uint64_t want, std::string what) {
  return {std::move(what), encode(op, kT0, kT1, 0, 0, imm), {{kT0, rs}}, {{kT1, want}}};
}
Row r2(Op op, uint64_t rs, uint64_t want, std::string what) {
  return {std::move(what), encode(op, kT0, 0, kT2, 0, 0), {{kT0, rs}}, {{kT2, want}}};
}
// HI/LO ops with rd field = 0.
Row md(Op op, uint64_t rs, uint64_t rt, uint64_t hi, uint64_t lo, std::string what) {
  return {std::move(what), encode(op, kT0, kT1, 0, 0, 0), {{kT0, rs}, {kT1, rt}}, {}, hi, lo};
}

void run_rows(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what + "  [" + disassemble(row.insn, kPC) + "]");
    covered().insert(decode(row.insn));
    auto setup = [&](VmFixture& f) {
      fill_sentinels(f);
      for (auto [r, v] : row.in) f.reg(r) = v;
      f.t().cpu.hi = kHiIn;
      f.t().cpu.lo = kLoIn;
      f.insn(row.insn);
    };
    VmFixture f;
    setup(f);
    Snap before(f.t());
    f.step_ok();
    {  // The proof-recording step must reach the very same state.
      VmFixture g;
      setup(g);
      StepWitness w;
      ASSERT_EQ(g.vm->step_with_proof(w), StepStatus::kOk) << g.vm->panic_message();
      EXPECT_EQ(g.s.serialize(), f.s.serialize()) << "step_with_proof diverges from step";
      EXPECT_EQ(w.proof_data.size(), kThreadWitnessSize + 3 * kMemProofSize);
    }
    test::expect_regs_v(f.t(), before, row.out, row.what);
    EXPECT_EQ(f.t().cpu.hi, row.hi_out) << "HI";
    EXPECT_EQ(f.t().cpu.lo, row.lo_out) << "LO";
    test::expect_advanced(f.t(), before, row.what);
    EXPECT_EQ(f.s.step, 1u);
    EXPECT_EQ(f.s.steps_since_switch, 1u);
  }
}

// The harness itself must catch a wrong expectation, a write to an unexpected register and a
// missing panic (otherwise every table below could pass vacuously).
void wrong_value_row() { run_rows({r3(Op::addu, 1, 2, 4, "deliberately wrong: 1+2 != 4")}); }
void unexpected_write_row() {
  run_rows({Row{
      "addu writes $t2 but no change is expected", encode(Op::addu, kT0, kT1, kT2, 0, 0), {}, {}}});
}
void wrong_hilo_row() { run_rows({md(Op::mult, 3, 4, 0, 13, "deliberately wrong LO")}); }
void missing_panic() {
  VmFixture f;
  f.insn(encode(Op::addiu, 0, kT0, 0, 0, 1));
  f.step_panics("invalid instruction");
}
TEST(IsaHarness, DetectsWrongExpectations) {
  EXPECT_NONFATAL_FAILURE(wrong_value_row(), "register $10");
  EXPECT_NONFATAL_FAILURE(unexpected_write_row(), "register $10");
  EXPECT_NONFATAL_FAILURE(wrong_hilo_row(), "LO");
  EXPECT_FATAL_FAILURE(missing_panic(), "expected panic");
}

// ---------------------------------------------------------------------------------------------
// Three-register ALU (SPECIAL and SPECIAL2 mul): rd = f(rs, rt).
TEST(IsaAlu, ThreeRegister) {
  std::vector<Row> rows = {
      // add/addu: SignExtend(uint32(rs)+uint32(rt), 32); add does NOT trap on overflow.
      r3(Op::add, 1, 2, 3, "add 1+2 = 3"),
      r3(Op::add, 0x7fffffff, 1, 0xffffffff80000000,
         "add 0x7fffffff+1 = 0x80000000 (overflow, no trap), sign-extended"),
      r3(Op::add, 0xffffffff, 1, 0, "add 0xffffffff+1: low 32 bits wrap to 0"),
      r3(Op::add, 0x1234567800000005, 0xffffffff00000003, 8,
         "add uses only the low 32 bits: 5+3 = 8"),
      r3(Op::addu, 0x80000000, 0x80000000, 0,
         "addu 0x80000000+0x80000000 = 0x1_00000000 -> low 32 = 0"),
      r3(Op::addu, 0x7ffffffe, 1, 0x7fffffff, "addu 0x7ffffffe+1 = 0x7fffffff, positive"),
      r3(Op::addu, 0x00000000fffffff0, 0x8, 0xfffffffffffffff8,
         "addu 0xfffffff0+8 = 0xfffffff8, sign-extended"),
      // sub/subu: SignExtend(uint32(rs)-uint32(rt), 32); sub does NOT trap.
      r3(Op::sub, 0, 1, kM1, "sub 0-1 = 0xffffffff, sign-extended to -1"),
      r3(Op::sub, 0x80000000, 1, 0x7fffffff, "sub 0x80000000-1 = 0x7fffffff (overflow, no trap)"),
      r3(Op::subu, 5, 3, 2, "subu 5-3 = 2"),
      r3(Op::subu, 0xffffffff00000010, 0x0000000100000001, 0xf, "subu low 32: 0x10-1 = 0xf"),
      // Logic: 64-bit.
      r3(Op::and_, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f000f000f000f00,
         "and: ff00&0ff0 = 0f00 per halfword"),
      r3(Op::or_, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xfff0fff0fff0fff0,
         "or: ff00|0ff0 = fff0 per halfword"),
      r3(Op::xor_, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0,
         "xor: ff00^0ff0 = f0f0 per halfword"),
      r3(Op::nor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x000f000f000f000f,
         "nor: ~(fff0) = 000f per halfword"),
      r3(Op::nor, 0, 0, kM1, "nor 0,0 = all ones"),
      // slt/sltu: 64-bit signed / unsigned compare.
      r3(Op::slt, kM1, 1, 1, "slt -1 < 1"),
      r3(Op::slt, 1, kM1, 0, "slt 1 < -1 false"),
      r3(Op::slt, 5, 5, 0, "slt 5 < 5 false"),
      r3(Op::slt, kMin64, 0x7fffffffffffffff, 1, "slt INT64_MIN < INT64_MAX"),
      r3(Op::slt, 0x80000000, 0x7fffffff, 0, "slt compares 64 bits: 0x80000000 is positive"),
      r3(Op::sltu, kM1, 1, 0, "sltu 0xffff..ff < 1 false"),
      r3(Op::sltu, 1, kM1, 1, "sltu 1 < 0xffff..ff"),
      r3(Op::sltu, 5, 5, 0, "sltu 5 < 5 false"),
      // dadd/daddu/dsub/dsubu: 64-bit wrap, no trap.
      r3(Op::dadd, 0x7fffffffffffffff, 1, kMin64, "dadd INT64_MAX+1 wraps to INT64_MIN (no trap)"),
      r3(Op::dadd, kM1, 2, 1, "dadd -1+2 = 1"),
      r3(Op::daddu, 0xffffffff, 1, 0x100000000,
         "daddu 0xffffffff+1 = 0x1_00000000 (no 32-bit sign extension)"),
      r3(Op::dsub, kMin64, 1, 0x7fffffffffffffff, "dsub INT64_MIN-1 wraps to INT64_MAX (no trap)"),
      r3(Op::dsub, 0, 1, kM1, "dsub 0-1 = -1"),
      r3(Op::dsubu, 0x100000000, 1, 0xffffffff, "dsubu 0x1_00000000-1 = 0xffffffff"),
      // mul (SPECIAL2 0x02): SignExtend(int32(rs)*int32(rt), 32).
      r3(Op::mul, 3, 0xfffffffffffffffe, 0xfffffffffffffffa, "mul 3*-2 = -6"),
      r3(Op::mul, 0x10000, 0x10000, 0, "mul 0x10000*0x10000 = 2^32 -> int32 0"),
      r3(Op::mul, 0x7fffffff, 2, 0xfffffffffffffffe, "mul 0x7fffffff*2 = 0xfffffffe -> int32 -2"),
      r3(Op::mul, 0x100000003, 5, 15, "mul ignores rs bit 32: 3*5 = 15"),
      // movz/movn: rd = rs when rt == 0 / rt != 0 (full 64-bit test), else rd untouched.
      r3(Op::movz, 0x55, 0, 0x55, "movz rt==0 -> rd = rs"),
      r3(Op::movz, 0x55, 1, sentinel(kT2), "movz rt!=0 -> rd unchanged"),
      r3(Op::movz, 0x55, 0x100000000, sentinel(kT2),
         "movz tests all 64 bits of rt: 0x1_00000000 != 0"),
      r3(Op::movn, 0x55, 0x100000000, 0x55, "movn rt = 0x1_00000000 != 0 -> rd = rs"),
      r3(Op::movn, 0x55, 0, sentinel(kT2), "movn rt==0 -> rd unchanged"),
  };
  run_rows(rows);
  RecordProperty("rows", int(rows.size()));
}

// Shifts by immediate (sa): sll/srl/sra work on the low 32 bits and sign-extend;
// dsll/dsrl/dsra on 64 bits; the *32 forms shift by sa+32.
TEST(IsaAlu, ShiftImmediate) {
  std::vector<Row> rows = {
      sh(Op::sll, 1, 0, 1, "sll 1 by 0 = 1"),
      sh(Op::sll, 1, 31, 0xffffffff80000000, "sll 1 by 31 = 0x80000000, sign-extended"),
      sh(Op::sll, 0xffffffff00000001, 4, 0x10,
         "sll drops rt's upper half: (1<<4)&0xffffffff = 0x10"),
      sh(Op::sll, 0x40000000, 1, 0xffffffff80000000,
         "sll 0x40000000 by 1 = 0x80000000, sign-extended"),
      sh(Op::sll, 0x80000000, 0, 0xffffffff80000000, "sll by 0 still sign-extends bit 31"),
      sh(Op::sll, 0x00000000c0000000, 1, 0xffffffff80000000,
         "sll 0xc0000000 by 1: bit 32 dropped, 0x80000000"),
      sh(Op::srl, 0x80000000, 4, 0x08000000,
         "srl 0x80000000 by 4 = 0x08000000 (logical), positive"),
      sh(Op::srl, 0x80000000, 0, 0xffffffff80000000, "srl by 0: SignExtend(0x80000000, 32)"),
      sh(Op::srl, kM1, 31, 1, "srl 0xffffffff by 31 = 1"),
      sh(Op::srl, 0x123456789abcdef0, 8, 0x9abcde, "srl uses low 32: 0x9abcdef0>>8 = 0x009abcde"),
      sh(Op::sra, 0x80000000, 4, 0xfffffffff8000000,
         "sra 0x80000000 by 4: int32 >> 4 = 0xf8000000, sign-extended"),
      sh(Op::sra, 0x7fffffff, 31, 0, "sra 0x7fffffff by 31 = 0"),
      sh(Op::sra, 0x80000000, 31, kM1, "sra 0x80000000 by 31 = -1"),
      sh(Op::sra, 0x0000000f80000000, 0, 0xffffffff80000000,
         "sra by 0 ignores rt's upper half, sign-extends bit 31"),
      sh(Op::sra, 0xffffffff7ffffff0, 4, 0x07ffffff,
         "sra 0x7ffffff0 by 4 = 0x07ffffff (upper half of rt ignored)"),
      sh(Op::dsll, 1, 31, 0x80000000, "dsll 1 by 31 = 0x80000000, no sign extension"),
      sh(Op::dsll, 0x8000000000000001, 0, 0x8000000000000001, "dsll by 0 = rt"),
      sh(Op::dsll, 0xff00000000000001, 8, 0x0000000000000100, "dsll 8 drops the top byte"),
      sh(Op::dsrl, kMin64, 31, 0x100000000, "dsrl 2^63 by 31 = 2^32"),
      sh(Op::dsrl, kM1, 0, kM1, "dsrl by 0 = rt"),
      sh(Op::dsra, kMin64, 4, 0xf800000000000000, "dsra INT64_MIN by 4 = 0xf8.., arithmetic"),
      sh(Op::dsra, 0x7000000000000000, 31, 0xe0000000, "dsra 0x70..00 by 31 = 0xe0000000"),
      sh(Op::dsll32, 1, 0, 0x100000000, "dsll32 1 by 0+32 = 2^32"),
      sh(Op::dsll32, 1, 31, kMin64, "dsll32 1 by 31+32 = 2^63"),
      sh(Op::dsll32, 0x00000000ffffffff, 0, 0xffffffff00000000, "dsll32 0xffffffff by 32"),
      sh(Op::dsrl32, kMin64, 31, 1, "dsrl32 2^63 by 63 = 1"),
      sh(Op::dsrl32, 0xffffffff00000000, 0, 0xffffffff,
         "dsrl32 by 32: 0xffffffff, no sign extension"),
      sh(Op::dsra32, kMin64, 0, 0xffffffff80000000, "dsra32 INT64_MIN by 32 = 0xffffffff80000000"),
      sh(Op::dsra32, kMin64, 31, kM1, "dsra32 INT64_MIN by 63 = -1"),
      sh(Op::dsra32, 0x7000000000000000, 28, 7, "dsra32 0x70..00 by 60 = 7"),
  };
  run_rows(rows);
}

// Variable shifts: sllv/srlv/srav use rs & 31 (5 bits); dsllv/dsrlv/dsrav use rs & 63 (6 bits).
TEST(IsaAlu, ShiftVariable) {
  std::vector<Row> rows = {
      r3(Op::sllv, 33, 1, 2, "sllv by 33&31 = 1: 1<<1 = 2"),
      r3(Op::sllv, 0xffffffffffffffe0, 0x80000000, 0xffffffff80000000,
         "sllv by 0 (rs&31 = 0): sign-extends bit 31"),
      r3(Op::sllv, 31, 3, 0xffffffff80000000,
         "sllv 3 by 31 = 0x1_80000000 & 0xffffffff = 0x80000000, sign-extended"),
      r3(Op::srlv, 36, 0x80000000, 0x08000000, "srlv by 36&31 = 4: 0x08000000"),
      r3(Op::srlv, 0, 0xffffffff, kM1, "srlv by 0: SignExtend(0xffffffff) = -1"),
      r3(Op::srlv, 32, 0x1234567800000010, 0x10, "srlv by 32&31 = 0, low half only"),
      r3(Op::srav, 36, 0x80000000, 0xfffffffff8000000,
         "srav by 4: int32 0x80000000>>4 = 0xf8000000"),
      r3(Op::srav, 63, 0x40000000, 0, "srav by 63&31 = 31: 0x40000000>>31 = 0"),
      r3(Op::srav, 32, 0x17fffffff, 0x7fffffff, "srav by 32&31 = 0: low 32 = 0x7fffffff"),
      r3(Op::srav, 31, 0x80000000, kM1, "srav 0x80000000 by 31 = -1"),
      // dsllv/dsrlv/dsrav go through HandleHiLo: rd = val, HI/LO untouched.
      r3(Op::dsllv, 63, 1, kMin64, "dsllv 1 by 63 = 2^63"),
      r3(Op::dsllv, 64, 0x123, 0x123, "dsllv by 64&63 = 0"),
      r3(Op::dsllv, 32, 0xffffffff, 0xffffffff00000000, "dsllv by 32 (6-bit amount, not 5)"),
      r3(Op::dsrlv, 63, kMin64, 1, "dsrlv 2^63 by 63 = 1"),
      r3(Op::dsrlv, 68, 0xf0, 0xf, "dsrlv by 68&63 = 4"),
      r3(Op::dsrlv, 32, kM1, 0xffffffff, "dsrlv -1 by 32 = 0xffffffff (logical)"),
      r3(Op::dsrav, 63, kMin64, kM1, "dsrav INT64_MIN by 63 = -1"),
      r3(Op::dsrav, 4, kMin64, 0xf800000000000000, "dsrav INT64_MIN by 4"),
      r3(Op::dsrav, 32, 0x7fffffff00000000, 0x7fffffff, "dsrav by 32 (6-bit amount)"),
  };
  run_rows(rows);
}

// I-type ALU: addi/addiu sign-extend imm and the 32-bit result; daddi/daddiu are 64-bit;
// slti/sltiu compare with the sign-extended imm; andi/ori/xori zero-extend; lui sign-extends.
TEST(IsaAlu, Immediate) {
  std::vector<Row> rows = {
      im(Op::addi, 0x7fffffff, 1, 0xffffffff80000000,
         "addi 0x7fffffff+1 overflows without a trap; sign-extended"),
      im(Op::addi, 5, 0xfffb, 0, "addi 5 + (-5) = 0"),
      im(Op::addiu, 0, 0xffff, kM1, "addiu 0 + sext(0xffff) = -1"),
      im(Op::addiu, 0x1234567800000010, 0x8000, 0xffffffffffff8010,
         "addiu low32 0x10 + -0x8000 = 0xffff8010, sign-extended"),
      im(Op::addiu, 0x00000000fffffffe, 3, 1, "addiu 0xfffffffe+3 wraps to 1"),
      im(Op::daddi, 0x7fffffffffffffff, 1, kMin64, "daddi INT64_MAX+1 wraps (no trap)"),
      im(Op::daddiu, 0xffffffff, 1, 0x100000000, "daddiu 0xffffffff+1 = 0x1_00000000"),
      im(Op::daddiu, 0, 0x8000, 0xffffffffffff8000, "daddiu 0 + sext(0x8000) = -32768"),
      im(Op::slti, kM1, 0, 1, "slti -1 < 0"),
      im(Op::slti, 0, 0xffff, 0, "slti 0 < -1 false"),
      im(Op::slti, kMin64, 0x8000, 1, "slti INT64_MIN < -32768"),
      im(Op::slti, 0xffffffffffff8000, 0x8000, 0, "slti -32768 < -32768 false"),
      im(Op::slti, 0x80000000, 1, 0, "slti 64-bit signed: 0x80000000 is positive"),
      im(Op::sltiu, 5, 0xffff, 1, "sltiu 5 < sext(0xffff) = 0xffff..ff"),
      im(Op::sltiu, kM1, 0xffff, 0, "sltiu 0xffff..ff < 0xffff..ff false"),
      im(Op::sltiu, 0xffffffffffff7fff, 0x8000, 1, "sltiu 0xffff..7fff < 0xffff..8000"),
      im(Op::sltiu, 0x10, 0x10, 0, "sltiu 0x10 < 0x10 false"),
      im(Op::andi, kM1, 0x8000, 0x8000, "andi zero-extends: -1 & 0x8000 = 0x8000"),
      im(Op::andi, 0xffffffffffff00ff, 0xffff, 0xff, "andi clears the upper 48 bits"),
      im(Op::ori, kMin64, 0xffff, 0x800000000000ffff, "ori zero-extends 0xffff"),
      im(Op::ori, 0, 0x1234, 0x1234, "ori 0|0x1234"),
      im(Op::xori, kM1, 0x8001, 0xffffffffffff7ffe, "xori -1 ^ 0x8001 (zero-extended)"),
      im(Op::lui, 0, 0x8000, 0xffffffff80000000, "lui 0x8000 -> 0x80000000 sign-extended"),
      im(Op::lui, 0, 0x7fff, 0x7fff0000, "lui 0x7fff -> 0x7fff0000"),
      im(Op::lui, 0, 0xffff, 0xffffffffffff0000, "lui 0xffff -> 0xffff0000 sign-extended"),
      im(Op::lui, 0x1111, 0x1234, 0x12340000, "lui ignores the rs field"),
  };
  run_rows(rows);
}

// clz/clo count within the low 32 bits; dclz/dclo within 64 bits.
TEST(IsaAlu, CountLeading) {
  std::vector<Row> rows = {
      r2(Op::clz, 0, 32, "clz 0 = 32"),
      r2(Op::clz, 1, 31, "clz 1 = 31"),
      r2(Op::clz, 0x80000000, 0, "clz 0x80000000 = 0"),
      r2(Op::clz, 0xffffffff00010000, 15, "clz ignores the upper half: 0x00010000 -> 15"),
      r2(Op::clz, 0xffffffff00000000, 32, "clz of low half 0 = 32 even with upper ones"),
      r2(Op::clo, 0xffffffff, 32, "clo 0xffffffff = 32"),
      r2(Op::clo, kM1, 32,
         "clo of all-ones 64-bit = 32 (loop stops at bit 31 of the shifted value)"),
      r2(Op::clo, 0, 0, "clo 0 = 0"),
      r2(Op::clo, 0xfff00000, 12, "clo 0xfff00000 = 12"),
      r2(Op::clo, 0xffffffff7fffffff, 0, "clo low half 0x7fffffff = 0"),
      r2(Op::dclz, 0, 64, "dclz 0 = 64"),
      r2(Op::dclz, 1, 63, "dclz 1 = 63"),
      r2(Op::dclz, 0xffffffff, 32, "dclz 0x00000000ffffffff = 32"),
      r2(Op::dclz, kMin64, 0, "dclz 2^63 = 0"),
      r2(Op::dclo, kM1, 64, "dclo all-ones = 64"),
      r2(Op::dclo, 0, 0, "dclo 0 = 0"),
      r2(Op::dclo, 0xffffffff00000000, 32, "dclo 0xffffffff00000000 = 32"),
      r2(Op::dclo, 0xfffffffffffffffe, 63, "dclo 0xff..fe = 63"),
  };
  run_rows(rows);
}

// HI/LO: mult/multu (32-bit, both halves sign-extended), dmult/dmultu (128-bit),
// div/divu/ddiv/ddivu (Go truncating division, INT_MIN/-1 wraps with remainder 0).
TEST(IsaHiLo, MultDiv) {
  std::vector<Row> rows = {
      md(Op::mult, 3, 4, 0, 12, "mult 3*4 = 12"),
      md(Op::mult, 0xffffffff, 1, kM1, kM1, "mult -1*1 = -1: HI = SignExtend(0xffffffff), LO = -1"),
      md(Op::mult, 0x80000000, 0x80000000, 0x40000000, 0,
         "mult INT32_MIN^2 = 2^62: HI 0x40000000, LO 0"),
      md(Op::mult, 0x7fffffff, 0x7fffffff, 0x3fffffff, 1, "mult (2^31-1)^2 = 0x3fffffff_00000001"),
      md(Op::mult, 0x10000, 0x10000, 1, 0, "mult 2^16*2^16 = 2^32: HI 1, LO 0"),
      md(Op::mult, 0x0000ffff80000000, 2, kM1, 0,
         "mult uses int32(rs) = -2^31: *2 = -2^32 -> HI -1, LO 0"),
      md(Op::mult, 0x40000000, 2, 0, 0xffffffff80000000,
         "mult 2^30*2 = 0x80000000: LO sign-extended"),
      md(Op::multu, 0xffffffff, 0xffffffff, 0xfffffffffffffffe, 1,
         "multu (2^32-1)^2 = 0xfffffffe_00000001, HI sign-extended"),
      md(Op::multu, 0x80000000, 2, 1, 0, "multu 2^31*2 = 2^32"),
      md(Op::multu, 0x40000000, 2, 0, 0xffffffff80000000, "multu 0x80000000 in LO, sign-extended"),
      md(Op::multu, 0xffffffff00000003, 0xffffffff00000005, 0, 15,
         "multu uses low 32 bits only: 3*5"),
      md(Op::dmult, kM1, kM1, 0, 1, "dmult -1*-1 = 1"),
      md(Op::dmult, kM1, 1, kM1, kM1, "dmult -1*1 = -1 (128-bit)"),
      md(Op::dmult, kMin64, kMin64, 0x4000000000000000, 0, "dmult (-2^63)^2 = 2^126"),
      md(Op::dmult, kMin64, kM1, 0, kMin64, "dmult -2^63*-1 = +2^63: HI 0, LO 0x80.."),
      md(Op::dmult, kMin64, 1, kM1, kMin64, "dmult -2^63*1 = -2^63: HI -1"),
      md(Op::dmult, 0, 0xfffffffffffffffb, 0, 0, "dmult 0*-5 = 0 (negation of 0 stays 0)"),
      md(Op::dmult, 0x100000000, 0x100000000, 1, 0, "dmult 2^32*2^32 = 2^64"),
      md(Op::dmult, 0xfffffffffffffffe, 0x4000000000000000, kM1, kMin64, "dmult -2*2^62 = -2^63"),
      md(Op::dmultu, kM1, kM1, 0xfffffffffffffffe, 1, "dmultu (2^64-1)^2 = 2^128-2^65+1"),
      md(Op::dmultu, kMin64, 2, 1, 0, "dmultu 2^63*2 = 2^64"),
      md(Op::dmultu, kM1, 1, 0, kM1, "dmultu max*1"),
      md(Op::div, 7, 2, 1, 3, "div 7/2 = 3 rem 1"),
      md(Op::div, 0xfffffff9, 2, kM1, 0xfffffffffffffffd, "div -7/2 = -3 rem -1 (truncating)"),
      md(Op::div, 7, 0xfffffffe, 1, 0xfffffffffffffffd, "div 7/-2 = -3 rem 1"),
      md(Op::div, 0x80000000, 0xffffffff, 0, 0xffffffff80000000,
         "div INT32_MIN/-1 wraps to INT32_MIN, rem 0"),
      md(Op::div, 0x1234567800000064, 0xffffffff00000007, 2, 14,
         "div uses int32 operands: 100/7 = 14 rem 2"),
      md(Op::divu, 0xffffffff, 2, 1, 0x7fffffff, "divu 0xffffffff/2 = 0x7fffffff rem 1"),
      md(Op::divu, 0x80000000, 1, 0, 0xffffffff80000000, "divu 0x80000000/1: LO sign-extended"),
      md(Op::divu, 0xfffffffe, 0xffffffff, 0xfffffffffffffffe, 0,
         "divu 0xfffffffe/0xffffffff = 0 rem 0xfffffffe (sign-extended)"),
      md(Op::ddiv, kMin64, kM1, 0, kMin64, "ddiv INT64_MIN/-1 wraps, rem 0"),
      md(Op::ddiv, 0xfffffffffffffff9, 2, kM1, 0xfffffffffffffffd, "ddiv -7/2 = -3 rem -1"),
      md(Op::ddiv, 0x100000000, 0x10, 0, 0x10000000, "ddiv 2^32/16"),
      md(Op::ddiv, 0x300000000, 0x100000000, 0, 3,
         "ddiv by 0x1_00000000 is not a division by zero"),
      md(Op::ddivu, kM1, 2, 1, 0x7fffffffffffffff, "ddivu max/2"),
      md(Op::ddivu, 5, kM1, 5, 0, "ddivu 5/max = 0 rem 5"),
  };
  run_rows(rows);
}

// mfhi/mflo write rd; mthi/mtlo write HI/LO and ZERO a non-zero rd field (reference quirk:
// HandleHiLo writes val = 0 to storeReg); the same for mult/div with a non-zero rd field.
TEST(IsaHiLo, MoveAndRdQuirk) {
  std::vector<Row> rows = {
      {"mfhi: rd = HI", encode(Op::mfhi, 0, 0, kT2, 0, 0), {}, {{kT2, kHiIn}}},
      {"mflo: rd = LO", encode(Op::mflo, 0, 0, kT2, 0, 0), {}, {{kT2, kLoIn}}},
      {"mfhi to $zero: ignored", encode(Op::mfhi, 0, 0, 0, 0, 0), {}, {}},
      {"mthi: HI = rs, rd field 0",
       encode(Op::mthi, kT0, 0, 0, 0, 0),
       {{kT0, 0xabc}},
       {},
       0xabc,
       kLoIn},
      {"mtlo: LO = rs, rd field 0",
       encode(Op::mtlo, kT0, 0, 0, 0, 0),
       {{kT0, 0xdef}},
       {},
       kHiIn,
       0xdef},
      {"mthi with rd=$t2: HI = rs and $t2 = 0 (HandleHiLo writes val=0)",
       encode(Op::mthi, kT0, 0, kT2, 0, 0),
       {{kT0, 0xabc}},
       {{kT2, 0}},
       0xabc,
       kLoIn},
      {"mtlo with rd=$t2: LO = rs and $t2 = 0",
       encode(Op::mtlo, kT0, 0, kT2, 0, 0),
       {{kT0, 0xdef}},
       {{kT2, 0}},
       kHiIn,
       0xdef},
      {"mult with rd=$t2: $t2 = 0",
       encode(Op::mult, kT0, kT1, kT2, 0, 0),
       {{kT0, 3}, {kT1, 4}},
       {{kT2, 0}},
       0,
       12},
      {"divu with rd=$t2: $t2 = 0",
       encode(Op::divu, kT0, kT1, kT2, 0, 0),
       {{kT0, 7}, {kT1, 2}},
       {{kT2, 0}},
       1,
       3},
      {"dmultu with rd=$t2: $t2 = 0",
       encode(Op::dmultu, kT0, kT1, kT2, 0, 0),
       {{kT0, 2}, {kT1, 3}},
       {{kT2, 0}},
       0,
       6},
      {"mthi with rd=rs=$t0: HI = old rs, then $t0 = 0",
       encode(Op::mthi, kT0, 0, kT0, 0, 0),
       {{kT0, 0x77}},
       {{kT0, 0}},
       0x77,
       kLoIn},
  };
  run_rows(rows);
}

// sync writes rs to a non-zero rd field (HandleRd with val = rs); nop; writes to $zero ignored.
TEST(IsaAlu, SyncNopAndZeroRegister) {
  std::vector<Row> rows = {
      {"sync, rd 0: no effect", encode(Op::sync, 0, 0, 0, 0, 0), {}, {}},
      {"sync with rd=$t2: $t2 = rs (ExecuteMipsInstruction returns rs)",
       encode(Op::sync, kT0, 0, kT2, 0, 0),
       {{kT0, 0x1234}},
       {{kT2, 0x1234}}},
      {"nop (sll $0,$0,0)", 0x00000000u, {}, {}},
      {"addiu $zero, $t0, 5: ignored", encode(Op::addiu, kT0, 0, 0, 0, 5), {{kT0, 1}}, {}},
      {"addu $zero, $t0, $t1: ignored",
       encode(Op::addu, kT0, kT1, 0, 0, 0),
       {{kT0, 1}, {kT1, 2}},
       {}},
      {"lui $zero: ignored", encode(Op::lui, 0, 0, 0, 0, 0x1234), {}, {}},
      {"movz $zero: ignored", encode(Op::movz, kT0, 0, 0, 0, 0), {{kT0, 9}}, {}},
      {"sll $t2 from $zero reads 0", encode(Op::sll, 0, 0, kT2, 3, 0), {}, {{kT2, 0}}},
  };
  run_rows(rows);
}

// ---------------------------------------------------------------------------------------------
// Loads and stores. Memory: word 0x20000 = 81 82 83 84 85 86 87 88, word 0x20008 = 11 22 33 44
// 55 66 77 88 (big-endian bytes). rt before = 0xa1a2a3a4_b1b2b3b4.
constexpr uint64_t kW0 = 0x20000, kW1 = 0x20008;
constexpr uint64_t kMem0 = 0x8182838485868788ULL, kMem1 = 0x1122334455667788ULL;
constexpr uint64_t kRtIn = 0xa1a2a3a4b1b2b3b4ULL;

struct MemRow {
  Op op;
  uint64_t addr;
  uint64_t want;  // loads: rt after; stores: the word at addr & ~7 after
  const char* what;
};

void run_mem_rows(const std::vector<MemRow>& rows, bool is_store) {
  int i = 0;
  for (const MemRow& row : rows) {
    // Alternate a positive and a negative offset to exercise the sign-extended immediate.
    const bool neg = (i++ & 1) != 0;
    const uint64_t base = neg ? row.addr + 0x20 : row.addr - 0x10;
    const uint32_t imm = neg ? 0xffe0 : 0x10;
    const uint32_t insn = encode(row.op, kT0, kT1, 0, 0, imm);
    SCOPED_TRACE(std::string(row.what) + "  [" + disassemble(insn, kPC) + "] addr " +
                 test::hex64(row.addr));
    covered().insert(row.op);
    VmFixture f;
    fill_sentinels(f);
    f.s.memory->set_word(kW0, kMem0);
    f.s.memory->set_word(kW1, kMem1);
    f.reg(kT0) = base;
    f.reg(kT1) = kRtIn;
    f.insn(insn);
    Snap before(f.t());
    f.step_ok();
    test::expect_advanced(f.t(), before, row.what);
    if (is_store) {
      test::expect_regs_v(f.t(), before, {}, row.what);
      const uint64_t w = row.addr & ~uint64_t{7};
      EXPECT_EQ(f.s.memory->get_word(w), row.want)
          << "stored word " << test::hex64(f.s.memory->get_word(w));
      const uint64_t other = w == kW0 ? kW1 : kW0;
      EXPECT_EQ(f.s.memory->get_word(other), other == kW0 ? kMem0 : kMem1) << "neighbouring word";
    } else {
      test::expect_regs_v(f.t(), before, {{kT1, row.want}}, row.what);
      EXPECT_EQ(f.s.memory->get_word(kW0), kMem0);
      EXPECT_EQ(f.s.memory->get_word(kW1), kMem1);
    }
  }
}

TEST(IsaMem, Loads) {
  std::vector<MemRow> rows = {
      {Op::lb, kW0 + 0, 0xffffffffffffff81, "lb byte 0 = 0x81, sign-extended"},
      {Op::lb, kW0 + 7, 0xffffffffffffff88, "lb byte 7 = 0x88, sign-extended"},
      {Op::lb, kW1 + 1, 0x22, "lb 0x22"},
      {Op::lbu, kW0 + 0, 0x81, "lbu 0x81 zero-extended"},
      {Op::lbu, kW1 + 6, 0x77, "lbu 0x77"},
      {Op::lh, kW0 + 0, 0xffffffffffff8182, "lh 0x8182 sign-extended"},
      {Op::lh, kW0 + 1, 0xffffffffffff8182,
       "lh at odd address: aligned down to +0 within the word, no panic"},
      {Op::lh, kW0 + 6, 0xffffffffffff8788, "lh +6 = 0x8788"},
      {Op::lh, kW1 + 3, 0x3344, "lh +3 aligned down to +2 = 0x3344"},
      {Op::lhu, kW0 + 3, 0x8384, "lhu +3 aligned down to +2 = 0x8384 zero-extended"},
      {Op::lhu, kW0 + 7, 0x8788, "lhu +7 aligned down to +6"},
      {Op::lw, kW0 + 0, 0xffffffff81828384, "lw 0x81828384 sign-extended"},
      {Op::lw, kW0 + 4, 0xffffffff85868788, "lw +4 = 0x85868788 sign-extended"},
      {Op::lw, kW0 + 6, 0xffffffff85868788, "lw +6 aligned down to +4"},
      {Op::lw, kW1 + 0, 0x11223344, "lw 0x11223344"},
      {Op::lw, kW1 + 3, 0x11223344, "lw +3 aligned down to +0"},
      {Op::lwu, kW0 + 0, 0x81828384, "lwu +0: mem >> 32, zero-extended"},
      {Op::lwu, kW0 + 5, 0x85868788, "lwu +5: rs&4 = 4 -> shift 0"},
      {Op::lwu, kW0 + 3, 0x81828384, "lwu +3: rs&4 = 0 -> shift 32"},
      {Op::ld, kW0 + 0, kMem0, "ld whole word"},
      {Op::ld, kW0 + 3, kMem0, "ld +3: address aligned down to the 8-byte word"},
      {Op::ld, kW1 + 0, kMem1, "ld second word"},
      {Op::ld, 0x7000000, 0, "ld from an absent page reads 0"},
      {Op::lw, 0x7000004, 0, "lw from an absent page reads 0"},
      // lwl: w = 4-byte word containing addr; val = w << 8*(addr&3) (32-bit);
      // result = SignExtend((rt & ~mask) | val, 32) with mask = 0xffffffff << 8*(addr&3).
      {Op::lwl, kW1 + 0, 0x11223344, "lwl +0: 0x11223344"},
      {Op::lwl, kW1 + 1, 0x223344b4, "lwl +1: 0x22334400 | rt&0xff"},
      {Op::lwl, kW1 + 2, 0x3344b3b4, "lwl +2: 0x33440000 | rt&0xffff"},
      {Op::lwl, kW1 + 3, 0x44b2b3b4, "lwl +3: 0x44000000 | rt&0xffffff"},
      {Op::lwl, kW1 + 4, 0x55667788, "lwl +4: second half 0x55667788"},
      {Op::lwl, kW1 + 5, 0x667788b4, "lwl +5"},
      {Op::lwl, kW1 + 6, 0x7788b3b4, "lwl +6"},
      {Op::lwl, kW1 + 7, 0xffffffff88b2b3b4, "lwl +7: 0x88b2b3b4, sign-extended"},
      {Op::lwl, kW0 + 0, 0xffffffff81828384, "lwl +0 negative word, sign-extended"},
      {Op::lwl, kW0 + 1, 0xffffffff828384b4, "lwl +1 negative"},
      // lwr: val = w >> (24 - 8*(addr&3)); mask = 0xffffffff >> same; r = (rt32 & ~mask) | val;
      // addr&3 == 3 -> SignExtend(r, 32), else rt's upper half is kept.
      {Op::lwr, kW1 + 0, 0xa1a2a3a4b1b2b311, "lwr +0: low byte 0x11, rt's upper half kept"},
      {Op::lwr, kW1 + 1, 0xa1a2a3a4b1b21122, "lwr +1"},
      {Op::lwr, kW1 + 2, 0xa1a2a3a4b1112233, "lwr +2"},
      {Op::lwr, kW1 + 3, 0x0000000011223344,
       "lwr +3: full word, sign-extended (upper half replaced)"},
      {Op::lwr, kW1 + 4, 0xa1a2a3a4b1b2b355, "lwr +4 (second half)"},
      {Op::lwr, kW1 + 5, 0xa1a2a3a4b1b25566, "lwr +5"},
      {Op::lwr, kW1 + 6, 0xa1a2a3a4b1556677, "lwr +6"},
      {Op::lwr, kW1 + 7, 0x0000000055667788, "lwr +7: full word, sign-extended"},
      {Op::lwr, kW0 + 3, 0xffffffff81828384, "lwr +3 negative word sign-extended"},
      {Op::lwr, kW0 + 2, 0xa1a2a3a4b1818283, "lwr +2 negative word: upper half of rt kept"},
      // ldl: sl = 8*(addr&7); (mem << sl) | (rt & ~(~0 << sl)).
      {Op::ldl, kW1 + 0, 0x1122334455667788, "ldl +0"},
      {Op::ldl, kW1 + 1, 0x22334455667788b4, "ldl +1"},
      {Op::ldl, kW1 + 2, 0x334455667788b3b4, "ldl +2"},
      {Op::ldl, kW1 + 3, 0x4455667788b2b3b4, "ldl +3"},
      {Op::ldl, kW1 + 4, 0x55667788b1b2b3b4, "ldl +4"},
      {Op::ldl, kW1 + 5, 0x667788a4b1b2b3b4, "ldl +5"},
      {Op::ldl, kW1 + 6, 0x7788a3a4b1b2b3b4, "ldl +6"},
      {Op::ldl, kW1 + 7, 0x88a2a3a4b1b2b3b4, "ldl +7"},
      // ldr: sr = 56 - 8*(addr&7); (mem >> sr) | (rt & (~0 << (64 - sr))), Go: << 64 = 0.
      {Op::ldr, kW1 + 0, 0xa1a2a3a4b1b2b311, "ldr +0"},
      {Op::ldr, kW1 + 1, 0xa1a2a3a4b1b21122, "ldr +1"},
      {Op::ldr, kW1 + 2, 0xa1a2a3a4b1112233, "ldr +2"},
      {Op::ldr, kW1 + 3, 0xa1a2a3a411223344, "ldr +3"},
      {Op::ldr, kW1 + 4, 0xa1a2a31122334455, "ldr +4"},
      {Op::ldr, kW1 + 5, 0xa1a2112233445566, "ldr +5"},
      {Op::ldr, kW1 + 6, 0xa111223344556677, "ldr +6"},
      {Op::ldr, kW1 + 7, 0x1122334455667788, "ldr +7: sr = 0, mask = ~0 << 64 = 0 in Go -> mem"},
  };
  run_mem_rows(rows, false);
}

TEST(IsaMem, Stores) {
  // Word 0x20000 = 0x8182838485868788 before; rt = 0xa1a2a3a4_b1b2b3b4.
  std::vector<MemRow> rows = {
      {Op::sb, kW0 + 0, 0xb482838485868788, "sb +0: low byte of rt"},
      {Op::sb, kW0 + 3, 0x818283b485868788, "sb +3"},
      {Op::sb, kW0 + 7, 0x81828384858687b4, "sb +7"},
      {Op::sh, kW0 + 0, 0xb3b4838485868788, "sh +0: low halfword of rt"},
      {Op::sh, kW0 + 1, 0xb3b4838485868788, "sh +1: aligned down to +0, no panic"},
      {Op::sh, kW0 + 6, 0x818283848586b3b4, "sh +6"},
      {Op::sh, kW0 + 7, 0x818283848586b3b4, "sh +7 aligned down to +6"},
      {Op::sw, kW0 + 0, 0xb1b2b3b485868788, "sw +0"},
      {Op::sw, kW0 + 4, 0x81828384b1b2b3b4, "sw +4"},
      {Op::sw, kW0 + 6, 0x81828384b1b2b3b4, "sw +6 aligned down to +4"},
      {Op::sd, kW0 + 0, kRtIn, "sd +0"},
      {Op::sd, kW0 + 5, kRtIn, "sd +5: aligned down to the word"},
      // swl: sr = 8*(addr&3); val = ((rt & 0xffffffff) >> sr) << (32 - 8*(addr&4));
      // mask = (0xffffffff >> sr) << same; (mem & ~mask) | val.
      {Op::swl, kW0 + 0, 0xb1b2b3b485868788, "swl +0"},
      {Op::swl, kW0 + 1, 0x81b1b2b385868788, "swl +1"},
      {Op::swl, kW0 + 2, 0x8182b1b285868788, "swl +2"},
      {Op::swl, kW0 + 3, 0x818283b185868788, "swl +3"},
      {Op::swl, kW0 + 4, 0x81828384b1b2b3b4, "swl +4"},
      {Op::swl, kW0 + 5, 0x8182838485b1b2b3, "swl +5"},
      {Op::swl, kW0 + 6, 0x818283848586b1b2, "swl +6"},
      {Op::swl, kW0 + 7, 0x81828384858687b1, "swl +7"},
      // swr: w = 4-byte word; val = uint32(rt << (24 - 8*(addr&3))); mask = 0xffffffff << same;
      // (w & ~mask) | val written back into the 4-byte word.
      {Op::swr, kW0 + 0, 0xb482838485868788, "swr +0"},
      {Op::swr, kW0 + 1, 0xb3b4838485868788, "swr +1"},
      {Op::swr, kW0 + 2, 0xb2b3b48485868788, "swr +2"},
      {Op::swr, kW0 + 3, 0xb1b2b3b485868788, "swr +3"},
      {Op::swr, kW0 + 4, 0x81828384b4868788, "swr +4"},
      {Op::swr, kW0 + 5, 0x81828384b3b48788, "swr +5"},
      {Op::swr, kW0 + 6, 0x81828384b2b3b488, "swr +6"},
      {Op::swr, kW0 + 7, 0x81828384b1b2b3b4, "swr +7"},
      // sdl: sr = 8*(addr&7); (rt >> sr) | (mem & ~(~0 >> sr)).
      {Op::sdl, kW0 + 0, 0xa1a2a3a4b1b2b3b4, "sdl +0"},
      {Op::sdl, kW0 + 1, 0x81a1a2a3a4b1b2b3, "sdl +1"},
      {Op::sdl, kW0 + 2, 0x8182a1a2a3a4b1b2, "sdl +2"},
      {Op::sdl, kW0 + 3, 0x818283a1a2a3a4b1, "sdl +3"},
      {Op::sdl, kW0 + 4, 0x81828384a1a2a3a4, "sdl +4"},
      {Op::sdl, kW0 + 5, 0x8182838485a1a2a3, "sdl +5"},
      {Op::sdl, kW0 + 6, 0x818283848586a1a2, "sdl +6"},
      {Op::sdl, kW0 + 7, 0x81828384858687a1, "sdl +7"},
      // sdr: sl = 56 - 8*(addr&7); (rt << sl) | (mem & ~(~0 << sl)).
      {Op::sdr, kW0 + 0, 0xb482838485868788, "sdr +0"},
      {Op::sdr, kW0 + 1, 0xb3b4838485868788, "sdr +1"},
      {Op::sdr, kW0 + 2, 0xb2b3b48485868788, "sdr +2"},
      {Op::sdr, kW0 + 3, 0xb1b2b3b485868788, "sdr +3"},
      {Op::sdr, kW0 + 4, 0xa4b1b2b3b4868788, "sdr +4"},
      {Op::sdr, kW0 + 5, 0xa3a4b1b2b3b48788, "sdr +5"},
      {Op::sdr, kW0 + 6, 0xa2a3a4b1b2b3b488, "sdr +6"},
      {Op::sdr, kW0 + 7, 0xa1a2a3a4b1b2b3b4, "sdr +7"},
  };
  run_mem_rows(rows, true);
}

TEST(IsaMem, StoreToAbsentPageAllocatesIt) {
  VmFixture f;
  const uint64_t addr = 0x5000000;  // no page there
  EXPECT_EQ(f.s.memory->lookup(addr >> 12), nullptr);
  f.reg(kT0) = addr;
  f.reg(kT1) = 0x1122;
  f.insn(encode(Op::sh, kT0, kT1, 0, 0, 2));  // sh at +2: bits 47..32 of the word
  f.step_ok();
  EXPECT_EQ(f.s.memory->get_word(addr), 0x0000112200000000u);
  // A word-sized store at the last word of a page and a load of the next page's first word:
  // 8-aligned words never straddle a page.
  VmFixture g;
  g.reg(kT0) = 0x5000ff8;
  g.reg(kT1) = kM1;
  g.insn(encode(Op::sd, kT0, kT1, 0, 0, 0));
  g.step_ok();
  EXPECT_EQ(g.s.memory->get_word(0x5000ff8), kM1);
  EXPECT_EQ(g.s.memory->get_word(0x5001000), 0u);
  EXPECT_EQ(g.s.memory->lookup(0x5001), nullptr) << "the next page must not be allocated";
}

TEST(IsaMem, LoadIntoZeroRegisterIgnored) {
  VmFixture f;
  f.s.memory->set_word(kW0, kMem0);
  f.reg(kT0) = kW0;
  f.insn(encode(Op::ld, kT0, 0, 0, 0, 0));
  f.step_ok();
  EXPECT_EQ(f.t().regs[0], 0u);
}

// Self-modifying store: a store into the word holding the next instruction is seen by the
// next fetch (the reference fetches from memory every step).
TEST(IsaMem, StoreThenFetchSeesNewInstruction) {
  VmFixture f;
  f.reg(kT0) = kPC;  // word holding PC and PC+4
  // sw $t1, 4($t0) overwrites the instruction at PC+4 with addiu $t2, $zero, 7.
  f.reg(kT1) = encode(Op::addiu, 0, kT2, 0, 0, 7);
  f.insn(encode(Op::sw, kT0, kT1, 0, 0, 4));
  f.insn_at(kPC + 4, 0);  // nop, to be overwritten
  f.step_ok();
  f.step_ok();
  EXPECT_EQ(f.reg(kT2), 7u);
}

// ---------------------------------------------------------------------------------------------
// Branches (HandleBranch): PC <- NextPC; taken: NextPC = PC + 4 + (sext(imm) << 2), not taken:
// NextPC + 4. bltzal/bgezal link $ra = PC + 8 whether or not taken. Other REGIMM rt values are
// branches that are never taken (no panic).
struct BrRow {
  uint32_t insn;
  uint64_t rs, rt;
  bool taken;
  uint64_t target;
  bool link;
  const char* what;
};

TEST(IsaBranch, Table) {
  const uint64_t fall = kPC + 8;  // not taken: NextPC + 4
  auto b2 = [](Op op, uint32_t imm) { return encode(op, kT0, kT1, 0, 0, imm); };
  auto b1 = [](Op op, uint32_t imm) { return encode(op, kT0, 0, 0, 0, imm); };
  auto regimm = [](unsigned rt, uint32_t imm) {
    return (1u << 26) | (kT0 << 21) | (rt << 16) | imm;
  };
  std::vector<BrRow> rows = {
      {b2(Op::beq, 0x10), 5, 5, true, kPC + 4 + 0x40, false, "beq equal: 0x10004 + 0x10<<2"},
      {b2(Op::beq, 0x10), 5, 6, false, fall, false, "beq not equal"},
      {b2(Op::beq, 0xffff), 5, 5, true, kPC, false, "beq imm -1: 0x10004 - 4 = PC (loop)"},
      {b2(Op::beq, 0x10), 0x100000005, 5, false, fall, false, "beq compares all 64 bits"},
      {b2(Op::bne, 0x20), 1, 2, true, kPC + 4 + 0x80, false, "bne taken"},
      {b2(Op::bne, 0x20), 2, 2, false, fall, false, "bne not taken"},
      {b1(Op::blez, 3), 0, 0, true, kPC + 4 + 12, false, "blez 0 taken"},
      {b1(Op::blez, 3), kMin64, 0, true, kPC + 4 + 12, false, "blez INT64_MIN taken"},
      {b1(Op::blez, 3), 1, 0, false, fall, false, "blez 1 not taken"},
      {b1(Op::blez, 3), 0x80000000, 0, false, fall, false,
       "blez 0x80000000 is positive in 64 bits"},
      {b1(Op::bgtz, 3), 1, 0, true, kPC + 4 + 12, false, "bgtz 1 taken"},
      {b1(Op::bgtz, 3), 0, 0, false, fall, false, "bgtz 0 not taken"},
      {b1(Op::bgtz, 3), kM1, 0, false, fall, false, "bgtz -1 not taken"},
      {b1(Op::bgtz, 3), 0x80000000, 0, true, kPC + 4 + 12, false, "bgtz 0x80000000 taken (64-bit)"},
      {b1(Op::bltz, 0xfffe), kM1, 0, true, kPC + 4 - 8, false, "bltz -1 taken, backwards"},
      {b1(Op::bltz, 0xfffe), 0, 0, false, fall, false, "bltz 0 not taken"},
      {b1(Op::bltz, 0xfffe), 0x80000000, 0, false, fall, false,
       "bltz 0x80000000 not taken (64-bit)"},
      {b1(Op::bgez, 5), 0, 0, true, kPC + 4 + 20, false, "bgez 0 taken"},
      {b1(Op::bgez, 5), kM1, 0, false, fall, false, "bgez -1 not taken"},
      {b1(Op::bltzal, 5), kM1, 0, true, kPC + 4 + 20, true, "bltzal taken, links"},
      {b1(Op::bltzal, 5), 0, 0, false, fall, true, "bltzal not taken still links $ra = PC+8"},
      {b1(Op::bgezal, 5), 0, 0, true, kPC + 4 + 20, true, "bgezal taken, links"},
      {b1(Op::bgezal, 5), kM1, 0, false, fall, true, "bgezal not taken still links"},
      {regimm(0x02, 5), kM1, 0, false, fall, false,
       "REGIMM rt=2 (bltzl): never taken, no link, no panic"},
      {regimm(0x03, 5), 0, 0, false, fall, false, "REGIMM rt=3 (bgezl): never taken"},
      {regimm(0x12, 5), kM1, 0, false, fall, false,
       "REGIMM rt=0x12 (bltzall): never taken, no link"},
      {regimm(0x1f, 5), 0, 0, false, fall, false, "REGIMM rt=0x1f: never taken"},
  };
  for (const BrRow& row : rows) {
    SCOPED_TRACE(std::string(row.what) + "  [" + disassemble(row.insn, kPC) + "]");
    covered().insert(decode(row.insn));
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = row.rs;
    f.reg(kT1) = row.rt;
    f.insn(row.insn);
    Snap before(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.pc, kPC + 4) << "PC = old NextPC (delay slot next)";
    EXPECT_EQ(f.t().cpu.next_pc, row.taken ? row.target : fall) << "NextPC";
    if (row.link)
      test::expect_regs_v(f.t(), before, {{31, kPC + 8}}, row.what);
    else
      test::expect_regs_v(f.t(), before, {}, row.what);
  }
}

TEST(IsaBranch, LargeNegativeOffset) {
  // beq imm 0x8000 = -32768 words: 0x100004 - 0x20000 = 0xe0004.
  VmFixture f(0x100000);
  f.insn(encode(Op::beq, 0, 0, 0, 0, 0x8000));
  f.step_ok();
  EXPECT_EQ(f.t().cpu.pc, 0x100004u);
  EXPECT_EQ(f.t().cpu.next_pc, 0xe0004u);
}

// A taken branch runs its delay slot, then continues at the target.
TEST(IsaBranch, DelaySlotExecutesThenTarget) {
  VmFixture f;
  f.insn(encode(Op::beq, 0, 0, 0, 0, 0x10));               // taken, target 0x10044
  f.insn_at(kPC + 4, encode(Op::addiu, 0, kT2, 0, 0, 9));  // delay slot
  f.insn_at(kPC + 8, encode(Op::addiu, 0, kT3, 0, 0, 1));
  f.step_ok();
  EXPECT_EQ(f.t().cpu.pc, kPC + 4);
  EXPECT_EQ(f.t().cpu.next_pc, kPC + 0x44);
  f.step_ok();
  EXPECT_EQ(f.reg(kT2), 9u) << "delay slot executed";
  EXPECT_EQ(f.t().cpu.pc, kPC + 0x44);
  EXPECT_EQ(f.t().cpu.next_pc, kPC + 0x48);
}

// ---------------------------------------------------------------------------------------------
// Jumps (HandleJump): PC <- NextPC, NextPC <- target; link = PC + 8.
// j/jal target = (NextPC & 0xFFFFFFFFF0000000) | (index << 2).
TEST(IsaJump, Table) {
  for (Op op : {Op::j, Op::jal, Op::jr, Op::jalr}) covered().insert(op);
  {  // j: target from the 26-bit index.
    VmFixture f;
    fill_sentinels(f);
    f.insn(encode(Op::j, 0, 0, 0, 0, 0x1234));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.pc, kPC + 4);
    EXPECT_EQ(f.t().cpu.next_pc, 0x48d0u) << "(0x10004 & ~0xfffffff) | 0x1234<<2";
    test::expect_regs_v(f.t(), b, {}, "j");
  }
  {  // j uses NextPC's 256 MiB region, not PC's: PC = 0x1_2ffffffc, NextPC = 0x1_30000000.
    VmFixture f(0x12ffffffcULL);
    f.insn(encode(Op::j, 0, 0, 0, 0, 0x10));
    f.step_ok();
    EXPECT_EQ(f.t().cpu.pc, 0x130000000u);
    EXPECT_EQ(f.t().cpu.next_pc, 0x130000040u) << "(0x130000000 & 0xfffffffff0000000) | 0x40";
  }
  {  // j with the largest index.
    VmFixture f(0xabcd00000ULL);
    f.insn(encode(Op::j, 0, 0, 0, 0, 0x3ffffff));
    f.step_ok();
    EXPECT_EQ(f.t().cpu.next_pc, 0xabffffffcULL) << "(0xa_bcd00004 & ~0xfffffff) | 0x3ffffff<<2";
  }
  {  // jal links $ra = PC + 8.
    VmFixture f;
    fill_sentinels(f);
    f.insn(encode(Op::jal, 0, 0, 0, 0, 0x100));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.pc, kPC + 4);
    EXPECT_EQ(f.t().cpu.next_pc, 0x400u);
    test::expect_regs_v(f.t(), b, {{31, kPC + 8}}, "jal");
  }
  {  // jr: NextPC = rs (full 64 bits).
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = 0x123456789abcdef0ULL;
    f.insn(encode(Op::jr, kT0, 0, 0, 0, 0));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.pc, kPC + 4);
    EXPECT_EQ(f.t().cpu.next_pc, 0x123456789abcdef0ULL);
    test::expect_regs_v(f.t(), b, {}, "jr");
  }
  {  // jalr $ra, $t0.
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = 0x40000;
    f.insn(encode(Op::jalr, kT0, 0, 31, 0, 0));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.next_pc, 0x40000u);
    test::expect_regs_v(f.t(), b, {{31, kPC + 8}}, "jalr $ra");
  }
  {  // jalr $t2, $t0: link into rd.
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = 0x40000;
    f.insn(encode(Op::jalr, kT0, 0, kT2, 0, 0));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.next_pc, 0x40000u);
    test::expect_regs_v(f.t(), b, {{kT2, kPC + 8}}, "jalr $t2");
  }
  {  // jalr rd == rs: the target is the OLD rs, then rs = PC + 8.
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = 0x40000;
    f.insn(encode(Op::jalr, kT0, 0, kT0, 0, 0));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.next_pc, 0x40000u);
    test::expect_regs_v(f.t(), b, {{kT0, kPC + 8}}, "jalr rd==rs");
  }
  {  // jalr $zero, $t0: no link.
    VmFixture f;
    fill_sentinels(f);
    f.reg(kT0) = 0x40000;
    f.insn(encode(Op::jalr, kT0, 0, 0, 0, 0));
    Snap b(f.t());
    f.step_ok();
    EXPECT_EQ(f.t().cpu.next_pc, 0x40000u);
    test::expect_regs_v(f.t(), b, {}, "jalr $zero");
  }
}

// jr to an unaligned address: fine at the jump, panics at the fetch two steps later.
TEST(IsaJump, UnalignedTargetPanicsAtFetch) {
  VmFixture f;
  f.reg(kT0) = 0x20006;
  f.insn(encode(Op::jr, kT0, 0, 0, 0, 0));
  f.insn_at(kPC + 4, 0);  // delay slot nop
  f.step_ok();
  f.step_ok();
  EXPECT_EQ(f.t().cpu.pc, 0x20006u);
  f.step_panics("unaligned instruction fetch");
}

// ---------------------------------------------------------------------------------------------
// Panics: the step must report kPanic with the reference's message.
struct PanicRow {
  uint32_t insn;
  uint64_t pc, next_pc;
  uint64_t rs, rt;
  const char* message;  // prefix
  const char* what;
};

TEST(IsaPanic, Table) {
  const uint64_t ds = 0x20000;  // NextPC != PC + 4: we are in a delay slot
  std::vector<PanicRow> rows = {
      {encode(Op::beq, 0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot",
       "beq taken in a delay slot"},
      {encode(Op::bne, kT0, kT1, 0, 0, 4), kPC, ds, 1, 1, "branch in delay slot",
       "bne not taken in a delay slot"},
      {encode(Op::blez, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "blez"},
      {encode(Op::bgtz, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "bgtz"},
      {encode(Op::bltz, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "bltz"},
      {encode(Op::bgez, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "bgez"},
      {encode(Op::bltzal, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "bltzal"},
      {encode(Op::bgezal, kT0, 0, 0, 0, 4), kPC, ds, 0, 0, "branch in delay slot", "bgezal"},
      {(1u << 26) | (2u << 16) | 4u, kPC, ds, 0, 0, "branch in delay slot",
       "REGIMM never-taken in a delay slot"},
      {encode(Op::j, 0, 0, 0, 0, 0x100), kPC, ds, 0, 0, "jump in delay slot", "j"},
      {encode(Op::jal, 0, 0, 0, 0, 0x100), kPC, ds, 0, 0, "jump in delay slot", "jal"},
      {encode(Op::jr, kT0, 0, 0, 0, 0), kPC, ds, 0x40000, 0, "jump in delay slot", "jr"},
      {encode(Op::jalr, kT0, 0, 31, 0, 0), kPC, ds, 0x40000, 0, "jump in delay slot", "jalr"},
      {0, kPC + 2, kPC + 6, 0, 0, "unaligned instruction fetch", "PC % 4 == 2"},
      {0, kPC + 1, kPC + 5, 0, 0, "unaligned instruction fetch", "PC % 4 == 1"},
      {encode(Op::div, kT0, kT1, 0, 0, 0), kPC, kPC + 4, 1, 0, "instruction divide by zero",
       "div by 0"},
      {encode(Op::div, kT0, kT1, 0, 0, 0), kPC, kPC + 4, 1, 0x100000000,
       "instruction divide by zero", "div: uint32(rt) == 0 even though rt != 0"},
      {encode(Op::divu, kT0, kT1, 0, 0, 0), kPC, kPC + 4, 1, 0, "instruction divide by zero",
       "divu by 0"},
      {encode(Op::ddiv, kT0, kT1, 0, 0, 0), kPC, kPC + 4, 1, 0, "instruction divide by zero",
       "ddiv by 0"},
      {encode(Op::ddivu, kT0, kT1, 0, 0, 0), kPC, kPC + 4, 1, 0, "instruction divide by zero",
       "ddivu by 0"},
  };
  // Invalid instructions: primary opcodes the VM does not implement...
  for (uint32_t opc : {0x10u, 0x11u, 0x12u, 0x13u, 0x14u, 0x15u, 0x16u, 0x17u, 0x1du, 0x1eu, 0x1fu,
                       0x2fu, 0x31u, 0x32u, 0x33u, 0x35u, 0x36u, 0x39u, 0x3au, 0x3bu, 0x3du, 0x3eu})
    rows.push_back({(opc << 26) | (kT0 << 21) | (kT1 << 16), kPC, kPC + 4, 0x20000, 0,
                    "invalid instruction", "unimplemented primary opcode"});
  // ...SPECIAL functs (break, traps, 0x15, ...)...
  for (uint32_t fn : {0x01u, 0x05u, 0x0du, 0x0eu, 0x15u, 0x28u, 0x29u, 0x30u, 0x31u, 0x32u, 0x33u,
                      0x34u, 0x35u, 0x36u, 0x37u, 0x39u, 0x3du})
    rows.push_back({(kT0 << 21) | (kT1 << 16) | (kT2 << 11) | fn, kPC, kPC + 4, 1, 1,
                    "invalid instruction", "unimplemented SPECIAL funct"});
  // ...and SPECIAL2 functs (madd, maddu, msub, sdbbp, ...).
  for (uint32_t fn : {0x00u, 0x01u, 0x03u, 0x04u, 0x05u, 0x22u, 0x23u, 0x26u, 0x3fu})
    rows.push_back({(0x1cu << 26) | (kT0 << 21) | (kT1 << 16) | (kT2 << 11) | fn, kPC, kPC + 4, 1,
                    1, "invalid instruction", "unimplemented SPECIAL2 funct"});
  // The FPU word the panic guest executes.
  rows.push_back({0x46000000u, kPC, kPC + 4, 0, 0, "invalid instruction", "add.s (COP1)"});
  for (const PanicRow& row : rows) {
    SCOPED_TRACE(std::string(row.what) + " insn " + test::hex64(row.insn));
    covered().insert(decode(row.insn));
    VmFixture f(row.pc);
    f.t().cpu.next_pc = row.next_pc;
    f.reg(kT0) = row.rs;
    f.reg(kT1) = row.rt;
    f.insn_at(row.pc & ~uint64_t{3}, row.insn);
    f.step_panics(row.message);
  }
  RecordProperty("rows", int(rows.size()));
}

// ---------------------------------------------------------------------------------------------
// LL/SC and LLD/SCD (handleRMWOps): a reservation is (status 1 = 32-bit / 2 = 64-bit, the exact
// address, the thread id). SC succeeds only on a full match: stores, writes rt = 1 and clears
// the reservation; otherwise rt = 0 and memory is untouched. Any store to the reserved 8-byte
// word (handleMemoryUpdate: effAddr == LLAddress & ~7) clears the reservation.
struct Rmw {
  VmFixture f;
  Rmw() {
    f.s.memory->set_word(kW0, kMem0);
    f.s.memory->set_word(kW1, kMem1);
  }
  // Executes one instruction at the current PC.
  void exec(uint32_t insn) {
    covered().insert(decode(insn));
    f.insn(insn);
    f.step_ok();
  }
};

TEST(IsaRmw, LlScSuccess) {
  Rmw r;
  r.f.t().id = 3;
  r.f.reg(kT0) = kW0;
  r.exec(encode(Op::ll, kT0, kT1, 0, 0, 4));  // ll $t1, 4($t0): 0x85868788 sign-extended
  EXPECT_EQ(r.f.reg(kT1), 0xffffffff85868788u);
  EXPECT_EQ(r.f.s.ll_status, kLLActive32);
  EXPECT_EQ(r.f.s.ll_address, kW0 + 4);
  EXPECT_EQ(r.f.s.ll_owner, 3u);
  r.f.reg(kT1) = 0xaaaaaaaa12345678ULL;
  r.exec(encode(Op::sc, kT0, kT1, 0, 0, 4));  // sc $t1, 4($t0): stores low 32 bits
  EXPECT_EQ(r.f.reg(kT1), 1u);
  EXPECT_EQ(r.f.s.memory->get_word(kW0), 0x8182838412345678u);
  EXPECT_EQ(r.f.s.ll_status, kLLNone);
  EXPECT_EQ(r.f.s.ll_address, 0u);
  EXPECT_EQ(r.f.s.ll_owner, 0u);
  // A second sc without a new ll fails.
  r.f.reg(kT1) = 0x99;
  r.exec(encode(Op::sc, kT0, kT1, 0, 0, 4));
  EXPECT_EQ(r.f.reg(kT1), 0u);
  EXPECT_EQ(r.f.s.memory->get_word(kW0), 0x8182838412345678u);
}

TEST(IsaRmw, LldScdSuccessUnalignedAddress) {
  Rmw r;
  r.f.reg(kT0) = kW1;
  r.exec(
      encode(Op::lld, kT0, kT1, 0, 0, 4));  // lld at +4: whole 8-byte word (byteIndex masked to 0)
  EXPECT_EQ(r.f.reg(kT1), kMem1);
  EXPECT_EQ(r.f.s.ll_status, kLLActive64);
  EXPECT_EQ(r.f.s.ll_address, kW1 + 4);
  r.f.reg(kT1) = 0x0102030405060708ULL;
  r.exec(encode(Op::scd, kT0, kT1, 0, 0, 4));
  EXPECT_EQ(r.f.reg(kT1), 1u);
  EXPECT_EQ(r.f.s.memory->get_word(kW1), 0x0102030405060708u);
  EXPECT_EQ(r.f.s.ll_status, kLLNone);
}

TEST(IsaRmw, ScFailures) {
  struct Case {
    const char* what;
    std::function<void(Rmw&)> between;  // runs after ll $t1, 0($t0) at 0x20000
    uint32_t sc;
  };
  const uint32_t sc0 = encode(Op::sc, kT0, kT1, 0, 0, 0);
  std::vector<Case> cases = {
      {"sw to the other half of the reserved word clears the reservation",
       [](Rmw& r) {
         r.f.reg(kT2) = 0x1;
         r.exec(encode(Op::sw, kT0, kT2, 0, 0, 4));
       },
       sc0},
      {"sb to the reserved word", [](Rmw& r) { r.exec(encode(Op::sb, kT0, 0, 0, 0, 7)); }, sc0},
      {"sd to the reserved word", [](Rmw& r) { r.exec(encode(Op::sd, kT0, 0, 0, 0, 0)); }, sc0},
      {"swl to the reserved word", [](Rmw& r) { r.exec(encode(Op::swl, kT0, 0, 0, 0, 5)); }, sc0},
      {"sc at another address in the same word", [](Rmw&) {}, encode(Op::sc, kT0, kT1, 0, 0, 4)},
      {"scd after ll (size mismatch)", [](Rmw&) {}, encode(Op::scd, kT0, kT1, 0, 0, 0)},
      {"another thread owns the reservation", [](Rmw& r) { r.f.t().id = 7; }, sc0},
      {"a second ll elsewhere moves the reservation",
       [](Rmw& r) { r.exec(encode(Op::ll, kT0, kT3, 0, 0, 8)); }, sc0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Rmw r;
    r.f.reg(kT0) = kW0;
    r.exec(encode(Op::ll, kT0, kT1, 0, 0, 0));
    EXPECT_EQ(r.f.reg(kT1), 0xffffffff81828384u);
    c.between(r);
    const uint64_t w0 = r.f.s.memory->get_word(kW0);
    r.f.reg(kT1) = 0x55;
    r.exec(c.sc);
    EXPECT_EQ(r.f.reg(kT1), 0u) << "sc must fail";
    EXPECT_EQ(r.f.s.memory->get_word(kW0), w0) << "failed sc must not store";
  }
  {  // lld then sc (size mismatch the other way).
    Rmw r;
    r.f.reg(kT0) = kW0;
    r.exec(encode(Op::lld, kT0, kT1, 0, 0, 0));
    r.f.reg(kT1) = 0x55;
    r.exec(encode(Op::sc, kT0, kT1, 0, 0, 0));
    EXPECT_EQ(r.f.reg(kT1), 0u);
    EXPECT_EQ(r.f.s.memory->get_word(kW0), kMem0);
  }
  {  // A store to a different word keeps the reservation.
    Rmw r;
    r.f.reg(kT0) = kW0;
    r.exec(encode(Op::ll, kT0, kT1, 0, 0, 0));
    r.exec(encode(Op::sd, kT0, 0, 0, 0, 8));  // sd $zero, 8($t0)
    EXPECT_EQ(r.f.s.ll_status, kLLActive32);
    r.f.reg(kT1) = 0x55;
    r.exec(encode(Op::sc, kT0, kT1, 0, 0, 0));
    EXPECT_EQ(r.f.reg(kT1), 1u);
    EXPECT_EQ(r.f.s.memory->get_word(kW0), 0x0000005585868788u);
  }
  {  // ll from thread A, sc from thread B with a matching address and size: fails.
    Rmw r;
    r.f.s.ll_status = kLLActive32;
    r.f.s.ll_address = kW0;
    r.f.s.ll_owner = 9;
    r.f.t().id = 0;
    r.f.reg(kT0) = kW0;
    r.f.reg(kT1) = 0x55;
    r.exec(sc0);
    EXPECT_EQ(r.f.reg(kT1), 0u);
    EXPECT_EQ(r.f.s.ll_status, kLLActive32) << "a failed sc leaves the reservation";
  }
}

// Executing from an absent page fetches 0 = sll $0,$0,0: a nop, and the page stays absent.
TEST(IsaMem, FetchFromAbsentPageIsNop) {
  VmFixture f(0x9000000);
  Snap b(f.t());
  f.step_ok();
  test::expect_advanced(f.t(), b, "nop");
  test::expect_regs_v(f.t(), b, {}, "nop");
  EXPECT_EQ(f.s.memory->lookup(0x9000000 >> 12), nullptr);
}

// The syscall instruction itself (the syscall semantics are in syscall_table_test.cpp):
// getpid returns v0 = 0, a3 = 0 and advances like any instruction, also in a delay slot.
TEST(IsaSyscall, InstructionAdvancesPcIncludingDelaySlot) {
  covered().insert(Op::syscall);
  VmFixture f;
  f.t().cpu.next_pc = 0x40000;  // as after a taken branch: the syscall is in its delay slot
  f.reg(2) = sys::kGetpid;
  f.reg(7) = 0x77;
  f.insn(encode(Op::syscall, 0, 0, 0, 0, 0));
  f.step_ok();
  EXPECT_EQ(f.reg(2), 0u);
  EXPECT_EQ(f.reg(7), 0u);
  EXPECT_EQ(f.t().cpu.pc, 0x40000u);
  EXPECT_EQ(f.t().cpu.next_pc, 0x40004u);
}

// Exhaustive decode boundary: every primary opcode, every SPECIAL and SPECIAL2 funct and every
// REGIMM rt either executes (kOk) or panics with "invalid instruction", exactly as the
// reference's ExecMipsCoreStepLogic / ExecuteMipsInstruction (64-bit) decide. The valid sets
// were read off mips_instructions.go and mips.go by hand.
TEST(IsaDecode, EveryOpcodeFunctAndRegimmRt) {
  const std::set<uint32_t> primary_ok = {
      0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
      0x0e, 0x0f, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
      0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x30, 0x34, 0x37, 0x38, 0x3c, 0x3f};
  const std::set<uint32_t> special_ok = {0x00, 0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                         0x0c, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18,
                                         0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22,
                                         0x23, 0x24, 0x25, 0x26, 0x27, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e,
                                         0x2f, 0x38, 0x3a, 0x3b, 0x3c, 0x3e, 0x3f};
  const std::set<uint32_t> special2_ok = {0x02, 0x20, 0x21, 0x24, 0x25};
  struct Case {
    uint32_t insn;
    bool ok;
  };
  std::vector<Case> cases;
  const uint32_t fields = (kT0 << 21) | (kT1 << 16) | (kT2 << 11);  // rs=$t0 rt=$t1 rd=$t2
  for (uint32_t opc = 2; opc < 64; ++opc) {
    if (opc == 0x1c) continue;
    cases.push_back({(opc << 26) | fields | 0x08, primary_ok.count(opc) > 0});
  }
  for (uint32_t fn = 0; fn < 64; ++fn) cases.push_back({fields | fn, special_ok.count(fn) > 0});
  for (uint32_t fn = 0; fn < 64; ++fn)
    cases.push_back({(0x1cu << 26) | fields | fn, special2_ok.count(fn) > 0});
  for (uint32_t rt = 0; rt < 32; ++rt)
    cases.push_back({(1u << 26) | (kT0 << 21) | (rt << 16) | 4, true});
  for (const Case& c : cases) {
    SCOPED_TRACE(test::hex64(c.insn) + (c.ok ? " must execute" : " must panic"));
    VmFixture f;
    f.reg(kT0) = 0x20000;     // a valid base address for the memory forms
    f.reg(kT1) = 3;           // a non-zero divisor
    f.reg(2) = sys::kGetpid;  // a valid syscall number for funct 0x0c
    f.insn(c.insn);
    StepStatus st = f.step();
    if (c.ok) {
      EXPECT_EQ(st, StepStatus::kOk) << f.vm->panic_message();
      EXPECT_EQ(decode(c.insn) == Op::invalid, false) << "decoder must know it";
    } else {
      EXPECT_EQ(st, StepStatus::kPanic);
      // The reference's exact wording: SPECIAL (opcode 0) panics in ExecuteMipsInstruction's
      // first switch with "invalid instruction: 0x%08x"; every other opcode (primary, SPECIAL2)
      // with "invalid instruction: %x" (Go %x: lowercase, no padding, no 0x).
      char want[64];
      if ((c.insn >> 26) == 0)
        std::snprintf(want, sizeof want, "invalid instruction: 0x%08x", c.insn);
      else
        std::snprintf(want, sizeof want, "invalid instruction: %x", c.insn);
      EXPECT_EQ(f.vm->panic_message(), want);
      EXPECT_EQ(decode(c.insn), Op::invalid);
    }
  }
  RecordProperty("rows", int(cases.size()));
}

// ---------------------------------------------------------------------------------------------
// Random differential test against a literal C++ transliteration of the reference's Go code
// (exec/mips_instructions.go: ExecMipsCoreStepLogic, ExecuteMipsInstruction, HandleBranch,
// HandleHiLo, HandleJump, HandleRd, SignExtend, SelectSubWord, UpdateSubWord; 64-bit paths
// only). It is written from the Go source line by line, with Go's shift rules (a shift by >= 64
// gives 0) and Go's integer division (INT_MIN / -1 wraps), and shares no code with
// interp/semantics.h. Syscalls and LL/SC are covered by the tables instead.
namespace goref {
using W = uint64_t;
W shl(W v, W s) { return s >= 64 ? 0 : v << s; }
W shr(W v, W s) { return s >= 64 ? 0 : v >> s; }
W SignExtend(W dat, W idx) {
  bool isSigned = (shr(dat, idx - 1) & 1) != 0;
  W sgn = shl(shl(1, 64 - idx) - 1, idx);
  W mask = shl(1, idx) - 1;
  return isSigned ? (dat & mask) | sgn : dat & mask;
}
struct Cpu {
  W pc, npc, hi, lo;
};
struct Mem {
  std::map<W, W> words;
  W get(W a) const {
    auto it = words.find(a);
    return it == words.end() ? 0 : it->second;
  }
};
void calc(W vaddr, W byteLength, W& dataMask, W& bitOffset, W& bitLength) {
  bitLength = byteLength << 3;
  dataMask = shr(~W{0}, 64 - bitLength);
  W byteIndexMask = vaddr & 7 & ~(byteLength - 1);
  W maxByteShift = 8 - byteLength;
  W byteIndex = vaddr & byteIndexMask;
  bitOffset = (maxByteShift - byteIndex) << 3;
}
W SelectSubWord(W vaddr, W memWord, W byteLength, bool signExtend) {
  W dataMask, bitOffset, bitLength;
  calc(vaddr, byteLength, dataMask, bitOffset, bitLength);
  W retVal = shr(memWord, bitOffset) & dataMask;
  return signExtend ? SignExtend(retVal, bitLength) : retVal;
}
W UpdateSubWord(W vaddr, W memWord, W byteLength, W value) {
  W dataMask, bitOffset, bitLength;
  calc(vaddr, byteLength, dataMask, bitOffset, bitLength);
  W subWordValue = dataMask & value;
  W memUpdateMask = shl(dataMask, bitOffset);
  return shl(subWordValue, bitOffset) | (~memUpdateMask & memWord);
}
int32_t i32(W v) { return int32_t(uint32_t(v)); }
W w32(int32_t v) { return W(int64_t(v)); }  // Go Word(int32): sign-extends
int32_t add32(int32_t a, int32_t b) { return int32_t(uint32_t(a) + uint32_t(b)); }
int32_t sub32(int32_t a, int32_t b) { return int32_t(uint32_t(a) - uint32_t(b)); }
int32_t mul32(int32_t a, int32_t b) { return int32_t(uint32_t(a) * uint32_t(b)); }
int32_t div32(int32_t a, int32_t b) { return (a == INT32_MIN && b == -1) ? a : a / b; }
int32_t rem32(int32_t a, int32_t b) { return b == -1 ? 0 : a % b; }
int64_t div64(int64_t a, int64_t b) { return (a == INT64_MIN && b == -1) ? a : a / b; }
int64_t rem64(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }
constexpr W U32Mask = 0xFFffFFff;

// Returns false where the Go code panics.
bool Execute(uint32_t insn, uint32_t opcode, uint32_t fun, W rs, W rt, W mem, W& out) {
  if (opcode == 0 || (opcode >= 8 && opcode < 0xF) || opcode == 0x18 || opcode == 0x19) {
    switch (opcode) {
      case 8:
        fun = 0x20;
        break;
      case 9:
        fun = 0x21;
        break;
      case 0xA:
        fun = 0x2A;
        break;
      case 0xB:
        fun = 0x2B;
        break;
      case 0xC:
        fun = 0x24;
        break;
      case 0xD:
        fun = 0x25;
        break;
      case 0xE:
        fun = 0x26;
        break;
      case 0x18:
        fun = 0x2c;
        break;
      case 0x19:
        fun = 0x2d;
        break;
    }
    switch (fun) {
      case 0x00:
        out = SignExtend(shl(rt, (insn >> 6) & 0x1F) & U32Mask, 32);
        return true;
      case 0x02:
        out = SignExtend((rt & U32Mask) >> ((insn >> 6) & 0x1F), 32);
        return true;
      case 0x03: {
        W shamt = (insn >> 6) & 0x1F;
        out = SignExtend((rt & U32Mask) >> shamt, 32 - shamt);
        return true;
      }
      case 0x04:
        out = SignExtend(shl(rt, rs & 0x1F) & U32Mask, 32);
        return true;
      case 0x06:
        out = SignExtend((rt & U32Mask) >> (rs & 0x1F), 32);
        return true;
      case 0x07: {
        W shamt = rs & 0x1F;
        out = SignExtend((rt & U32Mask) >> shamt, 32 - shamt);
        return true;
      }
      case 0x08:
      case 0x09:
      case 0x0a:
      case 0x0b:
      case 0x0c:
      case 0x0f:
      case 0x10:
      case 0x11:
      case 0x12:
      case 0x13:
      case 0x18:
      case 0x19:
      case 0x1a:
      case 0x1b:
      case 0x1C:
      case 0x1D:
      case 0x1E:
      case 0x1F:
        out = rs;
        return true;
      case 0x14:
      case 0x16:
      case 0x17:
        out = rt;
        return true;
      case 0x20:
        out = SignExtend(w32(add32(i32(rs), i32(rt))), 32);
        return true;
      case 0x21:
        out = SignExtend(W(uint32_t(rs) + uint32_t(rt)), 32);
        return true;
      case 0x22:
        out = SignExtend(w32(sub32(i32(rs), i32(rt))), 32);
        return true;
      case 0x23:
        out = SignExtend(W(uint32_t(rs) - uint32_t(rt)), 32);
        return true;
      case 0x24:
        out = rs & rt;
        return true;
      case 0x25:
        out = rs | rt;
        return true;
      case 0x26:
        out = rs ^ rt;
        return true;
      case 0x27:
        out = ~(rs | rt);
        return true;
      case 0x2a:
        out = int64_t(rs) < int64_t(rt) ? 1 : 0;
        return true;
      case 0x2b:
        out = rs < rt ? 1 : 0;
        return true;
      case 0x2c:
      case 0x2d:
        out = rs + rt;
        return true;
      case 0x2e:
      case 0x2f:
        out = rs - rt;
        return true;
      case 0x38:
        out = shl(rt, (insn >> 6) & 0x1f);
        return true;
      case 0x3A:
        out = shr(rt, (insn >> 6) & 0x1f);
        return true;
      case 0x3B:
        out = W(int64_t(rt) >> ((insn >> 6) & 0x1f));
        return true;
      case 0x3C:
        out = shl(rt, ((insn >> 6) & 0x1f) + 32);
        return true;
      case 0x3E:
        out = shr(rt, ((insn >> 6) & 0x1f) + 32);
        return true;
      case 0x3F:
        out = W(int64_t(rt) >> (((insn >> 6) & 0x1f) + 32));
        return true;
      default:
        return false;
    }
  }
  switch (opcode) {
    case 0x1C:
      if (fun == 0x2) {
        out = SignExtend(w32(mul32(i32(rs), i32(rt))), 32);
        return true;
      }
      if (fun == 0x20 || fun == 0x21) {
        if (fun == 0x20) rs = ~rs;
        uint32_t i = 0;
        for (; (rs & 0x80000000) != 0; i++) rs <<= 1;
        out = i;
        return true;
      }
      if (fun == 0x24 || fun == 0x25) {
        if (fun == 0x24) rs = ~rs;
        uint32_t i = 0;
        for (; (rs & 0x8000000000000000ULL) != 0; i++) rs <<= 1;
        out = i;
        return true;
      }
      return false;
    case 0x0F:
      out = SignExtend(shl(rt, 16), 32);
      return true;
    case 0x20:
      out = SelectSubWord(rs, mem, 1, true);
      return true;
    case 0x21:
      out = SelectSubWord(rs, mem, 2, true);
      return true;
    case 0x22: {
      uint32_t w = uint32_t(SelectSubWord(rs, mem, 4, false));
      uint32_t val = w << ((rs & 3) * 8);
      W mask = W(uint32_t(U32Mask << ((rs & 3) * 8)));
      out = SignExtend(((rt & ~mask) | W(val)) & U32Mask, 32);
      return true;
    }
    case 0x23:
      out = SelectSubWord(rs, mem, 4, true);
      return true;
    case 0x24:
      out = SelectSubWord(rs, mem, 1, false);
      return true;
    case 0x25:
      out = SelectSubWord(rs, mem, 2, false);
      return true;
    case 0x26: {
      uint32_t w = uint32_t(SelectSubWord(rs, mem, 4, false));
      uint32_t val = w >> (24 - (rs & 3) * 8);
      uint32_t mask = uint32_t(U32Mask) >> (24 - (rs & 3) * 8);
      uint32_t lwrResult = (uint32_t(rt) & ~mask) | val;
      if ((rs & 3) == 3)
        out = SignExtend(W(lwrResult), 32);
      else
        out = (rt & W(0xFFFFFFFF00000000ULL)) | W(lwrResult);
      return true;
    }
    case 0x28:
      out = UpdateSubWord(rs, mem, 1, rt);
      return true;
    case 0x29:
      out = UpdateSubWord(rs, mem, 2, rt);
      return true;
    case 0x2a: {
      W sr = (rs & 3) << 3;
      W val = shl((rt & U32Mask) >> sr, 32 - ((rs & 0x4) << 3));
      W mask = shl(W(U32Mask) >> sr, 32 - ((rs & 0x4) << 3));
      out = (mem & ~mask) | val;
      return true;
    }
    case 0x2b:
      out = UpdateSubWord(rs, mem, 4, rt);
      return true;
    case 0x2e: {
      uint32_t w = uint32_t(SelectSubWord(rs, mem, 4, false));
      W val = shl(rt, 24 - (rs & 3) * 8);
      uint32_t mask = uint32_t(U32Mask) << (24 - (rs & 3) * 8);
      uint32_t swrResult = (w & ~mask) | uint32_t(val);
      out = UpdateSubWord(rs, mem, 4, W(swrResult));
      return true;
    }
    case 0x1A: {
      W sl = (rs & 0x7) << 3;
      out = shl(mem, sl) | (rt & ~shl(~W{0}, sl));
      return true;
    }
    case 0x1B: {
      W sr = 56 - ((rs & 0x7) << 3);
      out = shr(mem, sr) | (rt & shl(~W{0}, 64 - sr));
      return true;
    }
    case 0x27:
      out = shr(mem, 32 - ((rs & 0x4) << 3)) & U32Mask;
      return true;
    case 0x2C: {
      W sr = (rs & 0x7) << 3;
      out = shr(rt, sr) | (mem & ~shr(~W{0}, sr));
      return true;
    }
    case 0x2D: {
      W sl = 56 - ((rs & 0x7) << 3);
      out = shl(rt, sl) | (mem & ~shl(~W{0}, sl));
      return true;
    }
    case 0x37:
      out = mem;
      return true;
    case 0x3F:
      out = rt;
      return true;
    default:
      return false;
  }
}

bool HandleRd(Cpu& c, W* regs, W storeReg, W val, bool conditional) {
  if (storeReg != 0 && conditional) regs[storeReg] = val;
  c.pc = c.npc;
  c.npc = c.npc + 4;
  return true;
}
bool HandleJump(Cpu& c, W* regs, W linkReg, W dest) {
  if (c.npc != c.pc + 4) return false;  // "jump in delay slot"
  W prevPC = c.pc;
  c.pc = c.npc;
  c.npc = dest;
  if (linkReg != 0) regs[linkReg] = prevPC + 8;
  return true;
}
bool HandleBranch(Cpu& c, W* regs, uint32_t opcode, uint32_t insn, W rtReg, W rs) {
  if (c.npc != c.pc + 4) return false;  // "branch in delay slot"
  bool shouldBranch = false;
  if (opcode == 4 || opcode == 5) {
    W rt = regs[rtReg];
    shouldBranch = (rs == rt && opcode == 4) || (rs != rt && opcode == 5);
  } else if (opcode == 6) {
    shouldBranch = int64_t(rs) <= 0;
  } else if (opcode == 7) {
    shouldBranch = int64_t(rs) > 0;
  } else if (opcode == 1) {
    uint32_t rtv = (insn >> 16) & 0x1F;
    if (rtv == 0) shouldBranch = int64_t(rs) < 0;
    if (rtv == 0x10) {
      shouldBranch = int64_t(rs) < 0;
      regs[31] = c.pc + 8;
    }
    if (rtv == 1) shouldBranch = int64_t(rs) >= 0;
    if (rtv == 0x11) {
      shouldBranch = int64_t(rs) >= 0;
      regs[31] = c.pc + 8;
    }
  }
  W prevPC = c.pc;
  c.pc = c.npc;
  if (shouldBranch)
    c.npc = prevPC + 4 + (SignExtend(insn & 0xFFFF, 16) << 2);
  else
    c.npc = c.npc + 4;
  return true;
}
bool HandleHiLo(Cpu& c, W* regs, uint32_t fun, W rs, W rt, W storeReg) {
  W val = 0;
  switch (fun) {
    case 0x10:
      val = c.hi;
      break;
    case 0x11:
      c.hi = rs;
      break;
    case 0x12:
      val = c.lo;
      break;
    case 0x13:
      c.lo = rs;
      break;
    case 0x18: {
      W acc = W(int64_t(i32(rs)) * int64_t(i32(rt)));
      c.hi = SignExtend(acc >> 32, 32);
      c.lo = SignExtend(W(uint32_t(acc)), 32);
      break;
    }
    case 0x19: {
      W acc = W(uint32_t(rs)) * W(uint32_t(rt));
      c.hi = SignExtend(acc >> 32, 32);
      c.lo = SignExtend(W(uint32_t(acc)), 32);
      break;
    }
    case 0x1a:
      if (uint32_t(rt) == 0) return false;
      c.hi = SignExtend(w32(rem32(i32(rs), i32(rt))), 32);
      c.lo = SignExtend(w32(div32(i32(rs), i32(rt))), 32);
      break;
    case 0x1b:
      if (uint32_t(rt) == 0) return false;
      c.hi = SignExtend(W(uint32_t(rs) % uint32_t(rt)), 32);
      c.lo = SignExtend(W(uint32_t(rs) / uint32_t(rt)), 32);
      break;
    case 0x14:
      val = shl(rt, rs & 0x3F);
      break;
    case 0x16:
      val = shr(rt, rs & 0x3F);
      break;
    case 0x17:
      val = W(int64_t(rt) >> (rs & 0x3F));
      break;
    case 0x1c: {
      int64_t a = int64_t(rs), b = int64_t(rt);
      bool negative = (a < 0) != (b < 0);
      W absA = a < 0 ? W(0) - W(a) : W(a);  // abs64 (wraps for INT64_MIN) then uint64
      W absB = b < 0 ? W(0) - W(b) : W(b);
      unsigned __int128 p = (unsigned __int128)absA * absB;
      W hi = W(p >> 64), lo = W(p);
      if (negative) {
        hi = ~hi;
        lo = ~lo;
        if (lo == 0xFFFFFFFFFFFFFFFFULL) hi++;
        lo++;
      }
      c.hi = hi;
      c.lo = lo;
      break;
    }
    case 0x1d: {
      unsigned __int128 p = (unsigned __int128)rs * rt;
      c.hi = W(p >> 64);
      c.lo = W(p);
      break;
    }
    case 0x1e:
      if (rt == 0) return false;
      c.hi = W(rem64(int64_t(rs), int64_t(rt)));
      c.lo = W(div64(int64_t(rs), int64_t(rt)));
      break;
    case 0x1f:
      if (rt == 0) return false;
      c.hi = rs % rt;
      c.lo = rs / rt;
      break;
  }
  if (storeReg != 0) regs[storeReg] = val;
  c.pc = c.npc;
  c.npc = c.npc + 4;
  return true;
}

struct LL {
  W status, address, owner;
};
// multithreaded/mips.go handleRMWOps (thread id 0).
bool RMW(Cpu& c, W* regs, Mem& memory, LL& ll, uint32_t insn, uint32_t opcode) {
  W base = regs[(insn >> 21) & 0x1F];
  W rtReg = (insn >> 16) & 0x1F;
  W addr = base + SignExtend(insn & 0xFFFF, 16);
  W targetStatus = 1, byteLength = 4;
  if (opcode == 0x34 || opcode == 0x3c) {
    targetStatus = 2;
    byteLength = 8;
  }
  W retVal = 0;
  const W threadId = 0;
  if (opcode == 0x30 || opcode == 0x34) {
    retVal = SelectSubWord(addr, memory.get(addr & ~W{7}), byteLength, true);
    ll = {targetStatus, addr, threadId};
  } else if (ll.status == targetStatus && ll.owner == threadId && ll.address == addr) {
    ll = {0, 0, 0};
    W eff = addr & ~W{7};
    memory.words[eff] = UpdateSubWord(addr, memory.get(eff), byteLength, regs[rtReg]);
    retVal = 1;
  }
  return HandleRd(c, regs, rtReg, retVal, true);
}

// ExecMipsCoreStepLogic (64-bit) plus doMipsStep's RMW dispatch and handleMemoryUpdate.
// Returns false where the reference panics.
bool Step(Cpu& c, W* regs, Mem& memory, LL& ll, uint32_t insn) {
  uint32_t opcode = insn >> 26, fun = insn & 0x3f;
  if (opcode == 0x30 || opcode == 0x38 || opcode == 0x34 || opcode == 0x3c)
    return RMW(c, regs, memory, ll, insn, opcode);
  if (opcode == 2 || opcode == 3) {
    W linkReg = opcode == 3 ? 31 : 0;
    W target = (c.npc & SignExtend(0xF0000000, 32)) | W((insn & 0x03FFFFFF) << 2);
    return HandleJump(c, regs, linkReg, target);
  }
  W rs = 0, rt = 0;
  W rtReg = (insn >> 16) & 0x1F;
  rs = regs[(insn >> 21) & 0x1F];
  W rdReg = rtReg;
  if (opcode == 0x27 || opcode == 0x1A || opcode == 0x1B) {
    rt = regs[rtReg];
    rdReg = rtReg;
  } else if (opcode == 0 || opcode == 0x1c) {
    rt = regs[rtReg];
    rdReg = (insn >> 11) & 0x1F;
  } else if (opcode < 0x20) {
    if (opcode == 0xC || opcode == 0xD || opcode == 0xe)
      rt = insn & 0xFFFF;
    else
      rt = SignExtend(insn & 0xFFFF, 16);
  } else if (opcode >= 0x28 || opcode == 0x22 || opcode == 0x26) {
    rt = regs[rtReg];
    rdReg = rtReg;
  }
  if ((opcode >= 4 && opcode < 8) || opcode == 1)
    return HandleBranch(c, regs, opcode, insn, rtReg, rs);
  W storeAddr = ~W{0};
  W mem = 0;
  if (opcode >= 0x20 || opcode == 0x1A || opcode == 0x1B) {
    rs += SignExtend(insn & 0xFFFF, 16);
    W addr = rs & ~W{7};
    mem = memory.get(addr);
    if (opcode >= 0x28 && opcode != 0x37) {
      storeAddr = addr;
      rdReg = 0;
    }
  }
  W val = 0;
  if (!Execute(insn, opcode, fun, rs, rt, mem, val)) return false;
  if (opcode == 0 && fun >= 8 && fun < 0x20) {
    if (fun == 8 || fun == 9) return HandleJump(c, regs, fun == 9 ? rdReg : 0, rs);
    if (fun == 0xa) return HandleRd(c, regs, rdReg, rs, rt == 0);
    if (fun == 0xb) return HandleRd(c, regs, rdReg, rs, rt != 0);
    if (fun >= 0x10 && fun < 0x20) return HandleHiLo(c, regs, fun, rs, rt, rdReg);
  }
  if (storeAddr != ~W{0}) {
    memory.words[storeAddr] = val;
    if (storeAddr == (ll.address & ~W{7})) ll = {0, 0, 0};  // handleMemoryUpdate
  }
  return HandleRd(c, regs, rdReg, val, true);
}
}  // namespace goref

TEST(IsaDifferential, RandomInstructionsAgainstGoTransliteration) {
  std::mt19937_64 rng(0xc0ffee);
  const uint64_t interesting[] = {0,
                                  1,
                                  2,
                                  3,
                                  31,
                                  32,
                                  63,
                                  64,
                                  kM1,
                                  0x7fffffff,
                                  0x80000000,
                                  0xffffffff,
                                  0x100000000,
                                  kMin64,
                                  0x7fffffffffffffff,
                                  0xffffffff80000000,
                                  0xfffffffffffffffe,
                                  0x00000000fffffffe};
  auto value = [&]() -> uint64_t {
    switch (rng() % 4) {
      case 0:
        return interesting[rng() % std::size(interesting)];
      case 1:
        return rng() & 0xffffffff;
      case 2:
        return uint64_t(int64_t(int32_t(rng())));
      default:
        return rng();
    }
  };
  // Opcodes to draw from (no syscall: those have their own tables); a few invalid.
  const uint32_t opcodes[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
                              0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x18,
                              0x19, 0x1a, 0x1b, 0x1c, 0x1c, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                              0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x37, 0x3f,
                              0x10, 0x2f, 0x3d, 0x30, 0x34, 0x38, 0x3c, 0x38, 0x3c};
  const uint32_t s2[] = {0x02, 0x20, 0x21, 0x24, 0x25, 0x00, 0x3f};
  const int kIters = 200000;
  int compared = 0, panics = 0;
  for (int it = 0; it < kIters; ++it) {
    uint32_t opc = opcodes[rng() % std::size(opcodes)];
    uint32_t insn = (opc << 26) | (uint32_t(rng()) & 0x03ffffff);
    if (opc == 0) {
      uint32_t fn = uint32_t(rng()) & 0x3f;
      if (fn == 0x0c) fn = 0x21;  // no syscalls here
      insn = (insn & ~0x3fu) | fn;
    } else if (opc == 0x1c) {
      insn = (insn & ~0x3fu) | s2[rng() % std::size(s2)];
    }
    uint64_t regs[32];
    regs[0] = 0;
    for (int r = 1; r < 32; ++r) regs[r] = value();
    const bool is_mem = opc >= 0x20 || opc == 0x1a || opc == 0x1b;  // includes LL/SC
    if (is_mem) {  // land inside the two words at 0x20000
      unsigned rsf = 1 + unsigned(rng() % 31);
      insn = (insn & ~(31u << 21)) | (rsf << 21);
      regs[rsf] = 0x20000 + (rng() % 16) - goref::SignExtend(insn & 0xffff, 16);
    }
    const uint64_t hi = value(), lo = value(), m0 = value(), m1 = value();
    const uint64_t npc = (rng() % 10 == 0) ? 0x30000 : kPC + 4;  // sometimes in a delay slot

    goref::Cpu rc{kPC, npc, hi, lo};
    uint64_t rregs[32];
    std::memcpy(rregs, regs, sizeof rregs);
    goref::Mem rmem;
    rmem.words[0x20000] = m0;
    rmem.words[0x20008] = m1;
    // A reservation on or near the words the instruction touches, sometimes another thread's.
    goref::LL rll{rng() % 3, 0x20000 + (rng() % 16), (rng() % 4 == 0) ? 1u : 0u};
    if (is_mem && rng() % 2) {  // often exactly the instruction's address
      const uint64_t ea = regs[(insn >> 21) & 31] + goref::SignExtend(insn & 0xffff, 16);
      rll.address = ea;
    }
    const goref::LL ll_in = rll;
    const bool ref_ok = goref::Step(rc, rregs, rmem, rll, insn);

    VmFixture f;
    std::memcpy(f.t().regs, regs, sizeof regs);
    f.t().cpu.next_pc = npc;
    f.t().cpu.hi = hi;
    f.t().cpu.lo = lo;
    f.s.memory->set_word(0x20000, m0);
    f.s.memory->set_word(0x20008, m1);
    f.s.ll_status = uint8_t(ll_in.status);
    f.s.ll_address = ll_in.address;
    f.s.ll_owner = ll_in.owner;
    f.insn(insn);
    const StepStatus st = f.step();
    if (!ref_ok) {
      ++panics;
      ASSERT_EQ(st, StepStatus::kPanic)
          << "reference panics on " << test::hex64(insn) << " [" << disassemble(insn, kPC) << "]";
      continue;
    }
    ASSERT_EQ(st, StepStatus::kOk)
        << test::hex64(insn) << " [" << disassemble(insn, kPC) << "]: " << f.vm->panic_message();
    const Thread& t = f.t();
    bool same = t.cpu.pc == rc.pc && t.cpu.next_pc == rc.npc && t.cpu.hi == rc.hi &&
                t.cpu.lo == rc.lo && f.s.memory->get_word(0x20000) == rmem.get(0x20000) &&
                f.s.memory->get_word(0x20008) == rmem.get(0x20008) &&
                std::memcmp(t.regs, rregs, sizeof rregs) == 0 && f.s.ll_status == rll.status &&
                f.s.ll_address == rll.address && f.s.ll_owner == rll.owner;
    if (!same) {
      std::string diff;
      for (int r = 0; r < 32; ++r)
        if (t.regs[r] != rregs[r])
          diff += " $" + std::to_string(r) + " " + test::hex64(t.regs[r]) + " want " +
                  test::hex64(rregs[r]);
      ADD_FAILURE() << "insn " << test::hex64(insn) << " [" << disassemble(insn, kPC)
                    << "] differs:" << diff << " pc " << test::hex64(t.cpu.pc) << "/"
                    << test::hex64(rc.pc) << " npc " << test::hex64(t.cpu.next_pc) << "/"
                    << test::hex64(rc.npc) << " hi " << test::hex64(t.cpu.hi) << "/"
                    << test::hex64(rc.hi) << " lo " << test::hex64(t.cpu.lo) << "/"
                    << test::hex64(rc.lo) << " mem " << test::hex64(f.s.memory->get_word(0x20000))
                    << "/" << test::hex64(rmem.get(0x20000)) << " "
                    << test::hex64(f.s.memory->get_word(0x20008)) << "/"
                    << test::hex64(rmem.get(0x20008)) << " ll " << int(f.s.ll_status) << "/"
                    << rll.status << " " << test::hex64(f.s.ll_address) << "/"
                    << test::hex64(rll.address) << " " << f.s.ll_owner << "/" << rll.owner;
      return;
    }
    ++compared;
  }
  EXPECT_GT(compared, kIters / 2);
  EXPECT_GT(panics, 100);
  RecordProperty("compared", compared);
  RecordProperty("panics", panics);
}

// Must come last in this file: every row of isa.def has been executed by some table above.
TEST(IsaZCoverage, EveryInstructionOfIsaDefHasARow) {
  if (covered().size() < 20) GTEST_SKIP() << "run the whole Isa* group to check coverage";
  std::string missing;
  for (size_t i = 0; i < kOpCount; ++i) {
    Op op = static_cast<Op>(i);
    if (!covered().count(op)) missing += mnemonic(op) + " ";
  }
  EXPECT_EQ(missing, "") << "instructions without a table row";
  RecordProperty("ops", int(kOpCount));
}

}  // namespace
}  // namespace cb
