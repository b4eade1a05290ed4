#include "memory/keccak_multi.h"
namespace cb {
void keccak256_64_many(const uint8_t* const* in, Hash32* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = keccak256_64(in[i]);
}
}  // namespace cb
