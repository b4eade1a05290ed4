// See step_pattern.h; mirrors cannon/cmd/matcher.go.
#include "scheduler/step_pattern.h"

#include "host/go_strconv.h"

namespace cb {

StepPattern StepPattern::parse(std::string_view text) {
  StepPattern p;
  p.repr_ = std::string(text);
  if (text.empty() || text == "never") {
    p.kind_ = Kind::kNever;
  } else if (text == "always") {
    p.kind_ = Kind::kAlways;
  } else if (text[0] == '=' || text[0] == '%') {
    const bool every = text[0] == '%';
    std::string error;
    if (!parse_go_uint64(text.substr(1), &p.value_, &error)) {
      throw StepPatternError(std::string(every ? "failed to parse step interval number: "
                                               : "failed to parse step number: ") +
                             error);
    }
    if (every && p.value_ == 0) {
      // The reference accepts this and panics ("integer divide by zero") at its first check.
      throw StepPatternError("failed to parse step interval number: the interval must not be 0");
    }
    p.kind_ = every ? Kind::kEvery : Kind::kExact;
  } else {
    throw StepPatternError("unrecognized step matcher: " + go_quote(text));
  }
  return p;
}

uint64_t StepPattern::next_match(uint64_t step) const noexcept {
  switch (kind_) {
    case Kind::kNever: return kNoMatch;
    case Kind::kAlways: return step;
    case Kind::kExact: return step <= value_ ? value_ : kNoMatch;
    case Kind::kEvery: {
      const uint64_t rem = step % value_;
      if (rem == 0) return step;
      const uint64_t up = value_ - rem;
      return step > UINT64_MAX - up ? kNoMatch : step + up;
    }
  }
  return kNoMatch;
}

}  // namespace cb
