// What the run command prints on stderr (and the host's stdout records on stdout): log records
// in the reference's formats, and a one-line progress display on a terminal.
//
// Log records follow cannon/cmd/log.go: when stdout is NOT a terminal (op-challenger, CI,
// pipes) every record is log/slog's TextHandler without the time attribute,
//   level=INFO msg=processing module=vm step=1000 pc=000a5538 insn=0802954a ips=1.2e+06 ...
// and when stdout IS a terminal, go-ethereum's logfmt handler,
//   t=2026-11-22T00:33:12+0000 lvl=info msg=processing module=vm step=1000 ...
// (time, lower-case level, floats with 3 decimals). Strings are quoted the way each handler
// does (Go strconv.Quote when they contain spaces, '=', '"' or non-printable bytes).
//
// The progress line is ours (the reference has none): drawn only when stderr is a terminal,
// erased before any log record is printed and redrawn by the next update. All output goes
// through one mutex, since the host's output pump writes from another thread.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "host/human_format.h"  // group_thousands, human_rate, human_duration

namespace cb::cli {

struct LogAttr {
  enum class Kind : uint8_t { kString, kRaw, kFloat };
  std::string key;
  std::string text;   // kString: the value (quoted if needed); kRaw: printed as is
  double number = 0;  // kFloat
  Kind kind = Kind::kString;

  static LogAttr str(std::string k, std::string v) {
    return {std::move(k), std::move(v), 0, Kind::kString};
  }
  static LogAttr raw(std::string k, std::string v) {
    return {std::move(k), std::move(v), 0, Kind::kRaw};
  }
  static LogAttr num(std::string k, uint64_t v) { return raw(std::move(k), std::to_string(v)); }
  static LogAttr flt(std::string k, double v) { return {std::move(k), {}, v, Kind::kFloat}; }
};

enum class LogLevel : uint8_t { kInfo, kWarn, kError };

// Go's strconv.FormatFloat(v, 'g', -1, 64) (what slog prints for a float64).
std::string go_format_float_g(double v);

// One record in the reference's format (see above), with its newline.
std::string format_log_record(LogLevel level, std::string_view msg,
                              const std::vector<LogAttr>& attrs, bool terminal_format);

class Console {
 public:
  static Console& get();

  // Prints a record on `out` (stderr for the VM and guest, stdout for host stdout).
  void log(FILE* out, LogLevel level, std::string_view msg, const std::vector<LogAttr>& attrs);
  void info(std::string_view msg, const std::vector<LogAttr>& attrs = {}) {
    log(stderr, LogLevel::kInfo, msg, attrs);
  }
  // A line that is not a log record (the final "error: ..." line).
  void line(FILE* out, std::string_view text);

  bool progress_enabled() const { return m_progress; }
  void set_progress_enabled(bool on) { m_progress = on && m_stderr_tty; }
  // Replaces the progress line (no-op unless enabled).
  void status(const std::string& text);
  void clear_status();

 private:
  Console();
  void clear_status_locked();

  bool m_stdout_tty = false;
  bool m_stderr_tty = false;
  bool m_progress = false;
  bool m_status_shown = false;
};

}  // namespace cb::cli
