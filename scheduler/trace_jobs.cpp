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
    Proof2Keeper keeper(RunOrigin::of(g->from), oracle, options.jit, options.proof2_window);
    keeper.start(vm);
    Executor exec(vm, ExecutorOptions{options.jit});
    const uint64_t start = state.step;
    std::string failure;  // once set, every later item of the group fails with it
    for (const StepRequest& it : g->items) {
      StepResult res;
      res.step = it.step;
      res.proof = it.proof;
      res.hash = it.hash;
      try {
        if (failure.empty()) {
          if (it.proof)
            keeper.aim(vm, it.step);
          else
            Proof2Keeper::aim_nowhere(vm);
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
              std::string panic;
              StepStatus st = prove_step(vm, keeper, true, res.witness, &panic);
              if (st != StepStatus::kOk) {
                failure = "guest panic at step " + std::to_string(it.step) + ": " + panic;
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
    Proof2Keeper::aim_nowhere(vm);
    executed += state.step - start + keeper.rerun_steps();
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
