// Go-compatible conversions of strings and numbers that the reference's messages and flags
// depend on (Go's strconv package), shared by the CLI and the step patterns.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace cb {

// Go's strconv.ParseUint(text, 0, 64). Returns false and sets *error to Go's message
// ("strconv.ParseUint: parsing \"x\": invalid syntax" / "...: value out of range").
bool parse_go_uint64(std::string_view text, uint64_t* out, std::string* error);

// Go's %q of a string (strconv.Quote): printable ASCII and valid UTF-8 as is, the rest escaped.
std::string go_quote(std::string_view text);

}  // namespace cb
