#include "cli/proof_json.h"

namespace cb {

std::string proof_json(uint64_t step, const StepWitness& w, const Hash32& post) {
  std::string j = "{\n  \"step\": " + std::to_string(step) + ",\n  \"pre\": \"" +
                  hex(w.state_hash) + "\",\n  \"post\": \"" + hex(post) +
                  "\",\n  \"state-data\": \"" + hex(w.state) + "\",\n  \"proof-data\": \"" +
                  hex(w.proof_data) + "\"";
  if (w.has_preimage) {
    j += ",\n  \"oracle-key\": \"" + hex(w.preimage_key) + "\"";
    if (!w.preimage_value.empty()) j += ",\n  \"oracle-value\": \"" + hex(w.preimage_value) + "\"";
    if (w.preimage_offset != 0) j += ",\n  \"oracle-offset\": " + std::to_string(w.preimage_offset);
  }
  j += "\n}\n\n";
  return j;
}

}  // namespace cb
