// Helpers shared by the cannon-compatible subcommands (cli/commands.cpp, cli/run.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "interp/state.h"

namespace cb::cli {

// Parses flags; returns an exit code when parsing ended the command (help or a flag error,
// reported with urfave/cli's wording where it matters, e.g.
// "flag provided but not defined: -foo", "Required flag \"input\" not set").
std::optional<int> parse_flags(CLI::App& app, int argc, char** argv);

// argv split at the first "--" at or after argv[first]: the flags (argc counts only them),
// and the pre-image server command after it (reference: run.go takes everything after "--").
struct SplitArgs {
  int argc = 0;
  char** argv = nullptr;
  std::vector<std::string> host;
};
SplitArgs split_host(int argc, char** argv, int first = 1);

// Go's fmt.Sprintf(pattern, step) for every file-name pattern (--proof-fmt, --snapshot-fmt,
// prove's --proof-fmt, bisect's --proof-out): exactly Go's output, or FileNamePatternError
// (host/go_format.h) when Go's would not be a usable name. The one expansion used everywhere.
std::string format_step(std::string_view pattern, uint64_t step);
// Refuses, before any work, a pattern whose names could be refused later ("" and "-" pass).
void check_name_pattern(std::string_view pattern);

// Bounds of numeric flags (stated in each command's --help).
inline constexpr uint64_t kMaxHostTimeoutMs = 86'400'000;  // --host-timeout-ms: one day
inline constexpr unsigned kMaxThreads = 256;               // prove -j
inline constexpr double kMaxProgressSeconds = 86'400;      // --progress-every

// The hidden --proof2-window flag (run, trace, prove, bisect): steps before a proof or
// checkpoint in which clock_gettime memory proofs are taken (scheduler/run_session.h
// kProof2Window); tests shrink it to force the re-runs that keep the second slot exact.
void add_proof2_window_flag(CLI::App& app, uint64_t& window);

// serialize.IsBinaryFile: ".bin" or ".bin.gz".
bool is_binary_name(std::string_view path);

// serialize.LoadSerializedBinary through versions.LoadStateFromFile. Throws with one line.
// Streamed straight into memory (interp/state_io.h: load_state_file): version byte first,
// the page count checked against the memory budget before any page is read, reading stops
// at the end of the gzip member holding the state's last field; `should_abort` is polled.
State load_state(const std::string& path, std::function<bool()> should_abort = {});
// serialize.Write of a binary state: "" = nothing, "-" = stdout, else an atomic write.
void write_state(const std::string& path, const State& s);

}  // namespace cb::cli
