// cannonball: a drop-in for the reference `cannon` (load-elf, run, witness) plus its own
// batch subcommands.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/batch_commands.h"
#include "cli/batch_shard.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/tools_commands.h"
#include "cli/verify_command.h"
#include "cli/version.h"
#include "cli/window_command.h"
#include "memory/page_pool.h"

namespace {
void usage() {
  std::fputs(
      "usage: cannonball <command> [flags]\n"
      "commands (cannon-compatible):\n"
      "  load-elf   load an ELF file into a state file\n"
      "  run        run the VM, writing proofs, snapshots and the final state\n"
      "  witness    print the witness and hash of a state file\n"
      "  list       the VM types (state versions) this build runs, as multicannon lists them\n"
      "commands (cannonball's own):\n"
      "  trace      one run recording checkpoints and state hashes\n"
      "  prove      proofs at many steps, in parallel, from a trace\n"
      "  bisect     the first step where two traces (or claimed hashes) differ, and its proof\n"
      "  window     how long a trace fits a dispute game's deadline, measured here\n"
      "  check-elf  instructions and syscalls of an ELF that the VM does not implement\n"
      "  profile    exact steps per guest function and thread, flame graphs\n"
      "  batch      sharded batches across machines: run a jobs-file shard, status, merge\n"
      "  verify     check proof files offline from their witness alone (as MIPS64.step)\n"
      "run 'cannonball <command> --help' for its flags; 'cannonball --version' (-v) prints\n"
      "the version and git commit\n"
      "every command also takes --max-memory SIZE (e.g. 4GiB, 512M; default 7/8 of physical\n"
      "memory less 512 MiB, or $CANNONBALL_MAX_MEMORY): the most guest memory it may hold;\n"
      "a guest, ELF or state file needing more stops with one error line (exit 1)\n",
      stderr);
}
}  // namespace

// "4GiB", "512M", "1.5G", "1073741824": bytes, binary multiples.
bool parse_size(const std::string& text, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno != 0 || !(v > 0)) return false;
  std::string unit(end);
  for (char& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit == "" || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mult = 0x1p10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mult = 0x1p20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mult = 0x1p30;
  else if (unit == "t" || unit == "tb" || unit == "tib")
    mult = 0x1p40;
  else
    return false;
  double bytes = v * mult;
  if (bytes < 0x1p20 || bytes > 0x1p56) return false;  // 1 MiB .. 64 PiB
  out = uint64_t(bytes);
  return true;
}

// Takes --max-memory out of the arguments (before any "--": the pre-image server's own).
bool take_max_memory(int& argc, char** argv) {
  const char* env = std::getenv("CANNONBALL_MAX_MEMORY");
  std::string value = env ? env : "";
  std::string from = "$CANNONBALL_MAX_MEMORY";
  int w = 2;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      while (i < argc) argv[w++] = argv[i++];
      break;
    }
    if (a == "--max-memory" || a == "-max-memory") {
      if (i + 1 >= argc) {
        cb::cli::print_error("flag needs an argument: " + a);
        return false;
      }
      value = argv[++i];
      from = "--max-memory";
      continue;
    }
    if (a.rfind("--max-memory=", 0) == 0 || a.rfind("-max-memory=", 0) == 0) {
      value = a.substr(a.find('=') + 1);
      from = "--max-memory";
      continue;
    }
    argv[w++] = argv[i];
  }
  argc = w;
  argv[argc] = nullptr;
  if (value.empty()) return true;
  uint64_t bytes = 0;
  if (!parse_size(value, bytes)) {
    cb::cli::print_error("invalid value \"" + value + "\" for " + from +
                         ": want a size from 1MiB to 64PiB, e.g. 4GiB or 512M");
    return false;
  }
  cb::set_memory_budget(bytes);
  return true;
}

int main(int argc, char** argv) {
  if (argc >= 2 && !take_max_memory(argc, argv)) return cb::cli::kExitError;
  if (argc < 2) {
    usage();
    return cb::cli::kExitError;
  }
  std::string cmd = argv[1];
  // Everything after the first "--" is the pre-image server command (reference: run.go).
  cb::cli::SplitArgs split = cb::cli::split_host(argc, argv, 2);
  const std::vector<std::string>& host = split.host;
  const int n = split.argc;
  if (cmd == "load-elf") return cb::cli::load_elf_main(n - 1, argv + 1);
  if (cmd == "run") return cb::cli::run_main(n - 1, argv + 1, host);
  if (cmd == "witness") return cb::cli::witness_main(n - 1, argv + 1);
  if (cmd == "list") return cb::cli::list_main(n - 1, argv + 1);
  if (cmd == "--version" || cmd == "-v" || cmd == "-version") return cb::cli::version_main();
  // The batch commands parse their own "-- <server>" tail.
  if (cmd == "trace") return cb::cli::trace_main(argc - 1, argv + 1);
  if (cmd == "prove") return cb::cli::prove_main(argc - 1, argv + 1);
  if (cmd == "bisect") return cb::cli::bisect_main(argc - 1, argv + 1);
  if (cmd == "window") return cb::cli::window_main(argc - 1, argv + 1);
  if (cmd == "verify") return cb::cli::verify_main(argc - 1, argv + 1);
  if (cmd == "batch") return cb::cli::batch_main(argc - 1, argv + 1);
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
