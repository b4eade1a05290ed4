#include "scheduler/bisect.h"

#include <algorithm>

#include "scheduler/executor.h"

namespace cb {

TraceSide::TraceSide(TraceReader& trace, PreimageOracle* oracle, bool jit, uint64_t proof2_window)
    : m_trace(trace), m_oracle(oracle), m_jit(jit), m_proof2_window(proof2_window) {}

std::optional<Hash32> TraceSide::known(uint64_t step) {
  // Past the end of an exited trace every claim is its final state (op-challenger pads the
  // trace with the final state).
  if (step > m_trace.final_step() && m_trace.exited()) step = m_trace.final_step();
  if (auto it = m_snapshots.find(step); it != m_snapshots.end()) return it->second->hash();
  return m_trace.known_hash(step);
}

CheckpointPtr TraceSide::nearest(uint64_t step) {
  CheckpointPtr best;
  if (auto it = m_snapshots.upper_bound(step); it != m_snapshots.begin())
    best = std::prev(it)->second;
  auto disk = m_trace.checkpoints().at_or_before(step);
  if (disk && (!best || *disk > best->step())) best = m_trace.checkpoints().load(*disk);
  if (!best)
    throw CheckpointError("trace " + m_trace.dir() + " has no checkpoint at or before step " +
                          std::to_string(step));
  return best;
}

Hash32 TraceSide::hash_at(uint64_t step) {
  if (auto h = known(step)) return *h;
  if (step > m_trace.final_step())
    throw CheckpointError("step " + std::to_string(step) + " is past the end of trace " +
                          m_trace.dir() + " (step " + std::to_string(m_trace.final_step()) +
                          ", not exited)");
  CheckpointPtr from = nearest(step);
  State state = from->restore();
  Vm vm(state, m_oracle, [](int, const uint8_t*, size_t) {});
  Proof2Keeper keeper(RunOrigin::of(from), m_oracle, m_jit, m_proof2_window);
  keeper.start(vm);
  keeper.aim(vm, step);
  Executor exec(vm, ExecutorOptions{m_jit});
  StepStatus st = exec.run_until(step);
  m_executed += state.step - from->step();
  if (st != StepStatus::kOk)
    throw CheckpointError("guest panic while re-executing the trace: " + vm.panic_message());
  if (state.step != step)
    throw CheckpointError("the trace exited at step " + std::to_string(state.step));
  keeper.make_current(vm);  // snapshots carry a current slot
  m_executed += keeper.rerun_steps();
  auto snap = std::make_shared<const Checkpoint>(state, vm.proof2_slot());
  m_snapshots[step] = snap;
  return snap->hash();
}

StepResult TraceSide::prove(uint64_t step) {
  StepResult out;
  out.step = step;
  out.proof = true;
  CheckpointPtr from = nearest(step);
  JobStats js = run_step_jobs(
      {StepRequest{step, true, false}}, [&](uint64_t) { return from; }, m_oracle,
      JobOptions{1, m_jit, m_proof2_window}, [&](StepResult&& r) { out = std::move(r); });
  m_executed += js.steps_executed;
  return out;
}

std::map<uint64_t, Hash32> TraceSide::hashes_at(const std::vector<uint64_t>& steps) {
  std::map<uint64_t, Hash32> out;
  std::vector<StepRequest> reqs;
  std::map<uint64_t, CheckpointPtr> from;  // by checkpoint step
  for (uint64_t s : steps) {
    if (auto h = known(s)) {
      out[s] = *h;
      continue;
    }
    if (s > m_trace.final_step()) continue;
    CheckpointPtr c = nearest(s);
    from.emplace(c->step(), c);
    reqs.push_back({s, false, true});
  }
  if (reqs.empty()) return out;
  std::string error;
  JobStats js = run_step_jobs(
      reqs,
      [&](uint64_t step) {
        auto it = from.upper_bound(step);
        return std::prev(it)->second;
      },
      m_oracle, JobOptions{0, m_jit, m_proof2_window},
      [&](StepResult&& r) {
        if (!r.error.empty() && error.empty())
          error = "step " + std::to_string(r.step) + ": " + r.error;
        if (r.error.empty()) out[r.step] = r.state_hash;
      });
  m_executed += js.steps_executed;
  if (!error.empty()) throw CheckpointError("re-executing the trace: " + error);
  return out;
}

std::optional<Hash32> ClaimsSide::known(uint64_t step) {
  auto it = m_claims.find(step);
  if (it == m_claims.end()) return std::nullopt;
  return it->second;
}

Hash32 ClaimsSide::hash_at(uint64_t step) {
  if (auto h = known(step)) return *h;
  throw CheckpointError("no claim for step " + std::to_string(step));
}

BisectResult bisect(TraceSide& ours, BisectSide& theirs, const BisectOptions& options) {
  BisectResult res;
  const uint64_t start = ours.trace().start_step();
  // Candidate steps: the claims at or after our start, or every step of the longer trace.
  std::vector<uint64_t> claim_steps;
  uint64_t n;
  auto* claims = dynamic_cast<ClaimsSide*>(&theirs);
  if (claims) {
    for (auto& kv : claims->claims())
      if (kv.first >= start) claim_steps.push_back(kv.first);
    n = claim_steps.size();
  } else {
    auto* other = static_cast<TraceSide*>(&theirs);
    uint64_t end = std::max(ours.trace().final_step(), other->trace().final_step());
    n = end - start + 1;
  }
  auto cand = [&](uint64_t i) { return claims ? claim_steps[i] : start + i; };
  auto index_of = [&](uint64_t step) -> std::optional<uint64_t> {
    if (!claims)
      return step >= start && step - start < n ? std::optional<uint64_t>(step - start)
                                               : std::nullopt;
    auto it = std::lower_bound(claim_steps.begin(), claim_steps.end(), step);
    if (it == claim_steps.end() || *it != step) return std::nullopt;
    return uint64_t(it - claim_steps.begin());
  };
  auto compare = [&](uint64_t step, Hash32& a, Hash32& b) {
    bool free_a = ours.known(step).has_value(), free_b = theirs.known(step).has_value();
    a = ours.hash_at(step);
    b = theirs.hash_at(step);
    if (!free_a || !free_b) ++res.probes;
    bool agree = a == b;
    if (options.on_probe) options.on_probe(step, a, b, agree);
    return agree;
  };
  auto finish = [&] {
    res.steps_executed = ours.steps_executed() + theirs.steps_executed();
    return res;
  };
  if (n == 0) return finish();  // nothing claimed at or after our start
  auto inconsistent = [&](uint64_t differ, uint64_t agree) {
    res.outcome = BisectResult::Outcome::kInconsistent;
    res.differ_step = differ;
    res.agree_step = agree;
    res.ours = ours.hash_at(differ);
    res.theirs = theirs.hash_at(differ);
    return finish();
  };
  // Free consistency check: the steps both sides know without executing, in order.
  {
    std::optional<uint64_t> differ;
    for (auto& [step, h] : ours.trace().known_hashes()) {
      if (step < start || !index_of(step)) continue;
      auto tb = theirs.known(step);
      if (!tb) continue;
      if (*tb != h && !differ) differ = step;
      if (*tb == h && differ) return inconsistent(*differ, step);
    }
  }

  // lo: index known to agree (-1: the implicit agreement on our start, when no candidate is
  // there); hi: index known to differ (n: none found yet).
  int64_t lo = -1;
  uint64_t hi = n;
  Hash32 a, b;
  if (!compare(cand(0), a, b)) {
    hi = 0;
    if (cand(0) == start) {
      res.outcome = BisectResult::Outcome::kPrestateDiffers;
      res.differ_step = start;
      res.ours = a;
      res.theirs = b;
      return finish();
    }
  } else {
    lo = 0;
    // Free narrowing: steps where both sides know their hash, in order.
    for (auto& [step, h] : ours.trace().known_hashes()) {
      auto idx = index_of(step);
      if (!idx || int64_t(*idx) <= lo) continue;
      auto tb = theirs.known(step);
      if (!tb) continue;
      if (*tb == h) {
        lo = int64_t(*idx);
      } else {
        hi = *idx;
        break;
      }
    }
    if (hi == n) {
      // Nothing free disagrees: look at the last candidate.
      if (int64_t(n - 1) == lo || compare(cand(n - 1), a, b)) {
        // Claims: agreeing at both ends proves nothing about the claims between; compare
        // them all (in order, so each probe runs on from the last).
        if (claims && n > 2) {
          std::vector<uint64_t> middle(claim_steps.begin() + 1, claim_steps.end() - 1);
          for (uint64_t step : middle) res.probes += !ours.known(step).has_value();
          std::map<uint64_t, Hash32> mine = ours.hashes_at(middle);
          for (uint64_t step : middle) {
            auto it = mine.find(step);
            if (it == mine.end()) continue;  // past our end
            const Hash32 t = theirs.hash_at(step);
            if (options.on_probe) options.on_probe(step, it->second, t, it->second == t);
            if (it->second != t) return inconsistent(step, cand(n - 1));
          }
        }
        res.outcome = BisectResult::Outcome::kNoDifference;
        res.agree_step = cand(n - 1);
        res.naive_steps = cand(n - 1) - start;
        return finish();
      }
      hi = n - 1;
    }
  }
  while (hi - uint64_t(lo + 1) > 0) {
    uint64_t mid = uint64_t(lo) + (hi - uint64_t(lo)) / 2;
    if (lo < 0) mid = (hi - 1) / 2;
    if (compare(cand(mid), a, b))
      lo = int64_t(mid);
    else
      hi = mid;
  }
  // A later claim known for free that agrees again: the claims are inconsistent.
  for (uint64_t i = hi + 1; i < n; ++i) {
    const uint64_t step = cand(i);
    auto ta = ours.known(step), tb = theirs.known(step);
    if (ta && tb && *ta == *tb) return inconsistent(cand(hi), step);
  }
  res.differ_step = cand(hi);
  res.agree_step = lo < 0 ? start : cand(uint64_t(lo));
  res.ours = ours.hash_at(res.differ_step);
  res.theirs = theirs.hash_at(res.differ_step);
  res.naive_steps = res.differ_step - start;
  if (res.agree_step + 1 == res.differ_step) {
    res.outcome = BisectResult::Outcome::kFound;
    res.proof = ours.prove(res.agree_step);
    if (res.proof.error.empty() && res.proof.post_hash != res.ours)
      res.proof.error = "internal error: the proof's post-state hash differs from the trace's";
  } else {
    res.outcome = BisectResult::Outcome::kGap;
  }
  return finish();
}

}  // namespace cb
