#include "scheduler/trace_jobs.h"

#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>

#include "scheduler/executor.h"

namespace cb {

void SharedOracle::hint(std::span<const uint8_t> hint) {
  if (!m_inner) return;
  std::lock_guard<std::mutex> lock(m_mu);
  m_inner->hint(hint);
}

std::vector<uint8_t> SharedOracle::get_preimage(const Hash32& key) {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_cache.find(key);
  if (it != m_cache.end()) return it->second;
  std::vector<uint8_t> v = m_inner->get_preimage(key);
  m_cache.emplace(key, v);
  return v;
}

namespace {
std::atomic<uint64_t> g_proof2_window{kProof2Window};
}
uint64_t proof2_window() { return g_proof2_window.load(std::memory_order_relaxed); }
void set_proof2_window(uint64_t steps) { g_proof2_window.store(steps, std::memory_order_relaxed); }

void refresh_proof2(Vm& vm, const Checkpoint& from, PreimageOracle* oracle, bool jit,
                    uint64_t* steps) {
  if (vm.proof2_current()) return;
  const uint64_t t = vm.last_track2_step();  // state.step after that clock_gettime step
  if (t <= from.step())
    throw std::runtime_error("internal error: stale proof slot predates its checkpoint");
  State s = from.restore();
  Vm v(s, oracle, [](int, const uint8_t*, size_t) {});
  v.set_proof2_slot(from.proof2());
  v.set_track_proof2_from(t);
  Executor e(v, ExecutorOptions{jit});
  StepStatus st = e.run_until(t);
  if (steps) *steps += s.step - from.step();
  if (st != StepStatus::kOk || s.step != t || !v.proof2_current() || v.last_track2_step() != t)
    throw std::runtime_error("re-running to the clock_gettime of step " + std::to_string(t) +
                             " failed" +
                             (v.panic_message().empty() ? "" : ": " + v.panic_message()));
  vm.set_proof2_slot(v.proof2_slot());
}

namespace {

struct Group {
  CheckpointPtr from;
  std::vector<StepRequest> items;  // ascending step, one entry per step
};

}  // namespace

JobStats run_step_jobs(const std::vector<StepRequest>& requests, const CheckpointLookup& lookup,
                       PreimageOracle* oracle, const JobOptions& options,
                       const std::function<void(StepResult&&)>& done) {
  auto t0 = std::chrono::steady_clock::now();
  std::mutex done_mu;
  auto report = [&](StepResult&& r) {
    std::lock_guard<std::mutex> lock(done_mu);
    done(std::move(r));
  };

  // Merge duplicates, then group by the checkpoint each step starts from.
  std::map<uint64_t, StepRequest> merged;
  for (const StepRequest& r : requests) {
    StepRequest& m = merged[r.step];
    m.step = r.step;
    m.proof |= r.proof;
    m.hash |= r.hash;
  }
  std::map<uint64_t, Group> groups;
  for (auto& [step, r] : merged) {
    CheckpointPtr c = lookup(step);
    if (!c) {
      StepResult res;
      res.step = step;
      res.proof = r.proof;
      res.hash = r.hash;
      res.error = "no checkpoint at or before step " + std::to_string(step);
      report(std::move(res));
      continue;
    }
    Group& g = groups[c->step()];
    g.from = c;
    g.items.push_back(r);
  }
  std::vector<Group*> work;
  for (auto& kv : groups) work.push_back(&kv.second);
  // Longest forward runs first, so the last task to start is a short one.
  std::sort(work.begin(), work.end(), [](Group* a, Group* b) {
    return a->items.back().step - a->from->step() > b->items.back().step - b->from->step();
  });

  std::atomic<uint64_t> executed{0};
  auto run_group = [&](Group* g) {
    State state = g->from->restore();
    auto discard = [](int, const uint8_t*, size_t) {};
    Vm vm(state, oracle, discard);
    vm.set_proof2_slot(g->from->proof2());
    Executor exec(vm, ExecutorOptions{options.jit});
    const uint64_t start = state.step;
    uint64_t extra = 0;   // re-runs for the second proof slot
    std::string failure;  // once set, every later item of the group fails with it
    for (const StepRequest& it : g->items) {
      StepResult res;
      res.step = it.step;
      res.proof = it.proof;
      res.hash = it.hash;
      try {
        if (failure.empty()) {
          vm.set_track_proof2_from(it.proof ? proof2_window_start(it.step) : ~uint64_t{0});
          StepStatus st = exec.run_until(it.step);
          if (st != StepStatus::kOk)
            failure =
                "guest panic at step " + std::to_string(state.step - 1) + ": " + vm.panic_message();
          else if (state.step != it.step)
            failure = "the trace ends at step " + std::to_string(state.step) + " (the VM exited)";
        }
        if (failure.empty()) {
          if (it.hash) res.state_hash = state.hash();
          if (it.proof) {
            if (state.exited) {
              res.error = "step " + std::to_string(it.step) + " is the final state: the VM exited";
            } else {
              // A fresh Vm: its first proof slot is zero as in a single-proof run; the second
              // holds what the reference's tracker carries (last clock_gettime's proof).
              refresh_proof2(vm, *g->from, oracle, options.jit, &extra);
              Vm pv(state, oracle, discard);
              pv.set_proof2_slot(vm.proof2_slot());
              StepStatus st = pv.step_with_proof(res.witness);
              vm.set_proof2_slot(pv.proof2_slot());
              if (st != StepStatus::kOk) {
                failure =
                    "guest panic at step " + std::to_string(it.step) + ": " + pv.panic_message();
              } else {
                res.post_hash = state.hash();
              }
            }
          }
        }
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty() && res.error.empty()) res.error = failure;
      report(std::move(res));
    }
    vm.set_track_proof2_from(~uint64_t{0});
    executed += state.step - start + extra;
  };

  tbb::task_arena arena(options.threads ? int(options.threads) : tbb::task_arena::automatic);
  arena.execute([&] { tbb::parallel_for_each(work.begin(), work.end(), run_group); });

  JobStats stats;
  stats.steps_executed = executed.load();
  stats.groups = work.size();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace cb
