// Multi-buffer Keccak-256 (memory/keccak_multi.h): every implementation this CPU can run must
// give Crypto++'s digest (an independent implementation) and the scalar keccak256_64's, for
// every group remainder, unaligned and repeated pointers, and the aliasing the API allows.
#include "memory/keccak_multi.h"

#include <cryptopp/keccak.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "interp/state.h"

namespace cb {

// Test names and failure messages print the implementation's name.
void PrintTo(KeccakImpl impl, std::ostream* os) { *os << keccak_impl_name(impl); }

namespace {

Hash32 crypto_pp64(const uint8_t* d) {
  CryptoPP::Keccak_256 k;
  Hash32 out;
  k.CalculateDigest(out.data(), d, 64);
  return out;
}

class KeccakMulti : public ::testing::TestWithParam<KeccakImpl> {
 protected:
  void SetUp() override {
    if (!keccak_impl_supported(GetParam()))
      GTEST_SKIP() << keccak_impl_name(GetParam()) << " is not supported by this CPU or build";
    set_keccak_impl(GetParam());
    ASSERT_EQ(keccak_impl_in_use(), GetParam());
  }
  void TearDown() override { set_keccak_impl(KeccakImpl::Auto); }
};

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

// n inputs at distinct random, mostly unaligned offsets of buf; checks out against both oracles.
void check_random(size_t n, uint64_t seed) {
  std::vector<uint8_t> buf = random_bytes(64 * n + 4096, seed);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<const uint8_t*> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = buf.data() + rng() % (buf.size() - 63);
  std::vector<Hash32> out(n + 1);
  const Hash32 canary = {0xAA, 0x55};
  out[n] = canary;
  keccak256_64_many(in.data(), out.data(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(out[i], crypto_pp64(in[i])) << "n " << n << " input " << i;
    ASSERT_EQ(out[i], keccak256_64(in[i])) << "n " << n << " input " << i;
  }
  ASSERT_EQ(out[n], canary) << "wrote past out[n-1], n " << n;
}

TEST_P(KeccakMulti, EveryCountUpTo40) {
  keccak256_64_many(nullptr, nullptr, 0);
  for (size_t n = 0; n <= 40; ++n) check_random(n, 1000 + n);
}

TEST_P(KeccakMulti, LargeCounts) {
  check_random(4096, 1);
  check_random(10007, 2);
}

TEST_P(KeccakMulti, KnownVectorZeroInput) {
  // keccak256 of 64 zero bytes is the reference's EmptyThreadsRoot (multithreaded/thread.go).
  uint8_t zeros[64] = {};
  std::vector<const uint8_t*> in(13, zeros);
  std::vector<Hash32> out(13);
  keccak256_64_many(in.data(), out.data(), in.size());
  for (const Hash32& h : out) ASSERT_EQ(hex(h, false), kEmptyThreadsRootHex);
}

TEST_P(KeccakMulti, RepeatedAndInterleavedPointers) {
  std::vector<uint8_t> buf = random_bytes(64 * 3 + 1, 3);
  const uint8_t* a = buf.data() + 1;
  const uint8_t* b = buf.data() + 65;
  const uint8_t* c = buf.data() + 129;
  const Hash32 ha = crypto_pp64(a), hb = crypto_pp64(b), hc = crypto_pp64(c);
  for (size_t n = 1; n <= 33; ++n) {
    std::vector<const uint8_t*> in(n);
    for (size_t i = 0; i < n; ++i) in[i] = (i % 5 == 1) ? b : (i % 3 == 2) ? c : a;
    std::vector<Hash32> out(n);
    keccak256_64_many(in.data(), out.data(), n);
    for (size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], in[i] == a ? ha : in[i] == b ? hb : hc) << "n " << n << " input " << i;
  }
}

TEST_P(KeccakMulti, OutputOverlapsOwnAndEarlierInputs) {
  // in[i] = base + 32 i (each input overlaps its neighbours) and out = base: out[i] is the first
  // half of in[i] and the second half of in[i-1], which the API allows.
  for (size_t n : {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 100}) {
    std::vector<uint8_t> buf = random_bytes(32 * n + 32 + 1, 4 + n);
    uint8_t* base = buf.data() + 1;  // unaligned too
    std::vector<const uint8_t*> in(n);
    std::vector<Hash32> expected(n);
    for (size_t i = 0; i < n; ++i) {
      in[i] = base + 32 * i;
      expected[i] = crypto_pp64(in[i]);
    }
    // Hash32 is a byte array (alignment 1), so an unaligned byte address is a valid Hash32*.
    static_assert(alignof(Hash32) == 1);
    keccak256_64_many(in.data(), reinterpret_cast<Hash32*>(base), n);
    for (size_t i = 0; i < n; ++i) {
      Hash32 got;
      std::memcpy(got.data(), base + 32 * i, 32);
      ASSERT_EQ(got, expected[i]) << "n " << n << " input " << i;
    }
  }
}

TEST_P(KeccakMulti, PairsInPlaceGiveThePageRoot) {
  // The Merkle root of one 4 KiB page, level by level in place, against Crypto++ level by level
  // into separate buffers.
  std::vector<uint8_t> page = random_bytes(4096, 5);
  std::vector<Hash32> level(128);
  std::memcpy(level.data(), page.data(), 4096);
  std::vector<Hash32> expect = level;
  for (size_t n = 64; n >= 1; n /= 2) {
    std::vector<Hash32> next(n);
    for (size_t i = 0; i < n; ++i) next[i] = crypto_pp64(expect[2 * i].data());
    expect = next;
    keccak256_pairs_many(level.data(), level.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(level[i], expect[i]) << "level width " << n;
  }
  // And into a separate buffer, for a count that is not a power of two.
  std::vector<Hash32> pairs(2 * 37);
  std::memcpy(pairs.data(), random_bytes(64 * 37, 6).data(), 64 * 37);
  std::vector<Hash32> out(37);
  keccak256_pairs_many(pairs.data(), out.data(), 37);
  for (size_t i = 0; i < 37; ++i) ASSERT_EQ(out[i], keccak256_pair(pairs[2 * i], pairs[2 * i + 1]));
}

// Crypto++ Merkle root of a 4 KiB page, level by level.
Hash32 crypto_pp_page_root(const uint8_t* page) {
  std::vector<Hash32> level(128);
  std::memcpy(level.data(), page, 4096);
  for (size_t n = 64; n >= 1; n /= 2) {
    for (size_t i = 0; i < n; ++i) level[i] = crypto_pp64(level[2 * i].data());
  }
  return level[0];
}

TEST_P(KeccakMulti, PageRootsOfUpTo20Pages) {
  std::vector<uint8_t> buf = random_bytes(4096 * 20 + 1, 7);
  std::vector<Hash32> expected(20);
  std::vector<const uint8_t*> pages(20);
  for (size_t p = 0; p < 20; ++p) {
    // Out of order, unaligned, the last page twice.
    pages[p] = buf.data() + 1 + 4096 * ((p * 7) % 19);
    expected[p] = crypto_pp_page_root(pages[p]);
  }
  for (size_t n = 0; n <= 20; ++n) {
    std::vector<Hash32> roots(n);
    keccak256_page_roots(pages.data(), roots.data(), n);
    for (size_t p = 0; p < n; ++p) ASSERT_EQ(roots[p], expected[p]) << "n " << n << " page " << p;
  }
  // A zero page's root is the zero-subtree hash of height 7: a zero pair hashed, 7 times over.
  std::vector<uint8_t> zero(4096, 0);
  Hash32 z{};
  for (int i = 0; i < 7; ++i) {
    uint8_t pair[64] = {};
    std::memcpy(pair, z.data(), 32);
    std::memcpy(pair + 32, z.data(), 32);
    z = crypto_pp64(pair);
  }
  const uint8_t* zp = zero.data();
  Hash32 root;
  keccak256_page_roots(&zp, &root, 1);
  EXPECT_EQ(root, z);
}

INSTANTIATE_TEST_SUITE_P(
    Impl, KeccakMulti, ::testing::Values(KeccakImpl::Scalar, KeccakImpl::Avx2, KeccakImpl::Avx512),
    [](const auto& info) { return std::string(keccak_impl_name(info.param)); });

TEST(KeccakMultiDispatch, AutoPicksASupportedImplementation) {
  set_keccak_impl(KeccakImpl::Auto);
  KeccakImpl impl = keccak_impl_in_use();
  EXPECT_NE(impl, KeccakImpl::Auto);
  EXPECT_TRUE(keccak_impl_supported(impl));
  // CB_KECCAK, when set (tests/CMakeLists.txt runs this test again with CB_KECCAK=scalar).
  if (const char* env = std::getenv("CB_KECCAK")) {
    std::optional<KeccakImpl> want = keccak_impl_from_name(env);
    if (want && *want != KeccakImpl::Auto && keccak_impl_supported(*want)) EXPECT_EQ(impl, *want);
  }
  // An unsupported request falls back to a supported one, never to an illegal instruction.
  set_keccak_impl(KeccakImpl::Avx512);
  EXPECT_TRUE(keccak_impl_supported(keccak_impl_in_use()));
  set_keccak_impl(KeccakImpl::Auto);
}

TEST(KeccakMultiDispatch, NamesRoundTripAsCbKeccakAccepts) {
  for (KeccakImpl impl :
       {KeccakImpl::Auto, KeccakImpl::Scalar, KeccakImpl::Avx2, KeccakImpl::Avx512})
    EXPECT_EQ(keccak_impl_from_name(keccak_impl_name(impl)), impl);
  EXPECT_EQ(keccak_impl_from_name("avx512"), KeccakImpl::Avx512);
  EXPECT_FALSE(keccak_impl_from_name("AVX2").has_value());
  EXPECT_FALSE(keccak_impl_from_name("sse").has_value());
  EXPECT_FALSE(keccak_impl_from_name("").has_value());
}

}  // namespace
}  // namespace cb
