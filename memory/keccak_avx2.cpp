// 4-lane Keccak-256 of 64-byte inputs with AVX2: lane i of every ymm register belongs to
// input i. Compiled with -mavx2 (memory/CMakeLists.txt); only called after a runtime check
// (memory/keccak_multi.cpp), so the rest of the binary runs on any x86-64.
#include "memory/keccak_multi_kernels.h"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

#include "memory/keccak_round.h"

namespace cb {
namespace {

struct Avx2Ops {
  using V = __m256i;
  static V x2(V a, V b) { return _mm256_xor_si256(a, b); }
  static V x3(V a, V b, V c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  static V chi(V a, V b, V c) { return _mm256_xor_si256(a, _mm256_andnot_si256(b, c)); }
  template <int N>
  static V rol(V a) {
    // AVX2 has no 64-bit rotate; byte-sized ones are a single byte shuffle.
    if constexpr (N == 8)
      return _mm256_shuffle_epi8(
          a, _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14, 7, 0, 1, 2, 3,
                              4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14));
    else if constexpr (N == 56)
      return _mm256_shuffle_epi8(
          a, _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5,
                              6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8));
    else
      return _mm256_or_si256(_mm256_slli_epi64(a, N), _mm256_srli_epi64(a, 64 - N));
  }
  static V constant(uint64_t k) { return _mm256_set1_epi64x(int64_t(k)); }
};

// 4x4 transpose of 64-bit words: r[i] = words 0..3 of row i becomes r[w] = word w of each row.
inline void transpose4x4(__m256i& r0, __m256i& r1, __m256i& r2, __m256i& r3) {
  __m256i t0 = _mm256_unpacklo_epi64(r0, r1);  // r0w0 r1w0 r0w2 r1w2
  __m256i t1 = _mm256_unpackhi_epi64(r0, r1);  // r0w1 r1w1 r0w3 r1w3
  __m256i t2 = _mm256_unpacklo_epi64(r2, r3);
  __m256i t3 = _mm256_unpackhi_epi64(r2, r3);
  r0 = _mm256_permute2x128_si256(t0, t2, 0x20);
  r1 = _mm256_permute2x128_si256(t1, t3, 0x20);
  r2 = _mm256_permute2x128_si256(t0, t2, 0x31);
  r3 = _mm256_permute2x128_si256(t1, t3, 0x31);
}

inline __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

}  // namespace

bool keccak_avx2_compiled() { return true; }

void keccak256_64_x4(const uint8_t* const* in, Hash32* out, size_t batches) {
  for (size_t b = 0; b < batches; ++b, in += 4, out += 4) {
    __m256i st[25];
    st[0] = load32(in[0]);
    st[1] = load32(in[1]);
    st[2] = load32(in[2]);
    st[3] = load32(in[3]);
    st[4] = load32(in[0] + 32);
    st[5] = load32(in[1] + 32);
    st[6] = load32(in[2] + 32);
    st[7] = load32(in[3] + 32);
    transpose4x4(st[0], st[1], st[2], st[3]);
    transpose4x4(st[4], st[5], st[6], st[7]);
    st[8] = _mm256_set1_epi64x(0x01);  // Keccak padding for a 64-byte message at rate 136
#pragma GCC unroll 16
    for (int i = 9; i < 25; ++i) st[i] = _mm256_setzero_si256();
    st[16] = _mm256_set1_epi64x(int64_t(0x8000000000000000ULL));
    keccak_permute<Avx2Ops>(st);
    // Transposing words 0..3 back gives each input's digest as one row. Every input was read
    // above, so out may overlap this batch's inputs.
    transpose4x4(st[0], st[1], st[2], st[3]);
    for (int i = 0; i < 4; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i].data()), st[i]);
  }
}

}  // namespace cb

#else

namespace cb {
bool keccak_avx2_compiled() { return false; }
void keccak256_64_x4(const uint8_t* const*, Hash32*, size_t) { __builtin_trap(); }
}  // namespace cb

#endif
