// JIT throughput (issue 4): steps per second through the Executor (what `cannonball run`
// uses) on the first N steps of `compute` and `threads` from their initial states, with the
// JIT on and off in the same run, and the ratio. Target: >= 500 M steps/s on compute, >= 10x
// the reference (11-21 M steps/s) on threads.
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>

#include "bench_util.h"
#include "interp/vm.h"
#include "scheduler/executor.h"

namespace cb {
namespace {

constexpr uint64_t kSteps = 200'000'000;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Rate {
  double wall = 0, cpu = 0;  // steps per wall-clock second, per CPU second of this thread
};

// CPU time is reported too: on a shared, loaded machine wall time mostly measures the others.
Rate steps_per_s(const char* guest, bool jit, uint64_t steps, uint64_t* compiled) {
  State s = bench::initial_state(guest);
  Vm vm(s, nullptr, nullptr);
  Executor ex(vm, ExecutorOptions{jit});
  auto t0 = std::chrono::steady_clock::now();
  double c0 = thread_cpu_seconds();
  ex.run_until(steps);
  double cpu = thread_cpu_seconds() - c0;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (compiled) *compiled = ex.jit_steps();
  benchmark::DoNotOptimize(s.step);
  return Rate{double(s.step) / secs, double(s.step) / cpu};
}

// One benchmark per guest: both engines, so the ratio comes from the same run.
void BM_JitVsInterp(benchmark::State& st, const char* guest) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  Rate jit, interp;
  uint64_t compiled = 0;
  for (auto _ : st) {
    jit = steps_per_s(guest, true, kSteps, &compiled);
    interp = steps_per_s(guest, false, kSteps, nullptr);
  }
  st.counters["jit_steps_per_s"] = jit.wall;
  st.counters["interp_steps_per_s"] = interp.wall;
  st.counters["speedup"] = jit.wall / interp.wall;
  st.counters["jit_steps_per_cpu_s"] = jit.cpu;
  st.counters["interp_steps_per_cpu_s"] = interp.cpu;
  st.counters["speedup_cpu"] = jit.cpu / interp.cpu;
  st.counters["compiled_fraction"] = double(compiled) / double(kSteps);
}

void BM_Jit(benchmark::State& st, const char* guest) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  Rate r;
  for (auto _ : st) r = steps_per_s(guest, true, kSteps, nullptr);
  st.counters["steps_per_s"] = r.wall;
  st.counters["steps_per_cpu_s"] = r.cpu;
}

BENCHMARK_CAPTURE(BM_JitVsInterp, compute, "compute")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_JitVsInterp, threads, "threads")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Jit, compute, "compute")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Jit, threads, "threads")->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace cb
