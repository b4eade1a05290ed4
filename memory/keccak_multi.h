// TEMPORARY scalar stand-in; replaced by the multi-buffer implementation (branch keccak).
#pragma once
#include <cstddef>
#include <cstdint>

#include "memory/keccak.h"

namespace cb {
void keccak256_64_many(const uint8_t* const* in, Hash32* out, size_t n);
}
