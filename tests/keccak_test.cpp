// Keccak-256 against published vectors and against Crypto++ (an independent implementation).
#include "memory/keccak.h"

#include <cryptopp/keccak.h>
#include <gtest/gtest.h>

#include <random>

#include "interp/state.h"

namespace cb {
namespace {

Hash32 crypto_pp(const std::vector<uint8_t>& d) {
  CryptoPP::Keccak_256 k;
  Hash32 out;
  k.CalculateDigest(out.data(), d.data(), d.size());
  return out;
}

TEST(Keccak, KnownVectors) {
  // keccak256("") and keccak256("abc"), as published for Ethereum's Keccak-256.
  EXPECT_EQ(hex(keccak256("", 0)),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(hex(keccak256("abc", 3)),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

TEST(Keccak, MatchesCryptoPPAtEveryLengthAroundTheRate) {
  std::mt19937_64 rng(42);
  for (size_t len = 0; len < 600; ++len) {
    std::vector<uint8_t> d(len);
    for (auto& b : d) b = uint8_t(rng());
    ASSERT_EQ(keccak256(d.data(), d.size()), crypto_pp(d)) << "length " << len;
  }
}

TEST(Keccak, SixtyFourByteFastPathMatches) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> d(64);
    for (auto& b : d) b = uint8_t(rng());
    ASSERT_EQ(keccak256_64(d.data()), crypto_pp(d));
  }
}

TEST(Keccak, EmptyThreadStackRootIsTheReferenceConstant) {
  // multithreaded/thread.go: EmptyThreadsRoot
  std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(hex(crypto_pp(zeros), false), kEmptyThreadsRootHex);
}

}  // namespace
}  // namespace cb
