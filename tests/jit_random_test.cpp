// Random-program differential test: programs generated from the ISA table (tests/isa_random.h)
// run by the JIT (every block force-compiled) and by the interpreter from the same state; any
// difference prints the program disassembled and a register diff with the differences marked.
// CB_JIT_FUZZ_SEED / CB_JIT_FUZZ_COUNT choose the seed and the number of programs.
#ifdef CB_HAVE_JIT
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "interp/vm.h"
#include "isa_random.h"
#include "jit/engine.h"

namespace cb {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr uint64_t kDefaultCount = 20000;  // sanitizers run ~10x slower
#else
constexpr uint64_t kDefaultCount = 100000;
#endif
constexpr uint64_t kStepsPerProgram = 96;

uint64_t env_u64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : def;
}

bool same_memory(const Memory& a, const Memory& b) {
  auto pages = a.sorted_page_indices();
  if (pages != b.sorted_page_indices()) return false;
  for (uint64_t p : pages)
    if (std::memcmp(a.lookup(p)->data, b.lookup(p)->data, kPageSize) != 0) return false;
  return true;
}

std::string report(const std::vector<uint32_t>& words, const State& init, State& want, State& got,
                   StepStatus sw, StepStatus sg, const std::string& msg_want,
                   const std::string& msg_got) {
  std::ostringstream o;
  const Thread& t0 = init.current();
  o << "program at 0x" << std::hex << t0.cpu.pc << std::dec << ":\n";
  for (size_t i = 0; i < words.size(); ++i)
    o << "  " << std::hex << t0.cpu.pc + 4 * i << ": " << disassemble(words[i], t0.cpu.pc + 4 * i)
      << std::dec << "\n";
  o << "status interp=" << int(sw) << " jit=" << int(sg) << " (" << msg_want << " / " << msg_got
    << ")"
    << ", step interp=" << want.step << " jit=" << got.step
    << ", steps_since_switch interp=" << want.steps_since_switch
    << " jit=" << got.steps_since_switch << "\n";
  if (want.active().empty() || got.active().empty()) return o.str();
  const Thread& a = want.current();
  const Thread& b = got.current();
  auto line = [&](const std::string& name, uint64_t init_v, uint64_t x, uint64_t y) {
    o << (x != y ? "* " : "  ") << name << " initial=0x" << std::hex << init_v << " interp=0x" << x
      << " jit=0x" << y << std::dec << "\n";
  };
  line("pc", t0.cpu.pc, a.cpu.pc, b.cpu.pc);
  line("next_pc", t0.cpu.next_pc, a.cpu.next_pc, b.cpu.next_pc);
  line("hi", t0.cpu.hi, a.cpu.hi, b.cpu.hi);
  line("lo", t0.cpu.lo, a.cpu.lo, b.cpu.lo);
  for (int r = 0; r < 32; ++r) line("r" + std::to_string(r), t0.regs[r], a.regs[r], b.regs[r]);
  line("ll_status", init.ll_status, want.ll_status, got.ll_status);
  line("ll_address", init.ll_address, want.ll_address, got.ll_address);
  line("ll_owner", init.ll_owner, want.ll_owner, got.ll_owner);
  return o.str();
}

// A profiler stand-in (profiled runs): counts every step it is told of, whatever the tag, so
// after flush_profile() its count must equal the steps taken. Half the blocks are events, and
// each event moves to the next of three tags, so blocks retag often. (Where events say the
// calls went is checked against an oracle on real guests, tests/profile_test.cpp.)
class CountingObserver : public StepObserver {
 public:
  uint64_t steps = 0, events = 0;
  bool is_event(const uint32_t* words, uint32_t len) override {
    return ((words[0] >> 7) ^ len) & 1;
  }
  void on_interp_step(const State& s) override { steps += !s.exited; }
  uint32_t tag(const Thread&) override { return m_tag; }
  void flush(jit::ProfileSlot& slot) override {
    steps += slot.steps;
    slot.steps = 0;
  }
  uint32_t on_event(const Thread&, jit::ProfileSlot&) override {
    ++events;
    m_tag = m_tag % 3 + 1;
    return m_tag;
  }
  void after_enter(const Thread&, jit::ProfileSlot* partial, uint64_t run) override {
    if (partial) steps += run;
  }

