// JIT frontend (jit/frontend.cpp): LL/SC are compiled inline by default (JIT v2), and left to
// the interpreter when the --debug-info statistics are on (build_block's `atomics` false),
// so that the interpreter counts every one of them (tests/vm_stats_test.cpp checks the counts).
#ifdef CB_HAVE_JIT
#include <gtest/gtest.h>

#include "jit/frontend.h"

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

}  // namespace
}  // namespace cb::jit
#endif
