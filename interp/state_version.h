// The names of the reference's state versions (cannon/mipsevm/versions: the first byte of a
// state file), for messages about a state this build does not run.
#pragma once
#include <cstdint>
#include <string>

#include "interp/constants.h"

namespace cb {

// versions.StateVersion.String(): "unknown" past the last version the reference names.
inline const char* state_version_name(unsigned v) {
  static const char* const kNames[] = {
      "singlethreaded",    "multithreaded",     "singlethreaded-2",
      "multithreaded64",   "multithreaded64-2", "multithreaded-2",
      "multithreaded64-3", "multithreaded64-4", "multithreaded64-5"};
  return v < sizeof kNames / sizeof kNames[0] ? kNames[v] : "unknown";
}

// "state version 7 (multithreaded64-4) is not supported by this build: it runs multithreaded64-5"
inline std::string unsupported_state_version(unsigned v) {
  return "state version " + std::to_string(v) + " (" + state_version_name(v) +
         ") is not supported by this build: it runs " + kStateVersionName;
}

}  // namespace cb
