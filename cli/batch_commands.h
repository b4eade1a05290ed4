// cannonball's own batch subcommands over recorded traces (scheduler/trace.h):
//   trace   one run recording checkpoints and state hashes into a trace directory
//   prove   proofs (and --hash-at state hashes) at many steps, in parallel, from checkpoints
//   bisect  the first step where a trace and another trace / claimed hashes differ, and its proof
// Each takes argv starting at the subcommand's name, including an optional "-- <pre-image
// server command>" at the end (parsed here), and returns the process exit code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cb::cli {

int trace_main(int argc, char** argv);
int prove_main(int argc, char** argv);
int bisect_main(int argc, char** argv);

// prove's step-list parsing, for other commands: "N,N,.." (appended to out), and a file of
// steps (the first field of each line). Throw std::runtime_error naming the bad item.
void parse_step_list(const std::string& spec, std::vector<uint64_t>& out, const char* what);
void read_step_list_file(const std::string& path, std::vector<uint64_t>& out);

}  // namespace cb::cli
