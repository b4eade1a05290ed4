// Runs a reference guest from its initial state and checks every hashes.txt line, the final
// hash, step count, exit code and stdout of expected.json. Shared by the short-guest tests
// and the long (billions of steps) ones.
#pragma once
#include <string>

namespace cb::test {

struct VectorRunOptions {
  bool jit = false;
  // Stop checking (and running) after this step; 0 = run to the end and check expected.json.
  uint64_t max_step = 0;
};

// Returns "" on success, else a description of the first difference.
std::string run_reference_vector(const std::string& guest, const VectorRunOptions& opt);

}  // namespace cb::test