 private:
  uint32_t m_tag = 1;
};

void check_programs(uint64_t seed, uint64_t count, bool movbe, bool profiled = false) {
  test::IsaRandom gen(seed);
  // One engine for all programs: each new program swaps the state's memory, which the engine
  // must notice (stale blocks dropped, TLBs flushed) — part of what is tested.
  State jit_state;
  Vm jit_vm(jit_state, nullptr, nullptr);
  JitEngine jit(jit_vm);
  ASSERT_TRUE(jit.available());
  jit.set_hot_threshold(1);
  if (!movbe) jit.disable_movbe();
  CountingObserver obs;
  if (profiled) jit.set_observer(&obs);
  uint64_t compiled = 0, total = 0, panics = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    std::vector<uint32_t> words;
    State init = gen.program(24, &words);
    // Every 16th program is hashed before and after (the hash then checks the JIT's dirty
    // tracking); the others compare memory bytes, which is much cheaper than Keccak.
    const bool hashed = i % 16 == 0;
    if (hashed) init.hash();
    State want = init.clone();
    jit_state = init.clone();
    jit.compile_at(jit_state.current().cpu.pc);
    const uint64_t target = init.step + kStepsPerProgram;
    const uint64_t counted = obs.steps;
    StepStatus sg = jit.run(target);
    if (profiled) {
      jit.flush_profile();
      ASSERT_EQ(obs.steps - counted, jit_state.step - init.step)
          << "program " << i << " (seed " << seed << "): steps counted for the profiler";
    }
    Vm vm(want, nullptr, nullptr);
    StepStatus sw = StepStatus::kOk;
    if (want.step < jit_state.step || sg == StepStatus::kOk) vm.run(target - want.step, sw);
    bool same =
        sw == sg && (sw == StepStatus::kOk || vm.panic_message() == jit_vm.panic_message()) &&
        want.step == jit_state.step && want.exited == jit_state.exited &&
        want.current() == jit_state.current() && want.ll_address == jit_state.ll_address &&
        want.ll_status == jit_state.ll_status && want.ll_owner == jit_state.ll_owner &&
        (hashed ? want.hash() == jit_state.hash() : same_memory(*want.memory, *jit_state.memory));
    ASSERT_TRUE(same) << "program " << i << " (seed " << seed << ") differs:\n"
                      << report(words, init, want, jit_state, sw, sg, vm.panic_message(),
                                jit_vm.panic_message());
    panics += sg != StepStatus::kOk;
    total += jit_state.step - init.step;
    compiled = jit.compiled_steps();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "[ jit fuzz ] %llu programs (seed %llu) in %.1f s: %llu steps, %llu compiled, %llu panics, "
      "%llu invalidations\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(seed), secs,
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(compiled),
      static_cast<unsigned long long>(panics),
      static_cast<unsigned long long>(jit.invalidations()));
  EXPECT_GT(compiled, total / 4) << "too few steps ran compiled for the test to mean much";
  if (profiled)
    EXPECT_GT(obs.events, count / 8) << "too few profiler events for the test to mean much";
}

TEST(JitRandom, ProgramsMatchTheInterpreter) {
  check_programs(env_u64("CB_JIT_FUZZ_SEED", 0x5eed'0004),
                 env_u64("CB_JIT_FUZZ_COUNT", kDefaultCount), true);
}

// The same with bswap + mov for big-endian accesses (hosts without movbe).
TEST(JitRandom, ProgramsMatchTheInterpreterWithoutMovbe) {
  check_programs(env_u64("CB_JIT_FUZZ_SEED", 0x5eed'0004) + 1,
                 env_u64("CB_JIT_FUZZ_COUNT", kDefaultCount) / 4, false);
}

// With a profiler attached (every block compiled with its step counter, half of them events):
// the same results, and every step counted exactly once.
TEST(JitRandom, ProgramsMatchTheInterpreterWhenProfiled) {
  check_programs(env_u64("CB_JIT_FUZZ_SEED", 0x5eed'0004) + 2,
                 env_u64("CB_JIT_FUZZ_COUNT", kDefaultCount) / 4, true, true);
}

}  // namespace
}  // namespace cb
#endif
