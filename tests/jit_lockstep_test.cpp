// Lockstep differential tests: the JIT (compiled blocks + interpreter) against the
// interpreter alone, from the same initial state, comparing the state hash at every return
// from compiled code (first 200k steps, chaining off) and then every 10k steps, plus every
// reference hash in hashes.txt up to 2 M steps; and the self-modifying bundled guest.
#ifdef CB_HAVE_JIT
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "interp/decoder.h"
#include "interp/elf_loader.h"
#include "interp/vm.h"
#include "jit/engine.h"
#include "test_util.h"

namespace cb {
namespace {

std::string describe_mismatch(State& want, State& got, JitEngine& jit, uint64_t block_pc) {
  std::ostringstream o;
  o << "at step " << got.step << " (interpreter at " << want.step << ")\n";
  auto [lo, hi] = jit.block_range(block_pc);
  if (hi > lo) {
    o << "last compiled block:\n";
    for (uint64_t pc = lo; pc < hi; pc += 4)
      o << "  " << std::hex << pc << ": " << disassemble(fetch_insn(*got.memory, pc), pc)
        << std::dec << "\n";
  } else {
    o << "last step at pc 0x" << std::hex << block_pc << std::dec << " was interpreted\n";
  }
  if (want.active().empty() || got.active().empty()) return o.str();
  const Thread& a = want.current();
  const Thread& b = got.current();
  auto line = [&](const char* name, uint64_t x, uint64_t y) {
    o << (x != y ? "* " : "  ") << name << " interp=0x" << std::hex << x << " jit=0x" << y
      << std::dec << "\n";
  };
  line("thread", a.id, b.id);
  line("pc", a.cpu.pc, b.cpu.pc);
  line("next_pc", a.cpu.next_pc, b.cpu.next_pc);
  line("hi", a.cpu.hi, b.cpu.hi);
  line("lo", a.cpu.lo, b.cpu.lo);
  for (int r = 0; r < 32; ++r) line(("r" + std::to_string(r)).c_str(), a.regs[r], b.regs[r]);
  line("ll_address", want.ll_address, got.ll_address);
  line("steps_since_switch", want.steps_since_switch, got.steps_since_switch);
  return o.str();
}

struct Pair {
  State want, got;
  std::string out_want, out_got;
  Vm vm_want, vm_got;
  JitEngine jit;
  Pair(State a, State b)
      : want(std::move(a)),
        got(std::move(b)),
        vm_want(want, nullptr,
                [this](int, const uint8_t* d, size_t n) {
                  out_want.append(reinterpret_cast<const char*>(d), n);
                }),
        vm_got(got, nullptr,
               [this](int, const uint8_t* d, size_t n) {
                 out_got.append(reinterpret_cast<const char*>(d), n);
               }),
        jit(vm_got) {}

