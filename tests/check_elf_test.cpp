// `cannonball check-elf` (tools/elf_check.h): clean on every bundled guest and reference ELF,
// flags the panic guest's deliberate invalid instruction, and flags copies of real ELFs with an
// unsupported instruction or syscall number patched in here. The syscall list it uses
// (interp/constants.h sys::implemented) is checked against the VM itself.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "interp/constants.h"
#include "interp/decoder.h"
#include "interp/elf_loader.h"
#include "test_util.h"
#include "tools/elf_check.h"
#include "vm_test_util.h"

namespace cb {
namespace {

std::string guest_elf(const std::string& name) {
  return std::string(CB_SOURCE_DIR) + "/tests/guests/elf/" + name + ".elf";
}

// File offset of virtual address `addr` (from the program headers, by hand).
uint64_t file_offset(const std::vector<uint8_t>& elf, uint64_t addr) {
  for (const ElfSegment& g : elf_segments(elf))
    if (g.type == 1 && addr >= g.vaddr && addr - g.vaddr < g.filesz)
      return g.offset + (addr - g.vaddr);
  ADD_FAILURE() << "address not in a segment";
  return 0;
}
uint64_t symbol_addr(const std::vector<uint8_t>& elf, const std::string& name) {
  for (const Symbol& s : elf_metadata(elf).symbols)
    if (s.name == name) return s.start;
  ADD_FAILURE() << "no symbol " << name;
  return 0;
}
uint32_t get_be32(const std::vector<uint8_t>& b, uint64_t off) {
  return uint32_t(b[off]) << 24 | uint32_t(b[off + 1]) << 16 | uint32_t(b[off + 2]) << 8 |
         b[off + 3];
}
void put_be32(std::vector<uint8_t>& b, uint64_t off, uint32_t w) {
  for (int i = 0; i < 4; ++i) b[off + i] = uint8_t(w >> (24 - 8 * i));
}

TEST(CheckElf, BundledGuestsAreClean) {
  for (const char* g : {"default", "exit3", "selfmod", "hot"}) {
    ElfCheckReport r = check_elf(test::read_bytes(guest_elf(g)));
    EXPECT_TRUE(r.findings.empty())
        << g << ": " << (r.findings.empty() ? "" : r.findings[0].disassembly);
    EXPECT_GT(r.function_words, 0u) << g;
    EXPECT_GT(r.syscall_constant, 0u) << g;  // sys_write and exit_group: daddiu $v0, $zero, N
  }
}

TEST(CheckElf, ReferenceElvesAreClean) {
  CB_REQUIRE_REFERENCE();
  for (const char* g : {"isa", "hello", "oracle", "threads", "compute"}) {
    std::vector<uint8_t> elf = test::read_bytes(test::reference_dir() + "/elf/" + g + ".elf");
    ElfCheckReport r = check_elf(elf);
    EXPECT_TRUE(r.findings.empty()) << g << ": " << r.findings.size() << " findings, first at "
                                    << (r.findings.empty() ? "" : r.findings[0].symbol);
    EXPECT_GT(r.function_words + r.reached_words, 100u) << g;
    // The Go ELFs' known runtime sites (teq, MSA, rdhwr, kill) are set aside, and reported with
    // --strict.
    ElfCheckOptions strict;
    strict.strict = true;
    ElfCheckReport s = check_elf(elf, strict);
    if (std::string(g) == "isa") {
      EXPECT_TRUE(s.findings.empty());
      EXPECT_EQ(r.function_words, 0u);   // hand-written assembly without function symbols:
      EXPECT_GT(r.reached_words, 700u);  // its code is found by reachability from the entry
    } else {
      EXPECT_EQ(s.findings.size(), r.known.size()) << g;
      EXPECT_GT(r.known.size(), 0u) << g;
    }
  }
}

TEST(CheckElf, PanicGuestsInvalidInstructionIsFlagged) {
  std::vector<uint8_t> elf = test::read_bytes(guest_elf("panic"));
  ElfCheckReport r = check_elf(elf);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, ElfFinding::Kind::kInstruction);
  EXPECT_EQ(r.findings[0].addr, symbol_addr(elf, "invalid_instruction"));
  EXPECT_EQ(r.findings[0].symbol, "invalid_instruction");
  EXPECT_EQ(decode(r.findings[0].word), Op::invalid);
  ElfCheckOptions allow;
  allow.allow_in = {"invalid_instruction"};
  EXPECT_TRUE(check_elf(elf, allow).findings.empty());
}

TEST(CheckElf, PatchedInstructionIsFlagged) {
  CB_REQUIRE_REFERENCE();
  std::vector<uint8_t> elf = test::read_bytes(test::reference_dir() + "/elf/hello.elf");
  // 0x7c000000 | ...: SPECIAL3 (opcode 0x1f, e.g. MIPS64r2 `ext`), not in isa.def.
  const uint64_t addr = symbol_addr(elf, "main.main") + 8;
  const uint64_t off = file_offset(elf, addr);
  ASSERT_NE(decode(get_be32(elf, off)), Op::invalid);
  put_be32(elf, off, 0x7c621000);
  ASSERT_EQ(decode(0x7c621000), Op::invalid);
  ElfCheckReport r = check_elf(elf);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].addr, addr);
  EXPECT_EQ(r.findings[0].word, 0x7c621000u);
  EXPECT_EQ(r.findings[0].symbol, "main.main+0x8");
}

