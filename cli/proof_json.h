// The proof file of one step, byte-identical to the reference's (cmd/run.go Proof written by
// jsonutil.WriteJSON: 2-space indent, lower-case hex, omitempty oracle fields, blank last line).
#pragma once
#include <string>

#include "interp/vm.h"

namespace cb {

std::string proof_json(uint64_t step, const StepWitness& w, const Hash32& post);

}  // namespace cb
