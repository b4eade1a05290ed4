// cannonball: a drop-in for the reference `cannon` (load-elf, run, witness) plus its own
// batch subcommands.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/batch_commands.h"
#include "cli/commands.h"
#include "cli/tools_commands.h"
#include "cli/window_command.h"

namespace {
void usage() {
  std::fputs(
      "usage: cannonball <command> [flags]\n"
      "commands (cannon-compatible):\n"
      "  load-elf   load an ELF file into a state file\n"
      "  run        run the VM, writing proofs, snapshots and the final state\n"
      "  witness    print the witness and hash of a state file\n"
      "commands (cannonball's own):\n"
      "  trace      one run recording checkpoints and state hashes\n"
      "  prove      proofs at many steps, in parallel, from a trace\n"
      "  bisect     the first step where two traces (or claimed hashes) differ, and its proof\n"
      "  window     how long a trace fits a dispute game's deadline, measured here\n"
      "  check-elf  instructions and syscalls of an ELF that the VM does not implement\n"
      "  profile    exact steps per guest function and thread, flame graphs\n"
      "run 'cannonball <command> --help' for its flags\n",
      stderr);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return cb::cli::kExitError;
  }
  std::string cmd = argv[1];
  // Everything after the first "--" is the pre-image server command (reference: run.go).
  std::vector<std::string> host;
  int n = argc;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      for (int k = i + 1; k < argc; ++k) host.emplace_back(argv[k]);
      n = i;
      break;
    }
  }
  if (cmd == "load-elf") return cb::cli::load_elf_main(n - 1, argv + 1);
  if (cmd == "run") return cb::cli::run_main(n - 1, argv + 1, host);
  if (cmd == "witness") return cb::cli::witness_main(n - 1, argv + 1);
  // The batch commands parse their own "-- <server>" tail.
  if (cmd == "trace") return cb::cli::trace_main(argc - 1, argv + 1);
  if (cmd == "prove") return cb::cli::prove_main(argc - 1, argv + 1);
  if (cmd == "bisect") return cb::cli::bisect_main(argc - 1, argv + 1);
  if (cmd == "window") return cb::cli::window_main(argc - 1, argv + 1);
  if (cmd == "check-elf") return cb::cli::check_elf_main(n - 1, argv + 1);
  if (cmd == "profile") return cb::cli::profile_main(argc - 1, argv + 1);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage();
    return 0;
  }
  cb::cli::print_error("unknown command \"" + cmd + "\"");
  usage();
  return cb::cli::kExitError;
}