TEST(CheckElf, PatchedSyscallNumberIsFlagged) {
  // exit3's sys_write: `daddiu $v0, $zero, 5001` (or li) then `syscall` in one block. Patch
  // the number to 5999, which no Linux n64 syscall table entry the VM knows has.
  std::vector<uint8_t> elf = test::read_bytes(guest_elf("exit3"));
  const uint32_t li_5001_a = encode(Op::daddiu, 0, kRegV0, 0, 0, 5001);
  const uint32_t li_5001_b = encode(Op::addiu, 0, kRegV0, 0, 0, 5001);
  uint64_t at = 0;
  for (uint64_t off = 0; off + 4 <= elf.size(); off += 4) {
    uint32_t w = get_be32(elf, off);
    if (w == li_5001_a || w == li_5001_b) at = off;
  }
  ASSERT_NE(at, 0u) << "no li $v0, 5001 in exit3.elf";
  ASSERT_TRUE(check_elf(elf).findings.empty());
  put_be32(elf, at, (get_be32(elf, at) & 0xffff0000u) | 5999);
  ASSERT_FALSE(sys::implemented(5999));
  ElfCheckReport r = check_elf(elf);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, ElfFinding::Kind::kSyscall);
  EXPECT_EQ(r.findings[0].syscall, 5999u);
  EXPECT_EQ(r.findings[0].word, 0x0000000cu);
}

TEST(CheckElf, MalformedElfIsAnError) {
  std::vector<uint8_t> junk(100, 0x41);
  EXPECT_THROW(check_elf(junk), ElfError);
}

// sys::implemented() against the VM: every number it names runs without the "unrecognized
// syscall" panic, every other one in the n64 range panics with it.
TEST(CheckElf, SyscallListMatchesTheVm) {
  for (uint64_t n = 4990; n < 5400; ++n) {
    test::VmFixture f;
    f.reg(kRegV0) = n;
    f.reg(kRegA0) = 0x100;  // harmless arguments (fd-like, sizes, flags)
    f.reg(kRegA1) = 0x20000;
    f.reg(kRegA2) = 0;
    f.insn(encode(Op::syscall, 0, 0, 0, 0, 0));
    StepStatus st = f.step();
    const bool unrecognized =
        st == StepStatus::kPanic &&
        f.vm->panic_message().find("unrecognized syscall") != std::string::npos;
    EXPECT_EQ(unrecognized, !sys::implemented(n)) << "syscall " << n;
  }
}

TEST(CheckElf, CliExitCodes) {
  auto ok = test::run_cmd(test::shell_quote(test::cannonball()) + " check-elf --path " +
                          test::shell_quote(guest_elf("default")));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok: nothing the VM does not implement"), std::string::npos) << ok.out;
  auto bad = test::run_cmd(test::shell_quote(test::cannonball()) + " check-elf --path " +
                           test::shell_quote(guest_elf("panic")));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("invalid_instruction"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("unsupported instruction"), std::string::npos) << bad.out;
  auto missing =
      test::run_cmd(test::shell_quote(test::cannonball()) + " check-elf --path /nonexistent.elf");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.rfind("error: ", 0), 0u) << missing.err;
}

}  // namespace
}  // namespace cb
