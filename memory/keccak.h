// Keccak-256 (the pre-SHA-3 padding Ethereum uses). Our own implementation: it is tested
// against Crypto++ and published vectors in tests/keccak_test.cpp, and bench/bench_keccak.cpp
// compares the two on the 64-byte inputs the Merkle tree hashes (see README).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cb {

using Hash32 = std::array<uint8_t, 32>;

Hash32 keccak256(const void* data, size_t len);
inline Hash32 keccak256(std::span<const uint8_t> s) { return keccak256(s.data(), s.size()); }
// Hash of the 64-byte concatenation left || right: the Merkle tree's node hash.
Hash32 keccak256_pair(const Hash32& left, const Hash32& right);
// Hash of exactly 64 bytes (a pair of 32-byte leaves inside a page).
Hash32 keccak256_64(const uint8_t* data64);

}  // namespace cb
