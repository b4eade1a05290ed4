// Memory's Merkle root and proofs against a naive tree written here: a sparse map of 32-byte
// leaves over the whole 2^64-byte space, hashed top-down with Crypto++'s Keccak-256 (not ours),
// the empty subtrees from their definition. Uses only Memory's public API (set_word, get_word,
// set_range, merkle_root, proof), so it holds for any implementation of the page store and the
// hash caches. Also checks the proof walk the witness verifier uses (mem_proof_root).
#include <cryptopp/keccak.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "interp/witness_step.h"
#include "memory/memory.h"

namespace cb {
namespace {

using Leaf = std::array<uint8_t, 32>;

Leaf naive_pair(const Leaf& a, const Leaf& b) {
  uint8_t in[64];
  std::memcpy(in, a.data(), 32);
  std::memcpy(in + 32, b.data(), 32);
  CryptoPP::Keccak_256 k;
  Leaf out;
  k.CalculateDigest(out.data(), in, 64);
  return out;
}

class NaiveTree {
 public:
  static constexpr unsigned kHeight = 59;  // 2^59 leaves of 32 bytes

  NaiveTree() {
    m_zero[0] = Leaf{};
    for (unsigned h = 1; h <= kHeight; ++h) m_zero[h] = naive_pair(m_zero[h - 1], m_zero[h - 1]);
  }
  void write_byte(uint64_t addr, uint8_t v) { m_leaves[addr >> 5][addr & 31] = v; }
  void write_word(uint64_t addr, uint64_t v) {
    for (int i = 0; i < 8; ++i) write_byte((addr & ~uint64_t{7}) + i, uint8_t(v >> (56 - 8 * i)));
  }
  uint64_t read_word(uint64_t addr) const {
    auto it = m_leaves.find(addr >> 5);
    if (it == m_leaves.end()) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | it->second[(addr & 24) + i];
    return v;
  }
  Leaf root() const { return node(kHeight, 0); }
  // Leaf then the sibling of every node on the path, bottom-up.
  std::vector<Leaf> proof(uint64_t addr) const {
    std::vector<Leaf> out{node(0, addr >> 5)};
    for (unsigned h = 0; h < kHeight; ++h) out.push_back(node(h, ((addr >> 5) >> h) ^ 1));
    return out;
  }

 private:
  // The subtree of height h whose leaves are [index << h, (index + 1) << h).
  Leaf node(unsigned h, uint64_t index) const {
    const uint64_t first = index << h;
    auto it = m_leaves.lower_bound(first);
    if (it == m_leaves.end() || (h < 64 && (it->first >> h) != index)) return m_zero[h];
    if (h == 0) return it->second;
    return naive_pair(node(h - 1, 2 * index), node(h - 1, 2 * index + 1));
  }
  std::map<uint64_t, Leaf> m_leaves;
  Leaf m_zero[kHeight + 1];
};

void expect_same(Memory& m, const NaiveTree& t, uint64_t addr) {
  std::vector<Leaf> want = t.proof(addr);
  MemProof got = m.proof(addr);
  ASSERT_EQ(want.size(), kMemProofLeafCount);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(0, std::memcmp(got.data() + 32 * i, want[i].data(), 32))
        << "proof of " << std::hex << addr << " entry " << std::dec << i;
  EXPECT_EQ(m.get_word(addr & ~uint64_t{7}), t.read_word(addr));
  // The verifier's proof walk gives the root back.
  Hash32 r = t.root();
  EXPECT_EQ(mem_proof_root(std::span<const uint8_t, kMemProofSize>(got), addr), r);
}

TEST(MemoryMerkle, EmptyMemoryIsTheAllZeroTree) {
  Memory m;
  NaiveTree t;
  EXPECT_EQ(m.merkle_root(), t.root());
  for (uint64_t a : {uint64_t{0}, uint64_t{0x1000}, ~uint64_t{7}, uint64_t{1} << 63})
    expect_same(m, t, a);
}

TEST(MemoryMerkle, HandPickedAddressesMatchTheNaiveTree) {
  Memory m;
  NaiveTree t;
  // First and last word of the space, both sides of page and leaf boundaries, high halves.
  const uint64_t addrs[] = {
      0x0,          0x8,           0x18,           0x20,           0xff8,
      0x1000,       0x1ff8,        0x7ffffffff000, 0x7fffffffeff8, uint64_t{1} << 63,
      ~uint64_t{7}, 0x123456789a0, 0x10000000000};
  uint64_t v = 0x0123456789abcdefULL;
  for (uint64_t a : addrs) {
    m.set_word(a, v);
    t.write_word(a, v);
    v = v * 6364136223846793005ULL + 1442695040888963407ULL;
    ASSERT_EQ(m.merkle_root(), t.root()) << "after writing " << std::hex << a;
  }
  for (uint64_t a : addrs)
    for (uint64_t d : {uint64_t{0}, uint64_t{8}, uint64_t{32}, uint64_t{4096}})
      expect_same(m, t, a + d);
  // Zeros written into an allocated page: the root is as if never written.
  m.set_word(0x1000, 0);
  t.write_word(0x1000, 0);
  EXPECT_EQ(m.merkle_root(), t.root());
}

TEST(MemoryMerkle, RandomWritesAndRangesMatchTheNaiveTree) {
  std::mt19937_64 rng(1234);
  Memory m;
  NaiveTree t;
  const uint64_t regions[] = {0x10000, 0x7fffffff0000, 0x100000000000, 0xfffffffffff00000};
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 25; ++i) {
      uint64_t a = (regions[rng() % 4] + (rng() % (3 * 4096))) & ~uint64_t{7};
      uint64_t v = rng();
      m.set_word(a, v);
      t.write_word(a, v);
    }
    // A byte range across a page boundary.
    std::vector<uint8_t> bytes(1 + rng() % 300);
    for (auto& b : bytes) b = uint8_t(rng());
    uint64_t start = regions[rng() % 4] + 4096 - rng() % 150;
    m.set_range(start, bytes.data(), bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) t.write_byte(start + i, bytes[i]);
    ASSERT_EQ(m.merkle_root(), t.root()) << "round " << round;
    for (int k = 0; k < 4; ++k) expect_same(m, t, regions[rng() % 4] + rng() % (4 * 4096));
  }
}

TEST(MemoryMerkle, ProofWalkDetectsAnyChangedEntry) {
  Memory m;
  m.set_word(0x4000, 42);
  Hash32 root = m.merkle_root();
  MemProof p = m.proof(0x4000);
  ASSERT_EQ(mem_proof_root(std::span<const uint8_t, kMemProofSize>(p), 0x4000), root);
  for (size_t i = 0; i < kMemProofLeafCount; ++i) {
    MemProof q = p;
    q[32 * i + 17] ^= 0x40;
    EXPECT_NE(mem_proof_root(std::span<const uint8_t, kMemProofSize>(q), 0x4000), root)
        << "entry " << i;
  }
  // The same proof does not open at another leaf's address.
  EXPECT_NE(mem_proof_root(std::span<const uint8_t, kMemProofSize>(p), 0x4020), root);
}

}  // namespace
}  // namespace cb
