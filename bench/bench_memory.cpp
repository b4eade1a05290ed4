// Memory at op-program scale (issue 9): a cold Merkle root of a large memory with the scalar
// and the multi-buffer Keccak in the same run, state save and load (streaming, parallel gzip),
// and checkpoint take/restore. Sizes in MiB are the benchmark argument (256 and 1024; 1 GiB
// of guest pages needs ~1.1 GiB of RAM per live copy).
//
//   build/bench/cb_bench --benchmark_filter='BM_Mem' --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <random>

#include "interp/state_io.h"
#include "memory/keccak_multi.h"
#include "scheduler/checkpoint.h"

namespace cb {
namespace {

// Every page of `mib` MiB filled with random words (incompressible) or one word per KiB.
State big_state(uint64_t mib, bool random) {
  State s;
  std::mt19937_64 rng(42);
  const uint64_t base = 0x100000000000ull;
  for (uint64_t a = 0; a < (mib << 20); a += random ? 8 : 1024) s.memory->set_word(base + a, rng());
  s.memory->merkle_root();
  return s;
}

State& cached(uint64_t mib, bool random) {
  static std::map<std::pair<uint64_t, bool>, State> cache;
  auto key = std::make_pair(mib, random);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, big_state(mib, random)).first;
  return it->second;
}

void BM_MemMerkleRootCold(benchmark::State& st) {
  const uint64_t mib = uint64_t(st.range(0));
  const auto impl = st.range(1) ? KeccakImpl::Auto : KeccakImpl::Scalar;
  State& s = cached(mib, true);
  set_keccak_impl(impl);
  for (auto _ : st) {
    st.PauseTiming();
    s.memory->forget_hashes();
    st.ResumeTiming();
    benchmark::DoNotOptimize(s.memory->merkle_root());
  }
  st.SetLabel(keccak_impl_name(keccak_impl_in_use()));
  set_keccak_impl(KeccakImpl::Auto);
  st.counters["pages/s"] = benchmark::Counter(double(s.memory->page_count()),
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemMerkleRootCold)
    ->Args({256, 0})
    ->Args({256, 1})
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

void BM_MemStateSave(benchmark::State& st) {
  const uint64_t mib = uint64_t(st.range(0));
  const bool random = st.range(1);
  State& s = cached(mib, random);
  std::string p = temp_path("cb_bench_state.bin.gz");
  for (auto _ : st) save_state_file(p, s, WriteOptions{.sync = false});
  st.SetLabel(std::string(random ? "random" : "light") + ", " +
              human_bytes(std::filesystem::file_size(p)) + " file");
  st.counters["B/s"] =
      benchmark::Counter(double(mib << 20), benchmark::Counter::kIsIterationInvariantRate);
  std::filesystem::remove(p);
}
BENCHMARK(BM_MemStateSave)
    ->Args({256, 0})
    ->Args({256, 1})
    ->Args({1024, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_MemStateLoad(benchmark::State& st) {
  const uint64_t mib = uint64_t(st.range(0));
  const bool random = st.range(1);
  std::string p = temp_path("cb_bench_state_load.bin.gz");
  save_state_file(p, cached(mib, random), WriteOptions{.sync = false});
  for (auto _ : st) {
    State s = load_state_file(p);
    benchmark::DoNotOptimize(s.memory->page_count());
  }
  st.SetLabel(random ? "random" : "light");
  st.counters["B/s"] =
      benchmark::Counter(double(mib << 20), benchmark::Counter::kIsIterationInvariantRate);
  std::filesystem::remove(p);
}
BENCHMARK(BM_MemStateLoad)
    ->Args({256, 0})
    ->Args({256, 1})
    ->Args({1024, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The tree above the page roots (the roots are cached): built whole from the sorted roots
// (Memory::rebuild_tree, what a memory just loaded uses), every node invalidated and rehashed
// level by level with the multi-buffer Keccak (rehash_levels, a large flush), and the
// recursion (small flushes), in the same run.
void BM_MemUpperTree(benchmark::State& st) {
  State& s = cached(uint64_t(st.range(0)), true);
  const auto how = Memory::TreeRedo(st.range(1));
  for (auto _ : st) {
    st.PauseTiming();
    s.memory->forget_tree(how);
    st.ResumeTiming();
    benchmark::DoNotOptimize(s.memory->merkle_root());
  }
  st.SetLabel(how == Memory::TreeRedo::kWhole    ? "built whole from sorted roots, multi-buffer"
              : how == Memory::TreeRedo::kLevels ? "level by level, multi-buffer"
                                                 : "recursive, scalar");
}
BENCHMARK(BM_MemUpperTree)
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Args({1024, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Taking a checkpoint of a clean memory (share every page group) and restoring it (a private
// copy-on-write view): the cost is the group directory and inner-node cache, not the pages.
void BM_MemCheckpointTakeRestore(benchmark::State& st) {
  State& s = cached(uint64_t(st.range(0)), true);
  for (auto _ : st) {
    Checkpoint c(s);
    State r = c.restore();
    benchmark::DoNotOptimize(r.memory->page_count());
  }
}
BENCHMARK(BM_MemCheckpointTakeRestore)
    ->Arg(256)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace cb
