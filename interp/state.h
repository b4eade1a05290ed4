// The MT-Cannon v5 VM state, its 188-byte witness and hash, the 298-byte thread encoding, and
// the versioned binary state file (spec: "State", "Thread state"; reference:
// multithreaded/state.go, thread.go, versions/state.go).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/hex.h"
#include "interp/constants.h"
#include "memory/memory.h"

namespace cb {

struct Cpu {
  uint64_t pc = 0, next_pc = 4, lo = 0, hi = 0;
  bool operator==(const Cpu&) const = default;
};

struct Thread {
  uint64_t id = 0;
  uint8_t exit_code = 0;
  bool exited = false;
  Cpu cpu;
  uint64_t regs[32] = {};
  bool operator==(const Thread&) const = default;

  std::array<uint8_t, kThreadSize> encode() const;
  Hash32 hash() const;
};

enum LLStatus : uint8_t { kLLNone = 0, kLLActive32 = 1, kLLActive64 = 2 };

// A state file that cannot be decoded (one clear line for the user).
struct StateFormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the state decoder pulls bytes from: read() returns fewer than n only at the end.
struct StateSource {
  virtual ~StateSource() = default;
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // Bytes left when known (a span, a raw regular file), else UINT64_MAX.
  virtual uint64_t remaining_hint() const = 0;
};

struct State {
  std::unique_ptr<Memory> memory = std::make_unique<Memory>();
  Hash32 preimage_key{};
  uint64_t preimage_offset = 0;  // includes the 8-byte length prefix
  uint64_t heap = 0;
  uint8_t ll_status = kLLNone;
  uint64_t ll_address = 0;
  uint64_t ll_owner = 0;
  uint8_t exit_code = 0;
  bool exited = false;
  uint64_t step = 0;
  uint64_t steps_since_switch = 0;
  bool traverse_right = false;
  std::vector<Thread> left, right;
  uint64_t next_thread_id = 1;
  std::vector<uint8_t> last_hint;

  State();  // one thread (id 0, pc 0, next_pc 4), as the reference's CreateEmptyState
  State(State&&) = default;
  State& operator=(State&&) = default;
  State clone() const;

  std::vector<Thread>& active() { return traverse_right ? right : left; }
  const std::vector<Thread>& active() const { return traverse_right ? right : left; }
  Thread& current() { return active().back(); }
  const Thread& current() const { return active().back(); }
  size_t thread_count() const { return left.size() + right.size(); }
  uint8_t vm_status() const;

  std::array<uint8_t, kStateWitnessSize> encode_witness();  // computes the memory root
  Hash32 hash();                                            // the state hash (witness hash)
  // The active thread's 298 bytes and the root of the rest of its stack (330 bytes).
  std::array<uint8_t, kThreadWitnessSize> encode_thread_proof() const;

  // The binary state file body, version byte first (uncompressed).
  std::vector<uint8_t> serialize() const;
  // What follows the memory in serialize(): pre-image key ... last hint.
  std::vector<uint8_t> serialize_tail() const;
  // Throws StateFormatError on a wrong version, truncation, bad booleans, absurd counts or an
  // empty active thread stack. Like the reference, bytes after the last field are ignored.
  static State deserialize(std::span<const uint8_t> bytes);
  // The same, pulling from a stream (state_io.h): pages are read straight into memory.
  static State deserialize(StateSource& src);
};

Hash32 thread_stack_root(std::span<const Thread> stack);
Hash32 state_hash_from_witness(std::span<const uint8_t, kStateWitnessSize> witness);
uint8_t vm_status(bool exited, uint8_t exit_code);

inline std::string hex(const Hash32& h) {
  return hex(std::span<const uint8_t>(h.data(), h.size()));
}

}  // namespace cb
