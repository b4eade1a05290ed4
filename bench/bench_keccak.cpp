// Keccak-256 on the 64-byte inputs the Merkle tree hashes: our implementation against
// Crypto++'s, and the multi-buffer implementations against each other, measured in the same run.
#include <benchmark/benchmark.h>
#include <cryptopp/keccak.h>

#include <cstring>
#include <random>
#include <vector>

#include "memory/keccak.h"
#include "memory/keccak_multi.h"

namespace {

void BM_Keccak64_Ours(benchmark::State& st) {
  uint8_t buf[64] = {1, 2, 3};
  for (auto _ : st) {
    cb::Hash32 h = cb::keccak256_64(buf);
    buf[0] = h[0];
    benchmark::DoNotOptimize(h);
  }
  st.counters["hashes_per_s"] =
      benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Keccak64_Ours);

void BM_Keccak64_CryptoPP(benchmark::State& st) {
  uint8_t buf[64] = {1, 2, 3};
  CryptoPP::Keccak_256 k;
  for (auto _ : st) {
    uint8_t h[32];
    k.CalculateDigest(h, buf, 64);
    buf[0] = h[0];
    benchmark::DoNotOptimize(h);
  }
  st.counters["hashes_per_s"] =
      benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Keccak64_CryptoPP);

}  // namespace

// Multi-buffer Keccak (memory/keccak_multi.h): each implementation in the same run. Compare
// hashes_per_s across the /scalar, /avx2 and /avx512 rows of one benchmark.
namespace {

using cb::Hash32;
using cb::KeccakImpl;

// Selects impl for the benchmark's duration; false (and the row says why) if the CPU lacks it.
bool use_impl(benchmark::State& st, KeccakImpl impl) {
  if (!cb::keccak_impl_supported(impl)) {
    st.SkipWithError("implementation not supported by this CPU");
    return false;
  }
  cb::set_keccak_impl(impl);
  return true;
}

std::vector<uint8_t> random_pages(size_t pages) {
  std::mt19937_64 rng(99);
  std::vector<uint8_t> v(pages * 4096);
  for (size_t i = 0; i < v.size(); i += 8) {
    uint64_t x = rng();
    std::memcpy(&v[i], &x, 8);
  }
  return v;
}

// n = range(0) independent 64-byte inputs per iteration.
void BM_Keccak64Many(benchmark::State& st, KeccakImpl impl) {
  if (!use_impl(st, impl)) return;
  const size_t n = size_t(st.range(0));
  std::vector<uint8_t> data = random_pages((n * 64 + 4095) / 4096);
  std::vector<const uint8_t*> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = data.data() + 64 * i;
  std::vector<Hash32> out(n);
  for (auto _ : st) {
    cb::keccak256_64_many(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.counters["hashes_per_s"] =
      benchmark::Counter(double(st.iterations() * n), benchmark::Counter::kIsRate);
  cb::set_keccak_impl(KeccakImpl::Auto);
}
BENCHMARK_CAPTURE(BM_Keccak64Many, scalar, KeccakImpl::Scalar)
    ->Arg(4096)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->Arg(5)
    ->Arg(7);
BENCHMARK_CAPTURE(BM_Keccak64Many, avx2, KeccakImpl::Avx2)
    ->Arg(4096)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->Arg(5)
    ->Arg(7);
BENCHMARK_CAPTURE(BM_Keccak64Many, avx512, KeccakImpl::Avx512)
    ->Arg(4096)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->Arg(5)
    ->Arg(7);

// The 127-hash Merkle root of one 4 KiB page: 64 hashes of 64-byte chunks, then 32 of pairs,
// ... 1, level by level with keccak256_pairs_many.
Hash32 page_root(const uint8_t* page, Hash32* scratch) {
  cb::keccak256_pairs_many(reinterpret_cast<const Hash32*>(page), scratch, 64);
  for (size_t n = 32; n >= 1; n /= 2) cb::keccak256_pairs_many(scratch, scratch, n);
  return scratch[0];
}

// Roots of range(0) random pages per iteration with roots_of(page pointers, roots, count).
template <class RootsOf>
void page_roots_bench(benchmark::State& st, KeccakImpl impl, RootsOf roots_of) {
  if (!use_impl(st, impl)) return;
  const size_t pages = size_t(st.range(0));
  std::vector<uint8_t> data = random_pages(pages);
  std::vector<const uint8_t*> ptrs(pages);
  for (size_t p = 0; p < pages; ++p) ptrs[p] = data.data() + 4096 * p;
  std::vector<Hash32> roots(pages);
  for (auto _ : st) {
    roots_of(ptrs.data(), roots.data(), pages);
    benchmark::DoNotOptimize(roots.data());
    benchmark::ClobberMemory();
  }
  st.counters["pages_per_s"] =
      benchmark::Counter(double(st.iterations() * pages), benchmark::Counter::kIsRate);
  st.counters["hashes_per_s"] =
      benchmark::Counter(double(st.iterations() * pages * 127), benchmark::Counter::kIsRate);
  cb::set_keccak_impl(KeccakImpl::Auto);
}

// Each page rooted on its own (its top levels are narrower than a SIMD group).
void BM_PageRoot(benchmark::State& st, KeccakImpl impl) {
  page_roots_bench(st, impl, [](const uint8_t* const* pages, Hash32* roots, size_t n) {
    Hash32 scratch[64];
    for (size_t p = 0; p < n; ++p) roots[p] = page_root(pages[p], scratch);
  });
}
BENCHMARK_CAPTURE(BM_PageRoot, scalar, KeccakImpl::Scalar)->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_PageRoot, avx2, KeccakImpl::Avx2)->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_PageRoot, avx512, KeccakImpl::Avx512)->Arg(1)->Arg(1024);

// keccak256_page_roots: level by level across groups of 8 pages, so every level fills whole
// SIMD groups.
void BM_PageRoots(benchmark::State& st, KeccakImpl impl) {
  page_roots_bench(st, impl, cb::keccak256_page_roots);
}
BENCHMARK_CAPTURE(BM_PageRoots, scalar, KeccakImpl::Scalar)->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_PageRoots, avx2, KeccakImpl::Avx2)->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_PageRoots, avx512, KeccakImpl::Avx512)->Arg(1)->Arg(1024);

}  // namespace
