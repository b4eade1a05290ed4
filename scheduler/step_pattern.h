// Step patterns of the --proof-at / --snapshot-at / --stop-at / --info-at flags, with the
// reference's grammar and error texts (cannon/cmd/matcher.go, StepMatcherFlag.Set):
//   "" or "never"  never matches (also the value of an omitted flag)
//   "always"       every step
//   "=N"           exactly step N
//   "%N"           every step that is a multiple of N (step 0 included)
// N is parsed like Go's strconv.ParseUint(s, 0, 64): decimal, "0x"/"0X" hex, "0o"/"0O" or a
// bare leading "0" octal ("=010" is step 8, "=08" is an error), "0b"/"0B" binary, "_" digit
// separators between digits, no sign, no spaces, at most 2^64-1 (host/go_strconv.h).
// One deliberate difference: the reference accepts "%0" and then crashes with an integer
// divide by zero the first time the pattern is checked (before the first step); we reject it
// when parsing.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cb {

struct StepPatternError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class StepPattern {
 public:
  enum class Kind : uint8_t { kNever, kAlways, kExact, kEvery };
  // next_match() result when no step >= the given one matches.
  static constexpr uint64_t kNoMatch = UINT64_MAX;

  StepPattern() = default;  // never, like an omitted flag
  // Throws StepPatternError whose what() is the reference's message, e.g.
  //   failed to parse step number: strconv.ParseUint: parsing "12x": invalid syntax
  //   failed to parse step interval number: strconv.ParseUint: parsing "1e99": value out of range
  //   unrecognized step matcher: "sometimes"
  static StepPattern parse(std::string_view text);

  bool matches(uint64_t step) const noexcept {
    switch (m_kind) {
      case Kind::kNever:
        return false;
      case Kind::kAlways:
        return true;
      case Kind::kExact:
        return step == m_value;
      case Kind::kEvery:
        return step % m_value == 0;
    }
    return false;
  }
  // The smallest step >= `step` that matches, or kNoMatch if there is none. kNoMatch is also
  // a legitimate step (e.g. "=18446744073709551615" or "%3" at the very end): callers that
  // reach it must still check matches().
  uint64_t next_match(uint64_t step) const noexcept;

  Kind kind() const noexcept { return m_kind; }
  uint64_t value() const noexcept { return m_value; }          // N of "=N" / "%N", else 0
  const std::string& repr() const noexcept { return m_repr; }  // the text as given (flag String())

 private:
  Kind m_kind = Kind::kNever;
  uint64_t m_value = 0;
  std::string m_repr;
};

}  // namespace cb
