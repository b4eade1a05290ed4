// Multi-buffer Keccak-256 (the Ethereum padding, as memory/keccak.h) for many independent
// 64-byte inputs: the Merkle tree's node hashes. On x86-64 it runs an 8-lane AVX-512F kernel or
// a 4-lane AVX2 kernel, chosen at run time from the CPU (cached), with scalar keccak256_64 for
// what does not fill a group; elsewhere it is the scalar code. Results are identical whichever
// implementation runs (tests/keccak_multi_test.cpp); bench/bench_keccak.cpp measures them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "memory/keccak.h"

namespace cb {

// out[i] = keccak256 of the 64 bytes at in[i], for i < n (n may be 0; pointers need no
// alignment and may repeat). Aliasing: out[i] may overlap any in[j] with j <= i (in particular
// its own input, or in-place halving of a level of the tree), never one with j > i.
void keccak256_64_many(const uint8_t* const* in, Hash32* out, size_t n);

// out[i] = keccak256(pairs[2i] || pairs[2i+1]), for i < n: a level of the tree from the level
// below. out == pairs (in place) is allowed.
void keccak256_pairs_many(const Hash32* pairs, Hash32* out, size_t n);

// roots[i] = Merkle root of the 4 KiB page at pages[i] (its 128 32-byte words are the leaves:
// 64 hashes of 64-byte chunks, then 32 of pairs, ... 1), for i < n. Pages are hashed in
// groups of 8, level by level across the group, so even the top levels fill SIMD groups
// (~20 KiB of stack).
void keccak256_page_roots(const uint8_t* const* pages, Hash32* roots, size_t n);

// Which implementation keccak256_64_many uses. Auto: the CB_KECCAK environment variable
// (auto, scalar, avx2 or avx512; read once, at first use; anything else prints one "warning:"
// line and is ignored) if set, else the fastest the CPU supports.
enum class KeccakImpl { Auto, Scalar, Avx2, Avx512 };

// Selects an implementation for the whole process (tests and benches compare them). A request
// the CPU (or this build) cannot run falls back to the best supported one below it; see
// keccak_impl_in_use(). Not meant to be called while other threads are hashing.
void set_keccak_impl(KeccakImpl impl);
// The implementation in use now (never Auto).
KeccakImpl keccak_impl_in_use();
// Whether this CPU and build can run impl (Auto and Scalar: always).
bool keccak_impl_supported(KeccakImpl impl);
// "auto", "scalar", "avx2", "avx512", and back (nullopt for anything else).
const char* keccak_impl_name(KeccakImpl impl);
std::optional<KeccakImpl> keccak_impl_from_name(std::string_view name);

}  // namespace cb
