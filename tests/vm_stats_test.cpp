// --debug-info statistics (interp/stats.h): on the `isa` guest (whole run) and a prefix of
// `threads`, the counts the Vm collects, with the interpreter and with the JIT, must equal
// those of an independent observer that steps the interpreter one step at a time with
// statistics OFF and infers every event from the instruction about to run and the state
// before and after it (the reference's definitions: multithreaded/stats.go, mips.go).
#include <gtest/gtest.h>

#include <algorithm>
#include <list>

#include "interp/decoder.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "test_util.h"

namespace cb {
namespace {

// The observer. Nothing here calls VmStats.
struct Observed {
  uint64_t rmw_success = 0, rmw_fail = 0, max_ll_to_sc = 0, invalidations = 0, preemptions = 0,
           idle0 = 0, icache_misses = 0, highest_miss_pc = 0;
  std::list<std::pair<uint64_t, uint64_t>> ll;  // (thread, ll step), most recent first, <= 5
  uint64_t active = 0, thread0_left = 0;

  void step(State& s, Vm& vm) {
    const Thread t = s.current();
    const uint64_t n = s.step + 1;  // number of the step about to run
    const bool pop = t.exited;
    const bool forced = !pop && s.steps_since_switch >= kSchedQuantum;
    const uint32_t insn = fetch_insn(*s.memory, t.cpu.pc);
    const Op op = (pop || forced) ? Op::invalid : decode(insn);
    const uint64_t addr = t.regs[(insn >> 21) & 31] + uint64_t(int64_t(int16_t(insn & 0xffff)));
    const bool is_sc = op == Op::sc || op == Op::scd;
    const bool clone = op == Op::syscall && t.regs[kRegV0] == sys::kClone;
    bool sc_ok = false;
    if (is_sc) {
      const uint8_t want = op == Op::scd ? kLLActive64 : kLLActive32;
      sc_ok = s.ll_status == want && s.ll_owner == t.id && s.ll_address == addr;
    }
    const bool reserved_before = s.ll_status != kLLNone;
    const uint64_t pc = t.cpu.pc;
    ASSERT_EQ(vm.step(), StepStatus::kOk) << vm.panic_message();
    if (!pop && !forced && pc >= (uint64_t{128} << 20)) {
      ++icache_misses;
      highest_miss_pc = std::max(highest_miss_pc, pc);
    }
    if (forced) ++preemptions;
    if (op == Op::ll || op == Op::lld) {
      ll.remove_if([&](const auto& e) { return e.first == t.id; });
      ll.emplace_front(t.id, n);
      if (ll.size() > 5) ll.pop_back();
    }
    if (is_sc) {
      ++(sc_ok ? rmw_success : rmw_fail);
      auto it = std::find_if(ll.begin(), ll.end(), [&](const auto& e) { return e.first == t.id; });
      if (it != ll.end()) {
        max_ll_to_sc = std::max(max_ll_to_sc, n - it->second);
        ll.erase(it);
      }
    }
    // A reservation that disappeared without an sc/ll consuming or replacing it was
    // invalidated by a store to its word. (A store to word 0 while none is held also counts
    // in the reference; the observer cannot see that one, these guests never do it.)
    if (reserved_before && s.ll_status == kLLNone && !is_sc) ++invalidations;
    // A scheduler switch (forced or by a yielding syscall) leaves steps_since_switch at 0;
    // so do the pop of an exited thread and clone, which the reference does not track.
    if (!pop && !clone && s.steps_since_switch == 0) {
      const uint64_t tid = s.current().id;
      if (active == 0 && tid != 0)
        thread0_left = n;
      else if (active != 0 && tid == 0)
        idle0 += n - thread0_left;
      active = tid;
    }
  }
};

void expect_equal(const VmStats& got, const Observed& o, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.rmw_success, o.rmw_success);
  EXPECT_EQ(got.rmw_fail, o.rmw_fail);
  EXPECT_EQ(got.max_ll_to_sc, o.max_ll_to_sc);
  EXPECT_EQ(got.reservation_invalidations, o.invalidations);
  EXPECT_EQ(got.forced_preemptions, o.preemptions);
  EXPECT_EQ(got.idle_steps_thread0, o.idle0);
  EXPECT_EQ(got.icache_misses, o.icache_misses);
  EXPECT_EQ(got.highest_icache_miss_pc, o.highest_miss_pc);
}

VmStats collect(const std::string& vector, uint64_t steps, bool jit, bool jit_runs_it) {
  State s = test::load_state_file(test::reference_dir() + "/vectors/" + vector + "/initial.bin.gz");
  Vm vm(s, nullptr, nullptr);
  vm.enable_stats();
  Executor ex(vm, ExecutorOptions{jit});
  EXPECT_EQ(ex.run_until(steps), StepStatus::kOk) << vm.panic_message();
  if (jit && jit_available() && jit_runs_it)
    EXPECT_GT(ex.jit_steps(), s.step / 2) << "the JIT ran too little";
  return *vm.stats();
}

Observed observe(const std::string& vector, uint64_t steps) {
  State s = test::load_state_file(test::reference_dir() + "/vectors/" + vector + "/initial.bin.gz");
  Vm vm(s, nullptr, nullptr);
  Observed o;
  while (!s.exited && s.step < steps) {
    o.step(s, vm);
    if (::testing::Test::HasFatalFailure()) break;
  }
  return o;
}

// jit_runs_it: false for isa, whose code lies above 128 MiB, where (statistics on) no block is
// compiled so that the interpreter counts the reference's instruction-cache misses.
void check_guest(const std::string& vector, uint64_t steps, bool jit_runs_it) {
  const Observed o = observe(vector, steps);
  // The guests exercise what is counted (reference README: isa has contended ll/sc and forced
  // preemptions; threads has atomics and 4 running goroutine threads).
  EXPECT_GT(o.rmw_success, 0u);
  EXPECT_GT(o.preemptions, 0u);
  EXPECT_GT(o.max_ll_to_sc, 0u);
  expect_equal(collect(vector, steps, false, false), o, "interpreter");
  expect_equal(collect(vector, steps, true, jit_runs_it), o, "JIT");
}

TEST(VmStats, IsaGuestWholeRunMatchesObserverJitOnAndOff) {
  CB_REQUIRE_REFERENCE();
  check_guest("isa", ~uint64_t{0}, false);
}

TEST(VmStats, ThreadsGuestPrefixMatchesObserverJitOnAndOff) {
  CB_REQUIRE_REFERENCE();
  check_guest("threads", 20'000'000, true);
}

TEST(VmStats, OffByDefault) {
  State s;
  Vm vm(s, nullptr, nullptr);
  EXPECT_EQ(vm.stats(), nullptr);
}

// The LRU of the reference's tracker keeps the ll steps of the 5 most recently used threads:
// a 6th thread's ll evicts the oldest, whose sc then no longer counts toward the maximum.
TEST(VmStats, LlStepsOfOnlyFiveThreadsAreRemembered) {
  VmStats st;
  for (uint64_t tid = 0; tid < 6; ++tid) st.on_ll(tid, 10 + tid);  // thread 0 evicted
  st.on_sc(0, 1000, true);
  EXPECT_EQ(st.max_ll_to_sc, 0u);
  EXPECT_EQ(st.rmw_success, 1u);
  st.on_sc(1, 111, false);  // 111 - 11
  EXPECT_EQ(st.max_ll_to_sc, 100u);
  EXPECT_EQ(st.rmw_fail, 1u);
  st.on_sc(1, 5000, false);  // consumed already
  EXPECT_EQ(st.max_ll_to_sc, 100u);
  // Re-using a thread refreshes it: 2 is now the most recent, 3 the oldest.
  st.on_ll(2, 200);
  st.on_ll(7, 300);
  st.on_ll(8, 301);  // evicts 3 (entries: 8 7 2 5 4)
  st.on_sc(3, 9000, true);
  EXPECT_EQ(st.max_ll_to_sc, 100u);
  st.on_sc(2, 450, true);
  EXPECT_EQ(st.max_ll_to_sc, 250u);
}

TEST(VmStats, IdleStepsOfThreadZeroAreCountedAtSwitches) {
  VmStats st;
  st.on_thread_activated(1, 100);  // thread 0 left at step 100
  st.on_thread_activated(2, 150);
  st.on_thread_activated(0, 400);  // back: 300 idle steps
  st.on_thread_activated(0, 500);
  st.on_thread_activated(3, 600);
  st.on_thread_activated(0, 610);
  EXPECT_EQ(st.idle_steps_thread0, 310u);
}

}  // namespace
}  // namespace cb
