// JSON text exactly as the reference's Go writers produce it (encoding/json with
// SetIndent("", "  "), SetEscapeHTML(false), and op-service's extra trailing newline), so that
// proof, metadata and witness files are byte-identical.
#pragma once
#include <string>
#include <string_view>

namespace cb {

// A quoted JSON string with Go's escaping (\u2028 \u2029, invalid UTF-8
// as \ufffd, control characters as \n \r \t or \u00XX).
std::string go_json_quote(std::string_view s);

}  // namespace cb
