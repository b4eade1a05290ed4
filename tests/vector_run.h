// Runs a reference guest from its initial state and checks every hashes.txt line, the final
// hash, step count, exit code and stdout of expected.json. Shared by the short-guest tests
// and the long (billions of steps) ones.
#pragma once
#include <memory>
#include <string>

#include "interp/oracle.h"

namespace cb::test {

struct VectorRunOptions {
  bool jit = false;
  // Stop checking (and running) after this step; 0 = run to the end and check expected.json.
  uint64_t max_step = 0;
};

// The pre-image oracle a reference guest runs with: none, or for `oracle` the test server
// (tools/preimage-server.py over guests/oracle/preimages.json, a child process), or, with
// CB_TEST_ORACLE=map in the environment, the same preimages.json read into memory (for
// emulated runs: under qemu-user 7.2 the forked child spins before its execve, see
// scripts/test-aarch64.sh). Both serve the same bytes; hints are not part of any state.
std::unique_ptr<PreimageOracle> reference_oracle(const std::string& guest);

// Returns "" on success, else a description of the first difference.
std::string run_reference_vector(const std::string& guest, const VectorRunOptions& opt);

}  // namespace cb::test
