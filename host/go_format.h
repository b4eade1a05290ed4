// Go's fmt.Sprintf(pattern, uint64(step)), as the reference expands --proof-fmt and
// --snapshot-fmt (cannon/cmd/run.go: fmt.Sprintf(ctx.String(...), step)). Follows
// fmt/print.go doPrintf and fmt/format.go fmtInteger:
//   flags "#0+- " (any order, repeated), width, ".precision" (digits; "." alone = 0), verb;
//   %d %v (decimal; %#v = 0x hex, %+v = no sign), %x %X %o %O %b, %% (takes no operand);
//   an operand used twice "%!d(MISSING)"; a pattern ending inside a verb "%!(NOVERB)"; an
//   unknown ASCII verb
//   "%!s(uint64=N)" (N formatted with the verb's flags, as Go does); a pattern that never uses
//   the operand ends in "%!(EXTRA uint64=N)".
// Refused (FileNamePatternError, never a wrong name): %c %q %U %w, argument indexes "%[1]d",
// "*" widths, non-ASCII verbs, a width or precision above kMaxFileNameBytes (refused while
// its digits are read, so "%3000000000d" costs nothing; Go would turn the pattern into
// "%!(NOVERB)" garbage above 10,000,009), and any name longer than kMaxFileNameBytes.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cb {

struct FileNamePatternError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Linux PATH_MAX (including the terminating NUL): no longer path can be opened.
inline constexpr size_t kMaxFileNameBytes = 4095;

std::string go_sprintf_u64(std::string_view pattern, uint64_t value);

}  // namespace cb