  // Advances the JIT side to `target` (max_entries as set), then the interpreter to the same
  // step; false (with a message) on any difference.
  bool advance(uint64_t target, std::string& why) {
    uint64_t pc = got.active().empty() ? 0 : got.current().cpu.pc;
    StepStatus a = jit.run(target);
    StepStatus b = StepStatus::kOk;
    if (got.step > want.step) vm_want.run(got.step - want.step, b);
    if (a != b || got.step != want.step || got.exited != want.exited || want.hash() != got.hash()) {
      why = describe_mismatch(want, got, jit, pc);
      return false;
    }
    return true;
  }
};

void lockstep_guest(const std::string& name, uint64_t limit) {
  std::string dir = test::reference_dir() + "/vectors/" + name;
  auto bytes = test::read_bytes(dir + "/initial.bin.gz");
  Pair p(State::deserialize(bytes), State::deserialize(bytes));
  auto hashes = test::read_hashes(dir + "/hashes.txt");
  size_t next = 0, checked = 0;
  std::string why;
  p.jit.set_hot_threshold(2);
  p.jit.set_chaining(false);
  p.jit.set_max_entries(1);
  while (!p.got.exited && p.got.step < limit) {
    while (next < hashes.size() && hashes[next].first < p.got.step) ++next;
    if (next < hashes.size() && hashes[next].first == p.got.step) {
      ASSERT_EQ(hex(p.got.hash()), hashes[next].second)
          << name << " reference hash at step " << p.got.step;
      ++checked;
      ++next;
    }
    const bool fine = p.got.step < 200000;
    if (!fine) {
      p.jit.set_max_entries(0);
      p.jit.set_chaining(true);
    }
    uint64_t target = std::min(limit, fine ? 200000 : p.got.step + 10000);
    if (next < hashes.size()) target = std::min(target, hashes[next].first);
    ASSERT_TRUE(p.advance(target, why)) << name << ": JIT and interpreter differ " << why;
  }
  if (next < hashes.size() && hashes[next].first == p.got.step) {
    EXPECT_EQ(hex(p.got.hash()), hashes[next].second);
    ++checked;
  }
  EXPECT_EQ(p.out_got, p.out_want);
  EXPECT_GT(p.jit.compiled_steps(), p.got.step / 2) << name << ": most steps should run compiled";
  std::printf(
      "[ lockstep ] %s: %llu steps, %llu compiled, %zu reference hashes checked, %zu blocks\n",
      name.c_str(), static_cast<unsigned long long>(p.got.step),
      static_cast<unsigned long long>(p.jit.compiled_steps()), checked, p.jit.block_count());
}

TEST(JitLockstep, Isa) {
  CB_REQUIRE_REFERENCE();
  lockstep_guest("isa", 2000000);
}
TEST(JitLockstep, Hello) {
  CB_REQUIRE_REFERENCE();
  lockstep_guest("hello", 2000000);
}
TEST(JitLockstep, Threads) {
  CB_REQUIRE_REFERENCE();
  lockstep_guest("threads", 2000000);
}
TEST(JitLockstep, Compute) {
  CB_REQUIRE_REFERENCE();
  lockstep_guest("compute", 2000000);
}

// Copy-on-write checkpoints taken between JIT runs: compiled stores must copy shared pages
// (write TLB entries die with the write epoch) and leave every checkpoint untouched.
TEST(JitLockstep, CopyOnWriteCheckpoints) {
  CB_REQUIRE_REFERENCE();
  auto bytes = test::read_bytes(test::reference_dir() + "/vectors/threads/initial.bin.gz");
  Pair p(State::deserialize(bytes), State::deserialize(bytes));
  p.jit.set_hot_threshold(2);
  std::vector<std::unique_ptr<Memory>> snaps_jit, snaps_int;
  std::string why;
  for (int i = 0; i < 20 && !p.got.exited; ++i) {
    ASSERT_TRUE(p.advance(p.got.step + 50000, why)) << "after checkpoint " << i << ": " << why;
    snaps_jit.push_back(p.got.memory->share());
    snaps_int.push_back(p.want.memory->share());
  }
  for (size_t i = 0; i < snaps_jit.size(); ++i)
    EXPECT_EQ(snaps_jit[i]->merkle_root(), snaps_int[i]->merkle_root())
        << "checkpoint " << i << " changed";
}

// Memory proofs taken by interpreted steps inside one JitEngine::run() (the second-proof
// window: every clock_gettime takes one) flush the Merkle caches; compiled stores after that
// must mark their pages dirty again. Only the end of the run is hashed, so nothing else
// flushes in between.
TEST(JitLockstep, MerkleFlushesInsideOneRun) {
  CB_REQUIRE_REFERENCE();
  for (const char* name : {"hello", "threads"}) {
    std::string dir = test::reference_dir() + "/vectors/" + name;
    auto bytes = test::read_bytes(dir + "/initial.bin.gz");
    auto hashes = test::read_hashes(dir + "/hashes.txt");
    size_t k = 0;  // the last reference hash at or before 3 M steps
    while (k + 1 < hashes.size() && hashes[k + 1].first <= 3000000) ++k;
    Pair p(State::deserialize(bytes), State::deserialize(bytes));
    p.vm_got.set_track_proof2_from(0);
    p.jit.set_hot_threshold(2);
    ASSERT_EQ(p.jit.run(hashes[k].first), StepStatus::kOk);
    ASSERT_EQ(p.got.step, hashes[k].first);
    EXPECT_EQ(hex(p.got.hash()), hashes[k].second) << name << " at step " << hashes[k].first;
  }
}

TEST(JitLockstep, SelfModifyingGuest) {
  auto elf = test::read_bytes(std::string(CB_SOURCE_DIR) + "/tests/guests/elf/selfmod.elf");
  Pair p(load_elf(elf), load_elf(elf));
  p.jit.set_hot_threshold(2);
  std::string why;
  while (!p.got.exited) {
    ASSERT_TRUE(p.advance(p.got.step + 50000, why)) << "selfmod: " << why;
  }
  EXPECT_EQ(hex(p.got.hash()), hex(p.want.hash()));
  EXPECT_EQ(p.out_got, p.out_want);
  EXPECT_NE(p.out_got.find("selfmod: ok"), std::string::npos) << p.out_got;
  EXPECT_EQ(p.got.exit_code, 0);
  EXPECT_GT(p.jit.invalidations(), 0u);
  std::printf("[ lockstep ] selfmod: %llu steps, %llu compiled, %llu invalidations\n",
              static_cast<unsigned long long>(p.got.step),
              static_cast<unsigned long long>(p.jit.compiled_steps()),
              static_cast<unsigned long long>(p.jit.invalidations()));
}

}  // namespace
}  // namespace cb
#endif
