// 8-lane Keccak-256 of 64-byte inputs with AVX-512F: lane i of every zmm register belongs to
// input i. Compiled with -mavx512f (memory/CMakeLists.txt); only called after a runtime check
// (memory/keccak_multi.cpp), so the rest of the binary runs on any x86-64.
#include "memory/keccak_multi_kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves, which
// -Wuninitialized reports wherever such an intrinsic is inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstring>

#include "memory/keccak_round.h"

namespace cb {
namespace {

struct Avx512Ops {
  using V = __m512i;
  static V x2(V a, V b) { return _mm512_xor_si512(a, b); }
  static V x3(V a, V b, V c) { return _mm512_ternarylogic_epi64(a, b, c, 0x96); }
  // Truth table of a ^ (~b & c), indexed by (a << 2) | (b << 1) | c.
  static V chi(V a, V b, V c) { return _mm512_ternarylogic_epi64(a, b, c, 0xD2); }
  template <int N>
  static V rol(V a) {
    return _mm512_rol_epi64(a, N);
  }
  static V constant(uint64_t k) { return _mm512_set1_epi64(int64_t(k)); }
};

// Rows r[0..7] (8 words of input i in r[i]) to columns: r[w] = word w of every input.
inline void transpose8x8(__m512i r[8]) {
  // Qword indices into (a, b): 0..7 select from a, 8..15 from b.
  const __m512i lo128 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi128 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  const __m512i lo256 = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
  const __m512i hi256 = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
  __m512i t[8], u[8];
  // t[2k] = words 0,2,4,6 of inputs 2k, 2k+1 interleaved; t[2k+1] = words 1,3,5,7.
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm512_unpacklo_epi64(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi64(r[2 * k], r[2 * k + 1]);
  }
  // u[0] = word 0 (low half) / 4 (high half) of inputs 0..3, u[1] = words 1/5, u[2] = 2/6,
  // u[3] = 3/7; u[4..7] the same for inputs 4..7.
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m512i* th = t + 4 * h;
    __m512i* uh = u + 4 * h;
    uh[0] = _mm512_permutex2var_epi64(th[0], lo128, th[2]);
    uh[1] = _mm512_permutex2var_epi64(th[1], lo128, th[3]);
    uh[2] = _mm512_permutex2var_epi64(th[0], hi128, th[2]);
    uh[3] = _mm512_permutex2var_epi64(th[1], hi128, th[3]);
  }
#pragma GCC unroll 4
  for (int w = 0; w < 4; ++w) {
    r[w] = _mm512_permutex2var_epi64(u[w], lo256, u[w + 4]);
    r[w + 4] = _mm512_permutex2var_epi64(u[w], hi256, u[w + 4]);
  }
}

}  // namespace

bool keccak_avx512_compiled() { return true; }

void keccak256_64_x8(const uint8_t* const* in, Hash32* out, size_t batches) {
  for (size_t b = 0; b < batches; ++b, in += 8, out += 8) {
    __m512i st[25];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) st[i] = _mm512_loadu_si512(in[i]);
    transpose8x8(st);
    st[8] = _mm512_set1_epi64(0x01);  // Keccak padding for a 64-byte message at rate 136
#pragma GCC unroll 16
    for (int i = 9; i < 25; ++i) st[i] = _mm512_setzero_si512();
    st[16] = _mm512_set1_epi64(int64_t(0x8000000000000000ULL));
    keccak_permute<Avx512Ops>(st);
    // The digest is words 0..3 of each state: store the 4 columns and pick rows out. Every
    // input was read above, so out may overlap this batch's inputs.
    alignas(64) uint64_t words[4][8];
    for (int w = 0; w < 4; ++w) _mm512_store_si512(words[w], st[w]);
    for (int i = 0; i < 8; ++i) {
      uint64_t h[4] = {words[0][i], words[1][i], words[2][i], words[3][i]};
      std::memcpy(out[i].data(), h, 32);
    }
  }
}

}  // namespace cb

#else

namespace cb {
bool keccak_avx512_compiled() { return false; }
void keccak256_64_x8(const uint8_t* const*, Hash32*, size_t) { __builtin_trap(); }
}  // namespace cb

#endif
