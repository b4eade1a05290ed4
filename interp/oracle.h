// The pre-image oracle the VM talks to through fds 3-6 (hints and pre-image reads).
// Implementations live outside interp/ (the host process in cli/, in-memory maps in tests).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace cb {

using Hash32 = std::array<uint8_t, 32>;

// Thrown by an oracle whose backing host failed (died, hung up, answered garbage, timed out).
// The run loop turns it into a one-line error; it never escapes to the user as a crash.
struct OracleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PreimageOracle {
 public:
  virtual ~PreimageOracle() = default;
  // A complete hint (without its 4-byte length prefix), as the guest wrote it to fd 4.
  virtual void hint(std::span<const uint8_t> hint) = 0;
  // The pre-image of a 32-byte key (without the 8-byte length prefix the VM adds).
  virtual std::vector<uint8_t> get_preimage(const Hash32& key) = 0;
};

}  // namespace cb
