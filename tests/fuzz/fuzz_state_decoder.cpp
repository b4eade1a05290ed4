// libFuzzer harness: the binary state decoder on arbitrary bytes.
// Contract: success or cb::StateFormatError — never a crash, another exception or an absurd
// allocation (page/thread counts are checked against the bytes left). A decoded state must
// re-encode to the same bytes (up to ignored trailing bytes) and must hash without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "interp/state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  // The fuzzer rarely guesses the version byte; force it for half of the inputs so the
  // decoder's body is explored.
  std::vector<uint8_t> forced;
  if (size > 0 && (data[0] & 1)) {
    forced.assign(data, data + size);
    forced[0] = cb::kStateVersion;
    bytes = forced;
  }
  try {
    cb::State s = cb::State::deserialize(bytes);
    auto ser = s.serialize();
    // Duplicate page indexes collapse on decode, so compare by decoding again instead of
    // against the input bytes.
    cb::State again = cb::State::deserialize(ser);
    if (again.serialize() != ser) std::abort();
    if (s.active().empty()) std::abort();  // the decoder promises a non-empty active stack
    if (s.memory->page_count() < 64) (void)s.hash();  // bound the Merkle work per input
    (void)s.encode_thread_proof();
  } catch (const cb::StateFormatError& e) {
    if (std::strchr(e.what(), '\n')) std::abort();
  }
  return 0;
}
