// Helpers shared by the cannon-compatible subcommands (cli/commands.cpp, cli/run.cpp).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "interp/state.h"

namespace cb::cli {

// Parses flags; returns an exit code when parsing ended the command (help or a flag error,
// reported with urfave/cli's wording where it matters, e.g.
// "flag provided but not defined: -foo", "Required flag \"input\" not set").
std::optional<int> parse_flags(CLI::App& app, int argc, char** argv);

// Go's fmt.Sprintf(pattern, step) for the --proof-fmt / --snapshot-fmt patterns: %d (with
// flags/width, e.g. %08d), %x, %X, %o, %%; a pattern without a verb gets Go's
// "%!(EXTRA uint64=N)" suffix, an unknown verb "%!v(uint64=N)", as the reference would.
std::string format_step(std::string_view pattern, uint64_t step);

// serialize.IsBinaryFile: ".bin" or ".bin.gz".
bool is_binary_name(std::string_view path);

// serialize.LoadSerializedBinary through versions.LoadStateFromFile. Throws with one line.
State load_state(const std::string& path);
// serialize.Write of a binary state: "" = nothing, "-" = stdout, else an atomic write.
void write_state(const std::string& path, const State& s);

}  // namespace cb::cli
