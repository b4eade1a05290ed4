// Interpreter throughput (issue 2): steps per second on `compute` and `threads` (first 200 M
// steps), and the time to compute the full memory root of the final `threads` state.
//
// Baseline measured in the same run: BM_InterpStepCalls, the same interpreter driven one
// Vm::step() call at a time through the public API (what a caller that checks events after
// every step pays), against BM_InterpRun, the run loop the CLI uses between events. The
// reference Go `cannon` cannot be built here (no Go modules offline); its 11-21 M steps/s on
// these machines comes from the issue text.
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "interp/vm.h"
#include "scheduler/executor.h"

namespace cb {
namespace {

constexpr uint64_t kSteps = 200'000'000;

// Runs kSteps from the guest's initial state with `drive(vm)` timed, and reports steps/s.
template <class Drive>
void interp_bench(benchmark::State& st, const char* guest, Drive drive) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  for (auto _ : st) {
    st.PauseTiming();
    State s = bench::initial_state(guest);
    Vm vm(s, nullptr, nullptr);
    st.ResumeTiming();
    drive(vm);
  }
  st.counters["steps_per_s"] =
      benchmark::Counter(double(kSteps) * st.iterations(), benchmark::Counter::kIsRate);
}

void BM_InterpRun(benchmark::State& st, const char* guest) {
  interp_bench(st, guest, [](Vm& vm) {
    StepStatus status;
    benchmark::DoNotOptimize(vm.run(kSteps, status));
  });
}

void BM_InterpStepCalls(benchmark::State& st, const char* guest) {
  interp_bench(st, guest, [](Vm& vm) {
    for (uint64_t i = 0; i < kSteps; ++i) benchmark::DoNotOptimize(vm.step());
  });
}

BENCHMARK_CAPTURE(BM_InterpStepCalls, compute, "compute")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_InterpRun, compute, "compute")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_InterpStepCalls, threads, "threads")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_InterpRun, threads, "threads")->Unit(benchmark::kMillisecond)->Iterations(1);

// The final `threads` state (1.46 G steps), computed once and cached in the build tree.
const std::vector<uint8_t>& threads_final() {
  static std::vector<uint8_t> bytes = [] {
    std::string cache = "bench-cache-threads-final.bin";
    if (std::filesystem::exists(cache)) return read_file(cache);
    State s = bench::initial_state("threads");
    Vm vm(s, nullptr, nullptr);
    Executor ex(vm, ExecutorOptions{true});
    ex.run_until(~uint64_t{0});
    auto b = s.serialize();
    write_file_atomic(cache, b);
    return b;
  }();
  return bytes;
}

void BM_MerkleRootThreadsFinal(benchmark::State& st) {
  if (!bench::have_vectors()) return st.SkipWithError("../shared/reference is absent");
  const auto& bytes = threads_final();
  size_t pages = 0;
  for (auto _ : st) {
    st.PauseTiming();
    State s = State::deserialize(bytes);  // every page hash cache empty
    pages = s.memory->page_count();
    st.ResumeTiming();
    benchmark::DoNotOptimize(s.memory->merkle_root());
  }
  st.counters["pages"] = double(pages);
}
BENCHMARK(BM_MerkleRootThreadsFinal)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace cb
