// See step_pattern.h; mirrors cannon/cmd/matcher.go.
#include "scheduler/step_pattern.h"

#include "host/go_strconv.h"

namespace cb {

StepPattern StepPattern::parse(std::string_view text) {
  StepPattern p;
  p.m_repr = std::string(text);
  if (text.empty() || text == "never") {
    p.m_kind = Kind::kNever;
  } else if (text == "always") {
    p.m_kind = Kind::kAlways;
  } else if (text[0] == '=' || text[0] == '%') {
    const bool every = text[0] == '%';
    std::string error;
    if (!parse_go_uint64(text.substr(1), &p.m_value, &error)) {
      throw StepPatternError(std::string(every ? "failed to parse step interval number: "
                                               : "failed to parse step number: ") +
                             error);
    }
    if (every && p.m_value == 0) {
      // The reference accepts this and panics ("integer divide by zero") at its first check.
      throw StepPatternError("failed to parse step interval number: the interval must not be 0");
    }
    p.m_kind = every ? Kind::kEvery : Kind::kExact;
  } else {
    throw StepPatternError("unrecognized step matcher: " + go_quote(text));
  }
  return p;
}

uint64_t StepPattern::next_match(uint64_t step) const noexcept {
  switch (m_kind) {
    case Kind::kNever:
      return kNoMatch;
    case Kind::kAlways:
      return step;
    case Kind::kExact:
      return step <= m_value ? m_value : kNoMatch;
    case Kind::kEvery: {
      const uint64_t rem = step % m_value;
      if (rem == 0) return step;
      const uint64_t up = m_value - rem;
      return step > UINT64_MAX - up ? kNoMatch : step + up;
    }
  }
  return kNoMatch;
}

}  // namespace cb
