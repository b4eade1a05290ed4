// The run statistics `run --debug-info` reports, with the reference's definitions (its stats
// tracker, cannon/mipsevm/multithreaded/stats.go, fed from multithreaded/mips.go). They are
// collected only when a Vm has them enabled (Vm::enable_stats): a plain run pays a null
// pointer test on rare paths (preemption, LL/SC, a store to the reserved word, a fetch at or
// above 128 MiB, whose compare shares the branch of the pc alignment check).
//
// What each counts:
//   rmw_success / rmw_fail     sc/scd that stored (reservation matched) / that did not
//   max_ll_to_sc               the largest (step of an sc/scd) - (step of the same thread's
//                              latest ll/lld), over pairs still remembered: like the
//                              reference, the ll steps of only the 5 most recently used
//                              threads are kept (an LRU), and an sc consumes its thread's entry
//   reservation_invalidations  stores (plain stores, pre-image reads, clock_gettime,
//                              getrandom) to the word of the reservation; as in the reference
//                              this includes a store to word 0 while no reservation is held
//                              (ll_address is then 0), but not the sc's own store
//   forced_preemptions         steps that preempted a thread for running a full quantum
//   idle_steps_thread0         steps while a thread other than thread 0 was the one the
//                              scheduler last switched to (measured at switches only)
//   icache_misses, highest_icache_miss_pc
//                              cannonball has no instruction cache. The reference decodes
//                              the first 128 MiB of the address space ahead of time and
//                              counts an instruction fetched above that (pc >= 128 MiB) as a
//                              miss; cannonball counts the same fetches, so the two agree
//                              (Go guests never execute there: both are 0 for them).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace cb {

// The reference's eager-decode region (memory.defaultCodeSize): [0, 128 MiB).
constexpr uint64_t kICacheEnd = uint64_t{128} << 20;

struct VmStats {
  uint64_t rmw_success = 0;
  uint64_t rmw_fail = 0;
  uint64_t max_ll_to_sc = 0;
  uint64_t reservation_invalidations = 0;
  uint64_t forced_preemptions = 0;
  uint64_t idle_steps_thread0 = 0;
  uint64_t icache_misses = 0;
  uint64_t highest_icache_miss_pc = 0;

  // `step` is the state's step counter after the step began (the reference's GetStep() in
  // the middle of a step), i.e. the number of the step being executed, counting from 1.
  void on_ll(uint64_t tid, uint64_t step) { remember_ll(tid, step); }
  void on_sc(uint64_t tid, uint64_t step, bool stored) {
    ++(stored ? rmw_success : rmw_fail);
    for (size_t i = 0; i < m_ll_count; ++i) {
      if (m_ll[i].first != tid) continue;
      if (step - m_ll[i].second > max_ll_to_sc) max_ll_to_sc = step - m_ll[i].second;
      for (size_t k = i + 1; k < m_ll_count; ++k) m_ll[k - 1] = m_ll[k];
      --m_ll_count;
      return;
    }
  }
  void on_reservation_invalidated() { ++reservation_invalidations; }
  void on_forced_preemption() { ++forced_preemptions; }
  // After every switch of the running thread by the scheduler (forced or by a yielding
  // syscall; not the pop of an exited thread, which the reference does not track either).
  void on_thread_activated(uint64_t tid, uint64_t step) {
    if (m_active == 0 && tid != 0)
      m_thread0_left = step;
    else if (m_active != 0 && tid == 0)
      idle_steps_thread0 += step - m_thread0_left;
    m_active = tid;
  }
  void on_fetch(uint64_t pc) {
    if (pc < kICacheEnd) return;
    ++icache_misses;
    if (pc > highest_icache_miss_pc) highest_icache_miss_pc = pc;
  }

 private:
  // Most recently used first; at most kLlThreads entries (the reference's LRU size).
  static constexpr size_t kLlThreads = 5;
  void remember_ll(uint64_t tid, uint64_t step) {
    size_t i = 0;
    while (i < m_ll_count && m_ll[i].first != tid) ++i;
    if (i == m_ll_count) {
      if (m_ll_count < kLlThreads) ++m_ll_count;
      i = m_ll_count - 1;  // a new thread takes the last slot (evicting the oldest when full)
    }
    for (size_t k = i; k > 0; --k) m_ll[k] = m_ll[k - 1];
    m_ll[0] = {tid, step};
  }
  std::array<std::pair<uint64_t, uint64_t>, kLlThreads> m_ll{};
  size_t m_ll_count = 0;
  uint64_t m_active = 0;  // thread the scheduler last switched to (0 at the start)
  uint64_t m_thread0_left = 0;
};

}  // namespace cb
