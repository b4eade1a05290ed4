// See human_format.h.
#include "host/human_format.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace cb {

// "%.*g" without the '+' and leading zeros of the exponent: 2.16e12, not
// 2.16e+12, because the table and plot are read by people.
std::string sci(double v, int digits) {
  if (v == 0) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
  std::string s = buf;
  auto e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::stoi(s.substr(e + 1));
  if (mant.find('.') != std::string::npos) {
    while (mant.back() == '0') mant.pop_back();
    if (mant.back() == '.') mant.pop_back();
  }
  if (exp == 0) return mant;
  return mant + "e" + std::to_string(exp);
}

// Up to `decimals` decimals, trailing zeros removed: 6, 1.5, 8.33.
std::string trimmed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// Value with about three significant digits, as the unit makes sense to a
// person on call: "50 s", "8.3 min", "6 h", "3.5 d", "1.4 yr".
std::string human_duration(double s) {
  if (!std::isfinite(s)) return "inf";
  if (s == 0) return "0 s";
  struct Unit {
    double secs;
    const char* name;
  };
  static const Unit units[] = {
      {365.25 * 86400, "yr"}, {86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}, {1e-3, "ms"},
  };
  for (const auto& u : units) {
    if (s >= u.secs || u.secs == 1e-3) {
      double v = s / u.secs;
      if (v >= 1e4) return sci(v, 3) + " " + u.name;
      int dec = v >= 100 ? 0 : v >= 10 ? 1 : 2;
      return trimmed(v, dec) + " " + u.name;
    }
  }
  return trimmed(s, 2) + " s";
}

std::string group_thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}
std::string human_rate(double r) {
  char b[32];
  if (r >= 1e9)
    std::snprintf(b, sizeof b, "%.2f G", r / 1e9);
  else if (r >= 1e6)
    std::snprintf(b, sizeof b, "%.2f M", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(b, sizeof b, "%.1f k", r / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f ", r);
  return b;
}

}  // namespace cb
