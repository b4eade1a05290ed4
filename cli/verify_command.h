// `cannonball verify PROOF.json...`: checks proof files offline, the way MIPS64.step would,
// from the witness alone (interp/witness_step.h): exit 0 when every file is valid, 1 with one
// line "FILE: invalid: REASON" per invalid file (argument order, on stdout) otherwise.
#pragma once
#include <string>
#include <string_view>

#include "interp/vm.h"

namespace cb::cli {

// A parsed proof file (the reference's JSON: step, pre, post, state-data, proof-data,
// oracle-key/-value/-offset).
struct ProofFile {
  uint64_t step = 0;
  StepWitness witness;  // state = state-data, state_hash = pre, proof_data, pre-image fields
  Hash32 post{};
};

// Parses proof JSON text; returns "" or why it is not a proof file ("field: problem").
std::string parse_proof_json(std::string_view text, ProofFile& out);
// Reads (plain or .gz, at most 64 MiB), parses and verifies one file; "" = valid, else the
// reason (the failed check, naming its field).
std::string verify_proof_file(const std::string& path);

int verify_main(int argc, char** argv);

}  // namespace cb::cli
