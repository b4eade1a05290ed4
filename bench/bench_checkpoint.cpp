// Checkpoints (issue 5) on `compute`:
//  - BM_RunPlain vs BM_RunCheckpointsInMemory vs BM_RunTraceToDisk: the cost of a
//    copy-on-write checkpoint every 1e8 steps over 3e8 steps, with the Executor (JIT when
//    built, else the interpreter), in memory only and with the background zstd store;
//  - BM_ProveRandomStep: the time to prove a random step from the nearest checkpoint, for
//    checkpoints every 1e8 and every 1e7 steps (counters: store size on disk).
#include <benchmark/benchmark.h>

#include <random>

#include "bench_util.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb {
namespace {

constexpr uint64_t kRunSteps = 300'000'000;
constexpr uint64_t kEvery = 100'000'000;

// Arg: 1 = track the reference's second proof slot (a Merkle proof per clock_gettime), as a
// trace does so that its checkpoints can reproduce single-proof runs.
void BM_RunPlain(benchmark::State& st) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  for (auto _ : st) {
    st.PauseTiming();
    State s = bench::initial_state("compute");
    Vm vm(s, nullptr, nullptr);
    vm.set_track_proof2_always(st.range(0) != 0);
    Executor ex(vm);
    st.ResumeTiming();
    ex.run_until(kRunSteps);
    if (s.step != kRunSteps)
      return st.SkipWithError(
          ("stopped at step " + std::to_string(s.step) + ": " + vm.panic_message()).c_str());
  }
  st.counters["steps_per_s"] =
      benchmark::Counter(double(kRunSteps) * st.iterations(), benchmark::Counter::kIsRate);
  st.counters["jit"] = jit_available() ? 1 : 0;
}

void BM_RunCheckpointsInMemory(benchmark::State& st) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  size_t kept_pages = 0;
  for (auto _ : st) {
    st.PauseTiming();
    State s = bench::initial_state("compute");
    Vm vm(s, nullptr, nullptr);
    vm.set_track_proof2_always(st.range(0) == 1);
    Executor ex(vm, ExecutorOptions{st.range(0) != 2});  // 2: interpreter only
    CheckpointSet set;
    st.ResumeTiming();
    set.add(std::make_shared<const Checkpoint>(s, vm.proof2_slot()));
    for (uint64_t next = kEvery; next <= kRunSteps; next += kEvery) {
      ex.run_until(next);
      if (s.step != next)
        return st.SkipWithError(
            ("stopped at step " + std::to_string(s.step) + ": " + vm.panic_message()).c_str());
      set.add(std::make_shared<const Checkpoint>(s, vm.proof2_slot()));
    }
    st.PauseTiming();
    kept_pages = s.memory->page_count();
    st.ResumeTiming();
  }
  st.counters["steps_per_s"] =
      benchmark::Counter(double(kRunSteps) * st.iterations(), benchmark::Counter::kIsRate);
  st.counters["pages"] = double(kept_pages);
}

void BM_RunTraceToDisk(benchmark::State& st) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  std::string dir = std::filesystem::temp_directory_path() / "cb-bench-trace";
  TraceSummary sum;
  for (auto _ : st) {
    st.PauseTiming();
    State s = bench::initial_state("compute");
    TraceOptions opt;
    opt.checkpoint_every = kEvery;
    opt.stop_at = kRunSteps;
    st.ResumeTiming();
    sum = record_trace(std::move(s), nullptr, dir, opt);
    if (sum.final_step != kRunSteps)
      return st.SkipWithError(
          ("stopped at step " + std::to_string(sum.final_step) + ": " + sum.panic_message).c_str());
  }
  std::filesystem::remove_all(dir);
  st.counters["steps_per_s"] =
      benchmark::Counter(double(kRunSteps) * st.iterations(), benchmark::Counter::kIsRate);
  st.counters["store_bytes"] = double(sum.store.bytes);
  st.counters["store_pages"] = double(sum.store.pages);
  st.counters["writer_busy_s"] = sum.store.busy_seconds;
}

// A trace of the first `end` steps of compute with a checkpoint every `every`, made once.
struct BenchTrace {
  std::string dir;
  CheckpointSet ckpts;
  uint64_t bytes = 0;
};
BenchTrace& bench_trace(uint64_t every, uint64_t end) {
  static std::map<uint64_t, BenchTrace> cache;
  auto it = cache.find(every);
  if (it != cache.end()) return it->second;
  BenchTrace& t = cache[every];
  t.dir = std::filesystem::temp_directory_path() / ("cb-bench-prove-" + std::to_string(every));
  TraceOptions opt;
  opt.checkpoint_every = every;
  opt.stop_at = end;
  opt.writer.sync = false;
  t.bytes = record_trace(bench::initial_state("compute"), nullptr, t.dir, opt).store.bytes;
  CheckpointReader r(t.dir);
  for (uint64_t s : r.steps()) t.ckpts.add(r.load(s));
  return t;
}

void BM_ProveRandomStep(benchmark::State& st) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  const uint64_t every = uint64_t(st.range(0)), end = 2 * kEvery;
  BenchTrace& t = bench_trace(every, end);
  std::mt19937_64 rng(7);
  uint64_t executed = 0;
  for (auto _ : st) {
    uint64_t step = rng() % end;
    StepResult out;
    JobStats js = run_step_jobs(
        {StepRequest{step, true, false}}, [&](uint64_t s) { return t.ckpts.at_or_before(s); },
        nullptr, JobOptions{1, true}, [&](StepResult&& r) { out = std::move(r); });
    executed += js.steps_executed;
    if (!out.error.empty()) return st.SkipWithError(out.error.c_str());
    benchmark::DoNotOptimize(out.post_hash);
  }
  st.counters["steps_from_ckpt"] = double(executed) / double(st.iterations());
  st.counters["store_bytes"] = double(t.bytes);
}

BENCHMARK(BM_RunPlain)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_RunCheckpointsInMemory)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK(BM_RunTraceToDisk)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ProveRandomStep)
    ->Arg(100'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(8);

}  // namespace
}  // namespace cb
