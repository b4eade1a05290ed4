// Keccak-f[1600] written once over a lane type: uint64_t for the scalar code, a SIMD register
// holding the same lane of 4 or 8 independent states for the multi-buffer kernels
// (memory/keccak_avx2.cpp, memory/keccak_avx512.cpp). Internal to memory/.
//
// Everything here sits in an anonymous namespace on purpose: each kernel file is compiled with
// its own -m flags, and a shared inline function instantiated in two of them would be merged
// by the linker into one copy that may use instructions the CPU lacks.
//
// Ops supplies, for its lane type V:
//   x2(a, b) = a ^ b         x3(a, b, c) = a ^ b ^ c
//   chi(a, b, c) = a ^ (~b & c)
//   rol<N>(a) = a rotated left by N (0 < N < 64)
//   constant(k) = k in every lane
#pragma once
#include <array>
#include <cstdint>

namespace cb {
namespace {

// FIPS 202 (section 3.2.5 and 3.2.2): iota's round constants and rho's offsets. The offsets are
// derived from their definition (the (t+1)(t+2)/2 walk along pi) rather than typed in.
constexpr uint64_t kKeccakRc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

// Rho offset of lane (x, y), stored at x + 5y.
constexpr std::array<int, 25> kKeccakRho = [] {
  std::array<int, 25> r{};
  int x = 1, y = 0;
  for (int t = 0; t < 24; ++t) {
    r[x + 5 * y] = ((t + 1) * (t + 2) / 2) % 64;
    int nx = y, ny = (2 * x + 3 * y) % 5;
    x = nx;
    y = ny;
  }
  return r;
}();

template <class Ops, int N>
[[gnu::always_inline]] inline typename Ops::V keccak_rol(typename Ops::V a) {
  if constexpr (N == 0)
    return a;
  else
    return Ops::template rol<N>(a);
}

// Position (X, Y) of the state after theta, rho and pi: rho+pi move lane (x, y) to
// (y, 2x + 3y), so (X, Y) comes from lane ((X + 3Y) % 5, X), with theta's D applied first.
template <class Ops, int X, int Y>
[[gnu::always_inline]] inline typename Ops::V keccak_pi_lane(const typename Ops::V* a,
                                                             const typename Ops::V* d) {
  constexpr int x = (X + 3 * Y) % 5;
  return keccak_rol<Ops, kKeccakRho[x + 5 * X]>(Ops::x2(a[x + 5 * X], d[x]));
}

// Output row Y of one round: theta's D, rho and pi on the way in, chi across the row on the way
// out. Reads a, writes e (a different array).
template <class Ops, int Y>
[[gnu::always_inline]] inline void keccak_row(const typename Ops::V* a, const typename Ops::V* d,
                                              typename Ops::V* e) {
  using V = typename Ops::V;
  V b0 = keccak_pi_lane<Ops, 0, Y>(a, d);
  V b1 = keccak_pi_lane<Ops, 1, Y>(a, d);
  V b2 = keccak_pi_lane<Ops, 2, Y>(a, d);
  V b3 = keccak_pi_lane<Ops, 3, Y>(a, d);
  V b4 = keccak_pi_lane<Ops, 4, Y>(a, d);
  e[5 * Y + 0] = Ops::chi(b0, b1, b2);
  e[5 * Y + 1] = Ops::chi(b1, b2, b3);
  e[5 * Y + 2] = Ops::chi(b2, b3, b4);
  e[5 * Y + 3] = Ops::chi(b3, b4, b0);
  e[5 * Y + 4] = Ops::chi(b4, b0, b1);
}

// One round from a to e.
template <class Ops>
[[gnu::always_inline]] inline void keccak_round(const typename Ops::V* a, typename Ops::V* e,
                                                uint64_t rc) {
  using V = typename Ops::V;
  // Folding D into each lane's XOR (A ^ C[x-1] ^ rol(C[x+1]), one vpternlogq) keeps 10 values
  // live instead of 5 and measured slower with AVX-512 (spills).
  V c[5], d[5];
#pragma GCC unroll 5
  for (int x = 0; x < 5; ++x)
    c[x] = Ops::x3(Ops::x3(a[x], a[x + 5], a[x + 10]), a[x + 15], a[x + 20]);
#pragma GCC unroll 5
  for (int x = 0; x < 5; ++x) d[x] = Ops::x2(c[(x + 4) % 5], Ops::template rol<1>(c[(x + 1) % 5]));
  keccak_row<Ops, 0>(a, d, e);
  keccak_row<Ops, 1>(a, d, e);
  keccak_row<Ops, 2>(a, d, e);
  keccak_row<Ops, 3>(a, d, e);
  keccak_row<Ops, 4>(a, d, e);
  e[0] = Ops::x2(e[0], Ops::constant(rc));
}

// The 24 rounds, ping-ponging between st and a scratch state (two rounds per iteration, so the
// result lands back in st).
template <class Ops>
[[gnu::always_inline]] inline void keccak_permute(typename Ops::V* st) {
  typename Ops::V t[25];
  for (int r = 0; r < 24; r += 2) {
    keccak_round<Ops>(st, t, kKeccakRc[r]);
    keccak_round<Ops>(t, st, kKeccakRc[r + 1]);
  }
}

}  // namespace
}  // namespace cb
