// A tiny single-step harness for the table-driven ISA / syscall tests: builds a State with given
// registers, HI/LO and PC, places instruction words at PC, runs one Vm::step and lets the test
// compare registers, memory, PC/NextPC and scheduler fields with values derived by hand from
// the reference (cannon/mipsevm/exec/mips_instructions.go, mips_syscalls.go,
// multithreaded/mips.go). Nothing here computes an expected value.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "interp/constants.h"
#include "interp/decoder.h"
#include "interp/oracle.h"
#include "interp/state.h"
#include "interp/vm.h"

namespace cb::test {

// Register numbers used by the tables.
constexpr unsigned kT0 = 8, kT1 = 9, kT2 = 10, kT3 = 11, kS0 = 16;
// Default PC for single-step tests: away from page 0, 8-aligned (the word's upper half).
constexpr uint64_t kPC = 0x10000;

// An in-memory pre-image oracle: key -> bytes (without the 8-byte length prefix); records hints.
class MapOracle : public PreimageOracle {
 public:
  std::map<Hash32, std::vector<uint8_t>> preimages;
  std::vector<std::vector<uint8_t>> hints;
  int get_calls = 0;
  void hint(std::span<const uint8_t> h) override { hints.emplace_back(h.begin(), h.end()); }
  std::vector<uint8_t> get_preimage(const Hash32& key) override {
    ++get_calls;
    auto it = preimages.find(key);
    if (it == preimages.end()) throw OracleError("MapOracle: unknown key");
    return it->second;
  }
};

// Puts the 32-bit big-endian instruction `insn` at `pc` (4-aligned) inside its 8-byte word:
// pc & 4 == 0 -> the word's upper 32 bits, else the lower 32 bits.
inline void put_insn(State& s, uint64_t pc, uint32_t insn) {
  uint64_t waddr = pc & ~uint64_t{7};
  uint64_t w = s.memory->get_word(waddr);
  if (pc & 4)
    w = (w & 0xFFFFFFFF00000000ULL) | insn;
  else
    w = (w & 0x00000000FFFFFFFFULL) | (uint64_t(insn) << 32);
  s.memory->set_word(waddr, w);
}

// Big-endian bytes at an arbitrary address (through set_word, read-modify-write per byte).
inline void put_bytes(State& s, uint64_t addr, std::span<const uint8_t> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    uint64_t a = addr + i, wa = a & ~uint64_t{7};
    unsigned sh = unsigned(7 - (a & 7)) * 8;
    uint64_t w = s.memory->get_word(wa);
    w = (w & ~(uint64_t{0xff} << sh)) | (uint64_t(bytes[i]) << sh);
    s.memory->set_word(wa, w);
  }
}
inline std::vector<uint8_t> get_bytes(const State& s, uint64_t addr, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t a = addr + i;
    out[i] = uint8_t(s.memory->get_word(a & ~uint64_t{7}) >> (unsigned(7 - (a & 7)) * 8));
  }
  return out;
}

// One VM under test: a State (one thread, id 0), a MapOracle and captured stdout/stderr.
struct VmFixture {
  State s;
  MapOracle oracle;
  std::string out[3];  // [1] stdout, [2] stderr
  std::unique_ptr<Vm> vm;

  explicit VmFixture(uint64_t pc = kPC) {
    s.heap = kHeapStart;
    Thread& t = s.current();
    t.cpu.pc = pc;
    t.cpu.next_pc = pc + 4;
    vm = std::make_unique<Vm>(s, &oracle, [this](int fd, const uint8_t* d, size_t n) {
      if (fd == 1 || fd == 2) out[fd].append(reinterpret_cast<const char*>(d), n);
    });
  }
  VmFixture(const VmFixture&) = delete;
  VmFixture& operator=(const VmFixture&) = delete;

  Thread& t() { return s.current(); }
  uint64_t& reg(unsigned r) { return s.current().regs[r]; }
  void insn(uint32_t w) { put_insn(s, s.current().cpu.pc, w); }
  void insn_at(uint64_t pc, uint32_t w) { put_insn(s, pc, w); }
  StepStatus step() { return vm->step(); }
  // Steps and expects success.
  void step_ok() {
    StepStatus st = vm->step();
    ASSERT_EQ(st, StepStatus::kOk) << "unexpected panic: " << vm->panic_message();
  }
  // Steps and expects a panic whose message starts with `prefix`.
  void step_panics(const std::string& prefix) {
    StepStatus st = vm->step();
    ASSERT_EQ(st, StepStatus::kPanic) << "expected panic \"" << prefix << "\"";
    EXPECT_EQ(vm->panic_message().substr(0, prefix.size()), prefix) << vm->panic_message();
  }
};

// A snapshot of the architectural thread state, to check that only the expected fields moved.
struct Snap {
  uint64_t regs[32];
  Cpu cpu;
  explicit Snap(const Thread& t) : cpu(t.cpu) { std::memcpy(regs, t.regs, sizeof regs); }
};

// Expects every register of `t` equal to `before` except those listed in `changed`
// (register -> expected value). $zero must always read 0.
inline void expect_regs(const Thread& t, const Snap& before,
                        std::initializer_list<std::pair<unsigned, uint64_t>> changed,
                        const std::string& ctx) {
  uint64_t want[32];
  std::memcpy(want, before.regs, sizeof want);
  for (auto [r, v] : changed) want[r] = v;
  for (unsigned r = 0; r < 32; ++r) EXPECT_EQ(t.regs[r], want[r]) << ctx << ": register $" << r;
  EXPECT_EQ(t.regs[0], 0u) << ctx << ": $zero";
}
inline void expect_regs_v(const Thread& t, const Snap& before,
                          const std::vector<std::pair<unsigned, uint64_t>>& changed,
                          const std::string& ctx) {
  uint64_t want[32];
  std::memcpy(want, before.regs, sizeof want);
  for (auto [r, v] : changed) want[r] = v;
  for (unsigned r = 0; r < 32; ++r) EXPECT_EQ(t.regs[r], want[r]) << ctx << ": register $" << r;
}

// The ordinary fall-through: PC = old NextPC, NextPC = old NextPC + 4.
inline void expect_advanced(const Thread& t, const Snap& before, const std::string& ctx) {
  EXPECT_EQ(t.cpu.pc, before.cpu.next_pc) << ctx << ": PC";
  EXPECT_EQ(t.cpu.next_pc, before.cpu.next_pc + 4) << ctx << ": NextPC";
}

inline std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace cb::test
