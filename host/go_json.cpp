#include "host/go_json.h"

#include <cstdint>
#include <cstdio>

namespace cb {

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = c(i);
  size_t n;
  uint32_t cp;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    cp = b & 0x07;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((c(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c(i + k) & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}
}  // namespace

std::string go_json_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      char buf[8];
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
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
        default:
          if (b < 0x20) {
            std::snprintf(buf, sizeof buf, "\\u%04x", b);
            out += buf;
          } else {
            out.push_back(char(b));
          }
      }
      ++i;
      continue;
    }
    size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    std::string_view seq = s.substr(i, n);
    if (seq == "\xE2\x80\xA8")
      out += "\\u2028";
    else if (seq == "\xE2\x80\xA9")
      out += "\\u2029";
    else
      out.append(seq);
    i += n;
  }
  out.push_back('"');
  return out;
}

}  // namespace cb
