// See go_strconv.h: Go's strconv.Quote and strconv.ParseUint(s, 0, 64).
#include "host/go_strconv.h"

#include "host/hex.h"

namespace cb {
namespace {

char lower(char c) { return static_cast<char>(c | 0x20); }

// strconv.underscoreOK: underscores only between digits, or between a base prefix and a digit.
bool underscore_ok(std::string_view s) {
  char saw = '^';  // ^ start, 0 digit or prefix, _ underscore, ! anything else
  size_t i = 0;
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if ((c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

}  // namespace

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHexDigits[c >> 4];
            out += kHexDigits[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Keep a well-formed multi-byte UTF-8 sequence; escape stray bytes as \xNN (Go does the
    // same; it also escapes non-printable runes, which we do not distinguish).
    const size_t len = c >= 0xc2 && c < 0xe0   ? 2
                       : c >= 0xe0 && c < 0xf0 ? 3
                       : c >= 0xf0 && c < 0xf5 ? 4
                                               : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 15];
      ++i;
    }
  }
  out += '"';
  return out;
}

bool parse_go_uint64(std::string_view s0, uint64_t* out, std::string* error) {
  auto fail = [&](const char* why) {
    if (error != nullptr) *error = "strconv.ParseUint: parsing " + go_quote(s0) + ": " + why;
    return false;
  };
  if (s0.empty()) return fail("invalid syntax");
  std::string_view s = s0;
  unsigned base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;  // "0" alone is octal zero; "0x" alone fails on the 'x'
      s.remove_prefix(1);
    }
  }
  uint64_t n = 0;
  bool underscores = false;
  for (const char c : s) {
    unsigned d;
    if (c == '_') {
      underscores = true;
      continue;
    }
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (lower(c) >= 'a' && lower(c) <= 'z') {
      d = static_cast<unsigned>(lower(c) - 'a') + 10;
    } else {
      return fail("invalid syntax");
    }
    if (d >= base) return fail("invalid syntax");
    // Go reports overflow as soon as it happens, before looking at later characters.
    if (n > (UINT64_MAX - d) / base) return fail("value out of range");
    n = n * base + d;
  }
  if (underscores && !underscore_ok(s0)) return fail("invalid syntax");
  *out = n;
  return true;
}

}  // namespace cb
