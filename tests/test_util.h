// Helpers shared by the tests: where the reference vectors are, reading them, running the CLI.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "interp/state.h"

namespace cb::test {

// ../shared/reference, or "" when absent (tests then GTEST_SKIP with a visible message).
std::string reference_dir();
#define CB_REQUIRE_REFERENCE()                                                        \
  do {                                                                                \
    if (::cb::test::reference_dir().empty())                                          \
      GTEST_SKIP() << "../shared/reference is absent: reference-vector test skipped"; \
  } while (0)

std::vector<uint8_t> read_bytes(const std::string& path);  // gunzips ".gz"
std::string read_text(const std::string& path);
State load_state_file(const std::string& path);
// hashes.txt: step -> hash
std::vector<std::pair<uint64_t, std::string>> read_hashes(const std::string& path);

struct CmdResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command line (stdout and stderr captured to temp files).
CmdResult run_cmd(const std::string& cmdline);
std::string cannonball();                      // path of the built CLI
std::string temp_dir(const std::string& tag);  // fresh directory under the build tree
std::string shell_quote(const std::string& s);

}  // namespace cb::test
