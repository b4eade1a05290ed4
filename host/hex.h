// Hex text of bytes, both ways: the one definition every file format, log line and message uses.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cb {

inline constexpr char kHexDigits[] = "0123456789abcdef";  // lower case, as Go's encoders write

// "0x" (unless !prefix) and two lower-case digits per byte.
std::string hex(std::span<const uint8_t> bytes, bool prefix = true);
// 0..15, or -1 when `c` is not a hex digit (either case).
int hex_nibble(char c);
// Exactly 2 * out.size() hex digits, no prefix, into `out`; false on any other character.
bool parse_hex_digits(std::string_view digits, std::span<uint8_t> out);

}  // namespace cb
