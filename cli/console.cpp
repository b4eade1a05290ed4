#include "cli/console.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>

#include "host/go_strconv.h"

namespace cb::cli {

namespace {

std::mutex g_mutex;

// log/slog's needsQuoting (and close enough to go-ethereum's logfmt rule): empty, a space,
// '=', '"', a control byte, or a non-printable / space rune outside ASCII.
bool needs_quoting(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c < 0x80) {
      if (c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f) return true;
    }
  }
  // Non-ASCII: go_quote escapes what is not printable; quote when that changes the text.
  for (unsigned char c : s)
    if (c >= 0x80) return go_quote(s) != "\"" + std::string(s) + "\"";
  return false;
}

std::string quoted_if_needed(std::string_view s) {
  return needs_quoting(s) ? go_quote(s) : std::string(s);
}

std::string geth_time() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

}  // namespace

std::string go_format_float_g(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits, then strconv/ftoa.go's %g rule for precision -1: with
  // "shortest", eprec = 6, so %e when exp < -4 || exp >= 6 (1.23456789e+06), else %f.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  int nd = int(digits.size());
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += e;
    return out;
  }
  // %f with max(nd - dp, 0) decimals, dp = exp + 1.
  int dp = exp + 1;
  if (dp <= 0) {
    out += "0." + std::string(size_t(-dp), '0') + digits;
  } else if (dp >= nd) {
    out += digits + std::string(size_t(dp - nd), '0');
  } else {
    out += digits.substr(0, size_t(dp)) + "." + digits.substr(size_t(dp));
  }
  return out;
}

std::string format_log_record(LogLevel level, std::string_view msg,
                              const std::vector<LogAttr>& attrs, bool terminal_format) {
  static const char* kSlog[] = {"INFO", "WARN", "ERROR"};
  static const char* kGeth[] = {"info", "warn", "eror"};
  std::string out;
  if (terminal_format) {
    out = "t=" + geth_time() + " lvl=" + kGeth[int(level)] + " msg=" + quoted_if_needed(msg);
  } else {
    out = std::string("level=") + kSlog[int(level)] + " msg=" + quoted_if_needed(msg);
  }
  for (const LogAttr& a : attrs) {
    out += ' ';
    out += quoted_if_needed(a.key);
    out += '=';
    switch (a.kind) {
      case LogAttr::Kind::kString:
        out += quoted_if_needed(a.text);
        break;
      case LogAttr::Kind::kRaw:
        out += a.text;
        break;
      case LogAttr::Kind::kFloat:
        if (terminal_format) {
          char b[64];
          std::snprintf(b, sizeof b, "%.3f", a.number);
          out += b;
        } else {
          out += go_format_float_g(a.number);
        }
        break;
    }
  }
  out += '\n';
  return out;
}

Console::Console() {
  m_stdout_tty = ::isatty(1) == 1;
  m_stderr_tty = ::isatty(2) == 1;
}

Console& Console::get() {
  static Console c;
  return c;
}

void Console::log(FILE* out, LogLevel level, std::string_view msg,
                  const std::vector<LogAttr>& attrs) {
  std::string rec = format_log_record(level, msg, attrs, m_stdout_tty);
  std::lock_guard lock(g_mutex);
  clear_status_locked();
  if (out == stdout) std::fflush(stderr);
  std::fwrite(rec.data(), 1, rec.size(), out);
  std::fflush(out);
}

void Console::line(FILE* out, std::string_view text) {
  std::lock_guard lock(g_mutex);
  clear_status_locked();
  std::fflush(stdout);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fputc('\n', out);
  std::fflush(out);
}

void Console::status(const std::string& text) {
  if (!m_progress) return;
  std::lock_guard lock(g_mutex);
  std::string s = "\r\033[K" + text;
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
  m_status_shown = true;
}

void Console::clear_status() {
  std::lock_guard lock(g_mutex);
  clear_status_locked();
}

void Console::clear_status_locked() {
  if (!m_status_shown) return;
  std::fputs("\r\033[K", stderr);
  m_status_shown = false;
}

}  // namespace cb::cli
