// cannonball's own batch subcommands over recorded traces (scheduler/trace.h):
//   trace   one run recording checkpoints and state hashes into a trace directory
//   prove   proofs (and --hash-at state hashes) at many steps, in parallel, from checkpoints
//   bisect  the first step where a trace and another trace / claimed hashes differ, and its proof
// Each takes argv starting at the subcommand's name, including an optional "-- <pre-image
// server command>" at the end (parsed here), and returns the process exit code.
#pragma once

namespace cb::cli {

int trace_main(int argc, char** argv);
int prove_main(int argc, char** argv);
int bisect_main(int argc, char** argv);

}  // namespace cb::cli
