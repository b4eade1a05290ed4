#include "host/go_format.h"

#include <algorithm>

namespace cb {

namespace {

struct Flags {
  bool sharp = false, zero = false, plus = false, minus = false, space = false;
  bool sharp_v = false;
  int64_t wid = 0, prec = 0;
  bool wid_present = false, prec_present = false;
};

[[noreturn]] void refuse(std::string_view pattern, const std::string& why) {
  throw FileNamePatternError("invalid file name pattern \"" + std::string(pattern) + "\": " + why);
}

// fmt.parsenum: the digits from `i`. Go stops at 10,000,009 ("too large", turning the rest of
// the pattern into "%!(NOVERB)"); any width or precision above kMaxFileNameBytes could only
// make an unusable name, so it is refused here, before any padding is built.
bool parse_num(std::string_view s, size_t& i, int64_t& num) {
  num = 0;
  bool isnum = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    num = num * 10 + (s[i] - '0');
    isnum = true;
    ++i;
    if (num > int64_t(kMaxFileNameBytes))
      refuse(s, "a width or precision above " + std::to_string(kMaxFileNameBytes) +
                    " makes a name longer than a path can be");
  }
  return isnum;
}

// fmt.(*fmt).fmtInteger for an unsigned value.
void fmt_integer(std::string& out, uint64_t u, unsigned base, bool upper, char verb, Flags f,
                 std::string_view pattern) {
  // The widest result is max(width, digits + prefix); refuse before building it.
  if ((f.wid_present && f.wid > int64_t(kMaxFileNameBytes)) ||
      (f.prec_present && f.prec > int64_t(kMaxFileNameBytes)))
    refuse(pattern,
           "the name would be longer than " + std::to_string(kMaxFileNameBytes) + " bytes");
  auto pad = [&](const std::string& body) {
    const int64_t n = int64_t(body.size());
    if (!f.wid_present || f.wid <= n) {
      out += body;
    } else if (f.minus) {
      out += body;
      out.append(size_t(f.wid - n), ' ');
    } else {
      out.append(size_t(f.wid - n), ' ');
      out += body;
    }
  };
  int64_t prec = 0;
  if (f.prec_present) {
    prec = f.prec;
    if (prec == 0 && u == 0) {  // "print nothing" but the padding
      pad("");
      return;
    }
  } else if (f.zero && !f.minus && f.wid_present) {
    prec = f.wid;
    if (f.plus || f.space) --prec;  // room for the sign
  }
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string rev;
  do {
    rev += digits[u % base];
    u /= base;
  } while (u != 0);
  while (int64_t(rev.size()) < prec) rev += '0';
  if (f.sharp) {
    if (base == 2) rev += "b0";
    if (base == 8 && rev.back() != '0') rev += '0';
    if (base == 16) rev += upper ? "X0" : "x0";
  }
  if (verb == 'O') rev += "o0";
  if (f.plus)
    rev += '+';
  else if (f.space)
    rev += ' ';
  std::reverse(rev.begin(), rev.end());
  pad(rev);
}

}  // namespace

std::string go_sprintf_u64(std::string_view pat, uint64_t value) {
  std::string out;
  bool used = false;
  size_t i = 0;
  const size_t end = pat.size();
  while (i < end) {
    if (pat[i] != '%') {
      out += pat[i++];
      continue;
    }
    ++i;
    Flags f;
    for (; i < end; ++i) {
      const char c = pat[i];
      if (c == '#')
        f.sharp = true;
      else if (c == '0')
        f.zero = !f.minus;
      else if (c == '+')
        f.plus = true;
      else if (c == '-')
        f.minus = true, f.zero = false;
      else if (c == ' ')
        f.space = true;
      else
        break;
    }
    if (i < end && (pat[i] == '[' || pat[i] == '*'))
      refuse(pat, "argument indexes and '*' widths are not supported");
    f.wid_present = parse_num(pat, i, f.wid);
    if (i + 1 < end && pat[i] == '.') {
      ++i;
      if (pat[i] == '[' || pat[i] == '*')
        refuse(pat, "argument indexes and '*' precisions are not supported");
      f.prec_present = parse_num(pat, i, f.prec);
      if (!f.prec_present) {
        f.prec = 0;
        f.prec_present = true;
      }
    }
    if (i < end && pat[i] == '[') refuse(pat, "argument indexes are not supported");
    if (i >= end) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = pat[i++];
    if (static_cast<unsigned char>(verb) >= 0x80) refuse(pat, "non-ASCII verbs are not supported");
    if (verb == '%') {  // takes no operand, ignores width and precision
      out += '%';
      continue;
    }
    if (used) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    if (verb == 'c' || verb == 'q' || verb == 'U' || verb == 'w')
      refuse(pat, std::string("the %") + verb + " verb is not supported for a step number");
    used = true;
    if (verb == 'v') {
      f.sharp_v = f.sharp;
      f.sharp = false;
      f.plus = false;  // plusV: no sign for %+v
    }
    switch (verb) {
      case 'v':
        if (f.sharp_v) {
          f.sharp = true;  // fmt0x64(v, true)
          fmt_integer(out, value, 16, false, 'x', f, pat);
        } else {
          fmt_integer(out, value, 10, false, verb, f, pat);
        }
        break;
      case 'd':
        fmt_integer(out, value, 10, false, verb, f, pat);
        break;
      case 'b':
        fmt_integer(out, value, 2, false, verb, f, pat);
        break;
      case 'o':
      case 'O':
        fmt_integer(out, value, 8, false, verb, f, pat);
        break;
      case 'x':
        fmt_integer(out, value, 16, false, verb, f, pat);
        break;
      case 'X':
        fmt_integer(out, value, 16, true, verb, f, pat);
        break;
      default:
        // badVerb: "%!" verb "(uint64=" printArg(arg, 'v') ")" with the flags still set.
        out += std::string("%!") + verb + "(uint64=";
        if (f.sharp_v) {
          f.sharp = true;
          fmt_integer(out, value, 16, false, 'x', f, pat);
        } else {
          fmt_integer(out, value, 10, false, 'v', f, pat);
        }
        out += ')';
    }
    if (out.size() > kMaxFileNameBytes)
      refuse(pat, "the name would be longer than " + std::to_string(kMaxFileNameBytes) + " bytes");
  }
  if (!used) out += "%!(EXTRA uint64=" + std::to_string(value) + ")";
  if (out.size() > kMaxFileNameBytes)
    refuse(pat, "the name would be longer than " + std::to_string(kMaxFileNameBytes) + " bytes");
  return out;
}

}  // namespace cb
