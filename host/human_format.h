// Numbers for people (progress lines, reports, tables): one definition of each format.
// Not for anything the reference prints byte for byte (memory/memory.h human_bytes is the
// reference's Usage(); host/go_format.h is Go's fmt).
#pragma once
#include <cstdint>
#include <string>

namespace cb {

// "1,234,567"
std::string group_thousands(uint64_t v);
// "12.3 M" style rate (append the unit: "steps/s").
std::string human_rate(double per_second);
// About three significant digits in the unit that reads best: "50 s", "8.3 min", "6 h",
// "3.5 d", "1.4 yr"; "inf" when not finite.
std::string human_duration(double seconds);
// "%.*g" without the '+' and leading zeros of the exponent: 2.16e12, not 2.16e+12.
std::string sci(double v, int digits = 3);
// Up to `decimals` decimals, trailing zeros removed: 6, 1.5, 8.33.
std::string trimmed(double v, int decimals);

}  // namespace cb
