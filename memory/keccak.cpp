#include "memory/keccak.h"

#include <cstring>

namespace cb {
namespace {

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

inline uint64_t rotl(uint64_t x, int n) { return (x << n) | (x >> ((64 - n) & 63)); }

// Keccak-f[1600]. Theta, rho+pi (walking the pi permutation cycle, so lanes move one at a time
// with no temporary state copy), chi and iota; the fixed-trip loops are fully unrolled by the
// compiler.
constexpr int kRotc[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14,
                           27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
constexpr int kPiln[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4,
                           15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};

__attribute__((optimize("unroll-loops"))) void keccak_f(uint64_t st[25]) {
  for (int round = 0; round < 24; ++round) {
    uint64_t bc[5];
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) {
      uint64_t t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
#pragma GCC unroll 5
      for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
    }
    uint64_t t = st[1];
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) {
      int j = kPiln[i];
      uint64_t tmp = st[j];
      st[j] = rotl(t, kRotc[i]);
      t = tmp;
    }
#pragma GCC unroll 5
    for (int j = 0; j < 25; j += 5) {
      uint64_t a0 = st[j], a1 = st[j + 1], a2 = st[j + 2], a3 = st[j + 3], a4 = st[j + 4];
      st[j] = a0 ^ (~a1 & a2);
      st[j + 1] = a1 ^ (~a2 & a3);
      st[j + 2] = a2 ^ (~a3 & a4);
      st[j + 3] = a3 ^ (~a4 & a0);
      st[j + 4] = a4 ^ (~a0 & a1);
    }
    st[0] ^= kRoundConstants[round];
  }
}

inline uint64_t load_le(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline Hash32 squeeze(const uint64_t a[25]) {
  Hash32 out;
  for (int i = 0; i < 4; ++i) {
    uint64_t v = a[i];
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    std::memcpy(out.data() + 8 * i, &v, 8);
  }
  return out;
}

constexpr size_t kRate = 136;  // bytes, for a 256-bit capacity of 512 bits

}  // namespace

Hash32 keccak256(const void* data, size_t len) {
  uint64_t a[25] = {};
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (len >= kRate) {
    for (size_t i = 0; i < kRate / 8; ++i) a[i] ^= load_le(p + 8 * i);
    keccak_f(a);
    p += kRate;
    len -= kRate;
  }
  uint8_t block[kRate] = {};
  if (len) std::memcpy(block, p, len);  // p may be null when len == 0
  block[len] ^= 0x01;  // Keccak padding (not SHA-3's 0x06)
  block[kRate - 1] ^= 0x80;
  for (size_t i = 0; i < kRate / 8; ++i) a[i] ^= load_le(block + 8 * i);
  keccak_f(a);
  return squeeze(a);
}

Hash32 keccak256_64(const uint8_t* d) {
  // A 64-byte message fits one block: absorb 8 lanes, then the padding lanes directly.
  uint64_t a[25] = {};
  for (int i = 0; i < 8; ++i) a[i] = load_le(d + 8 * i);
  a[8] = 0x01;
  a[16] = 0x8000000000000000ULL;
  keccak_f(a);
  return squeeze(a);
}

Hash32 keccak256_pair(const Hash32& left, const Hash32& right) {
  uint8_t buf[64];
  std::memcpy(buf, left.data(), 32);
  std::memcpy(buf + 32, right.data(), 32);
  return keccak256_64(buf);
}

}  // namespace cb
