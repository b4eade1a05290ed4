// Multi-buffer kernels behind memory/keccak_multi.h. Internal to memory/: call them only when
// the CPU supports them (keccak_multi.cpp checks). Each hashes `batches` groups of 4 (x4, AVX2)
// or 8 (x8, AVX-512F) 64-byte inputs in[0..] into out[0..]; all inputs of a group are read
// before its outputs are written.
#pragma once
#include <cstddef>
#include <cstdint>

#include "memory/keccak.h"

namespace cb {

// False when this build has no such kernel (non-x86-64 host).
bool keccak_avx2_compiled();
bool keccak_avx512_compiled();
void keccak256_64_x4(const uint8_t* const* in, Hash32* out, size_t batches);
void keccak256_64_x8(const uint8_t* const* in, Hash32* out, size_t batches);

}  // namespace cb
