// Keccak-256 on the 64-byte inputs the Merkle tree hashes: our implementation against
// Crypto++'s, measured in the same run.
#include <benchmark/benchmark.h>
#include <cryptopp/keccak.h>

#include "memory/keccak.h"

namespace {

void BM_Keccak64_Ours(benchmark::State& st) {
  uint8_t buf[64] = {1, 2, 3};
  for (auto _ : st) {
    cb::Hash32 h = cb::keccak256_64(buf);
    buf[0] = h[0];
    benchmark::DoNotOptimize(h);
  }
  st.counters["hashes_per_s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
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
  st.counters["hashes_per_s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Keccak64_CryptoPP);

}  // namespace
