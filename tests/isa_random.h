// Random MIPS64 programs generated from the ISA table (interp/isa.def via insn_info()), for
// differential tests of the JIT against the interpreter: every row of the table, edge-case
// operands (0, -1, INT32_MIN, INT64_MIN, shift amounts >= 32), addresses near page
// boundaries and unaligned sub-word accesses, branches inside the program, stores into code.
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "interp/decoder.h"
#include "interp/state.h"

namespace cb::test {

// Where the draws come from: a seeded generator for the tests, libFuzzer's input for the
// fuzz harness (tests/fuzz/fuzz_jit.cpp). Any type with u64() and below(n) (0 <= r < n) works.
class SeededSource {
 public:
  explicit SeededSource(uint64_t seed) : m_rng(seed) {}
  uint64_t u64() { return m_rng(); }
  uint64_t below(uint64_t n) { return m_rng() % n; }

 private:
  std::mt19937_64 m_rng;
};

template <class Source>
class IsaRandomOf {
 public:
  static constexpr uint64_t kCodeBase = 0x10000;  // two code pages
  static constexpr uint64_t kDataBase = 0x20000;  // two data pages, then an absent one
  static constexpr unsigned kAddrRegs = 5;        // r1..r5 hold addresses

  // The arguments construct the source (a seed, or the fuzzer's input).
  template <class... Args>
  explicit IsaRandomOf(Args&&... args) : m_src(std::forward<Args>(args)...) {
    for (size_t i = 0; i < kOpCount; ++i) {
      Op op = Op(i);
      // Syscalls are the interpreter's (a random write(2) could name 2^63 bytes).
      if (insn_info(op).cls == InsnClass::SYSCALL) continue;
      m_ops.push_back(op);
    }
  }

  uint64_t u64() { return m_src.u64(); }
  uint64_t below(uint64_t n) { return m_src.below(n); }
  bool chance(unsigned percent) { return below(100) < percent; }

  // A value from the edge pool or random.
  uint64_t value() {
    static const uint64_t kEdges[] = {0,
                                      1,
                                      2,
                                      ~uint64_t{0},
                                      0x7fffffff,
                                      0x80000000,
                                      0xffffffff,
                                      0xffffffff80000000,
                                      0x100000000,
                                      0x8000000000000000,
                                      0x7fffffffffffffff,
                                      31,
                                      32,
                                      33,
                                      63,
                                      64,
                                      0xffff,
                                      0x8000,
                                      0xffffffff7fffffff,
                                      0x00000000ffff0000};
    switch (below(4)) {
      case 0:
        return kEdges[below(std::size(kEdges))];
      case 1:
        return uint64_t(int64_t(int32_t(u64())));
      case 2:
        return below(64);
      default:
        return u64();
    }
  }

  // An address for a load/store base: near page boundaries of the data pages, in the
  // absent page, or inside the code (stores into code).
  uint64_t address(uint64_t code_start, size_t code_len) {
    switch (below(6)) {
      case 0:
        return kDataBase + below(2 * kPageSize);
      case 1:
        return kDataBase + kPageSize - 8 + below(16);  // page boundary
      case 2:
        return kDataBase + 2 * kPageSize - 8 + below(24);  // into the absent page
      case 3:
        return code_start + 4 * below(code_len + 2);  // the program itself
      case 4:
        return kDataBase + 8 * below(16);
      default:
        return kDataBase + below(64);
    }
  }

  unsigned reg() {
    if (chance(60)) return unsigned(below(12));
    if (chance(30)) return 31;
    return unsigned(below(32));
  }

  // One instruction at index i of an n-instruction program starting at `start`.
  uint32_t insn(uint64_t start, size_t i, size_t n) {
    // A source that runs dry (a short fuzz input) draws zeros: after a few tries, a nop.
    for (int tries = 0; tries < 16; ++tries) {
      Op op = m_ops[below(m_ops.size())];
      const InsnInfo& in = insn_info(op);
      unsigned rs = reg(), rt = reg(), rd = reg(), sa = unsigned(below(32));
      uint32_t imm;
      switch (in.format) {
        case InsnFormat::J:
          imm = uint32_t(((start + 4 * below(n + 2)) >> 2) & 0x3ffffff);
          break;
        case InsnFormat::BR1:
        case InsnFormat::BR2:
          imm = uint32_t(int64_t(below(n + 3)) - int64_t(i) - 1) & 0xffff;
          break;
        case InsnFormat::MEM:
          rs = 1 + unsigned(below(kAddrRegs));
          if (in.cls == InsnClass::RMW && chance(50)) {  // often the reserved address (sc succeeds)
            imm = 0;
            break;
          }
          imm = chance(80) ? uint32_t(int32_t(below(33)) - 16) & 0xffff : uint32_t(u64() & 0xffff);
          break;
        default: {
          static const uint32_t kImm[] = {0, 1, 0x7fff, 0x8000, 0xffff, 0xfffe, 31, 32};
          imm = chance(50) ? kImm[below(std::size(kImm))] : uint32_t(u64() & 0xffff);
        }
      }
      uint32_t w = encode(op, rs, rt, rd, sa, imm);
      if (decode(w) == op) return w;  // e.g. regimm_never needs an unused rt
    }
    return 0;
  }

  // A fresh state running an n-instruction random program (n in [1, max_len]).
  State program(size_t max_len, std::vector<uint32_t>* words_out = nullptr) {
    State s;
    size_t n = 1 + below(max_len);
    // Sometimes the program crosses into the second code page.
    uint64_t start =
        chance(20) ? kCodeBase + kPageSize - 4 * (1 + below(n)) : kCodeBase + 4 * below(64);
    std::vector<uint32_t> words(n);
    for (size_t i = 0; i < n; ++i) words[i] = insn(start, i, n);
    for (size_t i = 0; i < n; ++i) {
      uint8_t be[4] = {uint8_t(words[i] >> 24), uint8_t(words[i] >> 16), uint8_t(words[i] >> 8),
                       uint8_t(words[i])};
      s.memory->set_range(start + 4 * i, be, 4);
    }
    std::vector<uint8_t> data(2 * kPageSize);
    for (size_t i = 0; i < data.size(); i += 8) {
      uint64_t v = u64();
      std::memcpy(&data[i], &v, 8);
    }
    s.memory->set_range(kDataBase, data.data(), data.size());
    Thread& t = s.current();
    t.cpu.pc = start;
    t.cpu.next_pc = start + 4;
    t.cpu.hi = value();
    t.cpu.lo = value();
    for (unsigned r = 1; r < 32; ++r) t.regs[r] = value();
    for (unsigned r = 1; r <= kAddrRegs; ++r) t.regs[r] = address(start, n);
    s.step = below(1000000);
    s.steps_since_switch = chance(20) ? kSchedQuantum - below(40) : below(1000);
    if (chance(30)) {
      s.ll_status = uint8_t(1 + below(2));
      s.ll_address = t.regs[1 + below(kAddrRegs)] + (chance(50) ? 0 : below(8));
      // Sometimes another thread's reservation (sc must fail on the owner check alone).
      s.ll_owner = chance(75) ? t.id : t.id + 1 + below(3);
    }
    if (words_out) *words_out = words;
    return s;
  }

 private:
  Source m_src;
  std::vector<Op> m_ops;
};

using IsaRandom = IsaRandomOf<SeededSource>;

}  // namespace cb::test
