// Shared by the benchmarks: reference vectors and cached states.
#pragma once
#include <filesystem>
#include <string>

#include "host/file_io.h"
#include "interp/state.h"

namespace cb::bench {

inline std::string vectors_dir() { return std::string(CB_SHARED_DIR) + "/reference/vectors"; }
inline bool have_vectors() { return std::filesystem::exists(vectors_dir()); }
inline State initial_state(const std::string& guest) {
  return State::deserialize(read_file(vectors_dir() + "/" + guest + "/initial.bin.gz"));
}

}  // namespace cb::bench
