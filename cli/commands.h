// The cannon-compatible subcommands. Each returns the process exit code; errors are printed
// as one line "error: ..." on stderr, as the reference's main does.
#pragma once
#include <string>
#include <vector>

namespace cb::cli {

// Exit codes (reference: cannon/main.go; a Go panic exits with 2).
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitVmPanic = 2;
constexpr int kExitInterrupted = 130;

int load_elf_main(int argc, char** argv);
int run_main(int argc, char** argv, const std::vector<std::string>& host_argv);
int witness_main(int argc, char** argv);

void print_error(const std::string& msg);

}  // namespace cb::cli
