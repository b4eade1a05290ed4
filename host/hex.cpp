#include "host/hex.h"

namespace cb {

std::string hex(std::span<const uint8_t> bytes, bool prefix) {
  std::string s = prefix ? "0x" : "";
  s.reserve(s.size() + 2 * bytes.size());
  for (uint8_t b : bytes) {
    s.push_back(kHexDigits[b >> 4]);
    s.push_back(kHexDigits[b & 15]);
  }
  return s;
}

int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex_digits(std::string_view digits, std::span<uint8_t> out) {
  if (digits.size() != 2 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_nibble(digits[2 * i]), lo = hex_nibble(digits[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

}  // namespace cb
