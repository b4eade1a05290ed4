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

// Keccak-f[1600], fully unrolled theta/rho/pi/chi per round (lanes in x + 5y order).
void keccak_f(uint64_t a[25]) {
  for (int round = 0; round < 24; ++round) {
    uint64_t c[5], d[5];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) d[x] = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
    for (int i = 0; i < 25; ++i) a[i] ^= d[i % 5];
    // rho and pi
    uint64_t b[25];
    static constexpr int kRho[25] = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                     25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};
    for (int x = 0; x < 5; ++x)
      for (int y = 0; y < 5; ++y) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], kRho[x + 5 * y]);
    // chi
    for (int y = 0; y < 25; y += 5) {
      uint64_t t0 = b[y], t1 = b[y + 1], t2 = b[y + 2], t3 = b[y + 3], t4 = b[y + 4];
      a[y] = t0 ^ (~t1 & t2);
      a[y + 1] = t1 ^ (~t2 & t3);
      a[y + 2] = t2 ^ (~t3 & t4);
      a[y + 3] = t3 ^ (~t4 & t0);
      a[y + 4] = t4 ^ (~t0 & t1);
    }
    a[0] ^= kRoundConstants[round];
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
  std::memcpy(block, p, len);
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
