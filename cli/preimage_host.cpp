// See preimage_host.h for the reference behaviour (cannon/cmd/run.go ProcessPreimageOracle,
// op-preimage hints.go / oracle.go / filechan.go) and where we deliberately differ.
#include "cli/preimage_host.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "host/go_strconv.h"
#include "host/hex.h"

extern char** environ;

namespace cb {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kOutputChunk = 32 * 1024;  // io.Copy's buffer: the reference logs chunks of this
constexpr int kExitLingerMs =
    200;  // after EOF/EPIPE, how long to wait to tell "exited" from "closed"
constexpr int kPollSliceNoPidfdMs = 50;  // liveness polling when pidfd_open is unavailable
constexpr int kPollSliceAbortMs = 250;   // how often should_abort() is asked while waiting

// Go's error strings are strerror() with a lower-case first letter ("no such file or directory").
std::string go_errno(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string go_signal_name(int sig) {
  const char* d = ::strsignal(sig);
  std::string s = d != nullptr ? d : "signal " + std::to_string(sig);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string signal_abbrev(int sig) {
  const char* a = ::sigabbrev_np(sig);
  return a != nullptr ? std::string("SIG") + a : "signal " + std::to_string(sig);
}

// A hint for error messages: text when it is text (hints are "type 0xdata" strings), else hex.
std::string describe_hint(std::span<const uint8_t> hint) {
  constexpr size_t kMax = 80;
  const bool text =
      std::all_of(hint.begin(), hint.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
  std::string shown = text ? go_quote(std::string_view(reinterpret_cast<const char*>(hint.data()),
                                                       std::min(hint.size(), kMax)))
                           : hex(hint.first(std::min(hint.size(), kMax / 2)));
  if (hint.size() > (text ? kMax : kMax / 2))
    shown += "... (" + std::to_string(hint.size()) + " bytes)";
  return shown;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// exec.LookPath's findExecutable: "" when runnable, else Go's error text.
std::string find_executable(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return "stat " + file + ": " + go_errno(errno);
  if (S_ISDIR(st.st_mode)) return go_errno(EISDIR);
  if (::faccessat(AT_FDCWD, file.c_str(), X_OK, AT_EACCESS) == 0) return "";
  if (errno != ENOSYS && errno != EPERM) return go_errno(errno);
  return (st.st_mode & 0111) != 0 ? "" : go_errno(EACCES);
}

[[noreturn]] void start_failed(const std::string& why) {
  // run.go: fmt.Errorf("failed to start pre-image oracle server: %w", err)
  throw OracleError("failed to start pre-image oracle server: " + why);
}

// exec.Command's exec.LookPath(name).
std::string look_path(const std::string& name) {
  const std::string prefix = "exec: " + go_quote(name) + ": ";
  if (name.find('/') != std::string::npos) {
    const std::string err = find_executable(name);
    if (!err.empty()) start_failed(prefix + err);
    return name;
  }
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "";
  size_t begin = 0;
  while (!path.empty() && begin <= path.size()) {
    size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty()) dir = ".";  // an empty PATH element means the current directory
    const std::string candidate = (dir == "." ? name : dir + "/" + name);
    if (find_executable(candidate).empty()) {
      // Go >= 1.19 (exec.ErrDot) will not run a program found through a relative PATH entry.
      if (candidate[0] != '/') {
        start_failed(prefix + "cannot run executable found relative to current directory");
      }
      return candidate;
    }
  }
  start_failed(prefix + "executable file not found in $PATH");
}

bool set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Blocks SIGPIPE for this thread around our writes and discards one we caused, so a host that
// closed its end yields EPIPE instead of killing us (pipes have no MSG_NOSIGNAL).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&m_pipe_set);
    sigaddset(&m_pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &m_pipe_set, &m_old);
    sigset_t pending;
    sigpending(&pending);
    m_pending_before = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (saw_epipe && !m_pending_before) {
      const timespec zero{};
      while (sigtimedwait(&m_pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  bool saw_epipe = false;

 private:
  sigset_t m_pipe_set{};
  sigset_t m_old{};
  bool m_pending_before = false;
};

int ms_until(Clock::time_point now, Clock::time_point t) {
  if (t <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

}  // namespace

std::string HostExit::describe() const {
  if (!started) return "no host";
  if (!reaped) return "still running";
  if (unknown) return "exit status unknown (reaped elsewhere)";
  std::string s = signal != 0 ? "signal: " + go_signal_name(signal)
                              : "exit status " + std::to_string(exit_code);
  if (core_dumped) s += " (core dumped)";
  return s;
}

// ---------------------------------------------------------------------------------------------
// The host's stdout/stderr, read on a helper thread like exec.Cmd's copying goroutines.

struct HostProcess::OutputPump {
  int fds[2] = {-1, -1};  // stdout, stderr (our read ends)
  int wake_r = -1, wake_w = -1;
  std::function<void(HostStream, std::string_view)> sink;
  std::thread thread;

  void run() {
    std::vector<char> buf(kOutputChunk);
    bool draining = false;
    int drain_rounds = 0;  // a grandchild may keep writing: take a bounded amount after the host
    while ((fds[0] >= 0 || fds[1] >= 0) && drain_rounds < 64) {
      if (draining) ++drain_rounds;
      pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {wake_r, POLLIN, 0}};
      if (!draining && ::poll(p, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[2].revents != 0) draining = true;  // host reaped: take what is buffered, then end
      bool progressed = false;
      for (int i = 0; i < 2; ++i) {
        if (fds[i] < 0 || (!draining && p[i].revents == 0)) continue;
        const ssize_t n = ::read(fds[i], buf.data(), buf.size());
        if (n > 0) {
          progressed = true;
          try {
            sink(i == 0 ? HostStream::kStdout : HostStream::kStderr,
                 std::string_view(buf.data(), static_cast<size_t>(n)));
          } catch (...) {
            // A logging failure must not take the run down.
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(fds[i]);
        }
      }
      if (draining && !progressed) break;
    }
  }

  void start() {
    thread = std::thread([this] { run(); });
  }

  // Called once the host is reaped: let the thread flush what is buffered and end.
  void finish() {
    if (thread.joinable()) {
      const uint8_t one = 1;
      (void)!::write(wake_w, &one, 1);
      thread.join();
    }
    close_fd(fds[0]);
    close_fd(fds[1]);
    close_fd(wake_r);
    close_fd(wake_w);
  }

  ~OutputPump() { finish(); }
};

// ---------------------------------------------------------------------------------------------

struct HostProcess::Request {
  Clock::time_point start;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point next_notice = Clock::time_point::max();
  std::span<const uint8_t> hint;  // the hint, for a hint request
  const Hash32* key = nullptr;    // the key, for a pre-image request
  bool sending = true;            // writing the request (else waiting for the answer)
  int host_fd = 3;                // the host's fd number of the channel in use
  const char* part = "";          // what is being read, for "after N of M ... bytes"
};

HostProcess::HostProcess(std::vector<std::string> argv, HostOptions options)
    : m_argv(std::move(argv)), m_options(std::move(options)) {
  start();
}

HostProcess::~HostProcess() { stop(); }

void HostProcess::start() {
  // NewProcessPreimageOracle: an empty name means no host at all.
  if (m_argv.empty() || m_argv[0].empty()) return;
  m_executable = look_path(m_argv[0]);

  // Everything the child needs is prepared here: between fork and execve only
  // async-signal-safe calls are allowed (other threads may hold the malloc lock).
  std::vector<char*> child_argv;
  for (std::string& a : m_argv) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);
  // cmd.Env = append([]string{"NO_COLOR=1"}, os.Environ()...): Go keeps the last duplicate.
  std::vector<std::string> env_store;
  if (std::getenv("NO_COLOR") == nullptr) env_store.emplace_back("NO_COLOR=1");
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env_store.emplace_back(*e);
  std::vector<char*> child_env;
  for (std::string& e : env_store) child_env.push_back(e.data());
  child_env.push_back(nullptr);

  // All pipes are close-on-exec; the child dup2()s its ends into place (which clears it).
  int hint_p[2] = {-1, -1}, ack_p[2] = {-1, -1}, key_p[2] = {-1, -1}, value_p[2] = {-1, -1};
  int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, exec_p[2] = {-1, -1}, wake_p[2] = {-1, -1};
  int null_fd = -1;
  auto close_all = [&] {
    for (int* p : {hint_p, ack_p, key_p, value_p, out_p, err_p, exec_p, wake_p}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    close_fd(null_fd);
  };
  const bool capture = static_cast<bool>(m_options.on_output);
  bool ok = ::pipe2(hint_p, O_CLOEXEC) == 0 && ::pipe2(ack_p, O_CLOEXEC) == 0 &&
            ::pipe2(key_p, O_CLOEXEC) == 0 && ::pipe2(value_p, O_CLOEXEC) == 0 &&
            ::pipe2(exec_p, O_CLOEXEC) == 0;
  if (ok && capture) {
    ok = ::pipe2(out_p, O_CLOEXEC) == 0 && ::pipe2(err_p, O_CLOEXEC) == 0 &&
         ::pipe2(wake_p, O_CLOEXEC) == 0;
  }
  if (ok) {
    null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // cmd.Stdin == nil
    ok = null_fd >= 0;
  }
  if (!ok) {
    const int err = errno;
    close_all();
    start_failed("cannot create pipes: " + go_errno(err));
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    close_all();
    start_failed("fork/exec " + m_executable + ": " + go_errno(err));
  }
  if (pid == 0) {
    // Child. Die with us, also when we are SIGKILLed; if we are already gone, give up.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    int report_fd = exec_p[1];
    auto child_fail = [&](int err) {
      (void)!::write(report_fd, &err, sizeof err);
      ::_exit(127);
    };
    // The host sees fds 0-7 only; first lift every source above 7 so that no dup2 below
    // overwrites a source still to be placed.
    constexpr int kCount = 8;
    int src[kCount] = {null_fd,
                       capture ? out_p[1] : -1,
                       capture ? err_p[1] : -1,
                       hint_p[0],
                       ack_p[1],
                       key_p[0],
                       value_p[1],
                       exec_p[1]};
    for (int i = 0; i < kCount; ++i) {
      if (src[i] < 0) continue;
      src[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, kCount);
      if (src[i] < 0) child_fail(errno);
    }
    report_fd = src[7];
    for (int i = 0; i < kCount; ++i) {
      if (src[i] < 0) continue;
      // fd 7 (our exec-error report) must stay close-on-exec; the others must not.
      if (::dup3(src[i], i, i == 7 ? O_CLOEXEC : 0) < 0) child_fail(errno);
    }
    report_fd = 7;
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 8u, ~0u, 0u) != 0)
#endif
    {
      for (int fd = 8; fd < 65536; ++fd) ::close(fd);
    }
    // Unblock everything (the forking thread's mask is inherited), and give the host the
    // default SIGPIPE action whatever we use.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(m_executable.c_str(), child_argv.data(), child_env.data());
    child_fail(errno);
  }

  // Parent: drop the child's ends, then learn whether execve worked (the report pipe closes
  // on a successful exec and carries errno otherwise).
  close_fd(hint_p[0]);
  close_fd(ack_p[1]);
  close_fd(key_p[0]);
  close_fd(value_p[1]);
  close_fd(out_p[1]);
  close_fd(err_p[1]);
  close_fd(exec_p[1]);
  close_fd(null_fd);
  int child_errno = 0;
  size_t got = 0;
  while (got < sizeof child_errno) {
    const ssize_t n =
        ::read(exec_p[0], reinterpret_cast<char*>(&child_errno) + got, sizeof child_errno - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close_fd(exec_p[0]);
  if (got > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close_all();
    start_failed("fork/exec " + m_executable + ": " +
                 (got == sizeof child_errno ? go_errno(child_errno) : "unknown error"));
  }

  m_pid = pid;
  m_exit.started = true;
#if defined(SYS_pidfd_open) && !defined(CB_HOST_NO_PIDFD)  // the latter: to test the fallback
  m_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1: waitpid polling instead
#endif
  m_hint_w = std::exchange(hint_p[1], -1);
  m_ack_r = std::exchange(ack_p[0], -1);
  m_key_w = std::exchange(key_p[1], -1);
  m_value_r = std::exchange(value_p[0], -1);
  for (int fd : {m_hint_w, m_ack_r, m_key_w, m_value_r}) set_nonblocking(fd);
  if (capture) {
    m_pump = std::make_unique<OutputPump>();
    m_pump->fds[0] = std::exchange(out_p[0], -1);
    m_pump->fds[1] = std::exchange(err_p[0], -1);
    m_pump->wake_r = std::exchange(wake_p[0], -1);
    m_pump->wake_w = std::exchange(wake_p[1], -1);
    m_pump->sink = m_options.on_output;
    set_nonblocking(m_pump->fds[0]);
    set_nonblocking(m_pump->fds[1]);
    m_pump->start();
  }
  close_all();  // nothing left but already-moved (-1) entries
}

// ---------------------------------------------------------------------------------------------

bool HostProcess::poll_exited(int timeout_ms) {
  if (m_exit.reaped) return true;
  if (m_pid <= 0) return false;
  // block: the pidfd said the child has exited, so waitpid() returns at once (WNOHANG could
  // still race the kernel's exit bookkeeping and report "not yet").
  const auto reap = [&](bool block = false) -> bool {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(m_pid, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) return false;
    m_exit.reaped = true;
    if (r < 0) {
      m_exit.unknown = true;  // ECHILD: someone else reaped it (or SIGCHLD is ignored)
    } else if (WIFSIGNALED(status)) {
      m_exit.signal = WTERMSIG(status);
      m_exit.core_dumped = WCOREDUMP(status);
    } else {
      m_exit.exit_code = WEXITSTATUS(status);
    }
    close_fd(m_pidfd);
    return true;
  };
  if (m_pidfd >= 0) {
    pollfd p{m_pidfd, POLLIN, 0};
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const int r = ::poll(&p, 1, ms_until(Clock::now(), end));
      if (r > 0) return reap(/*block=*/true);
      if (r == 0 || errno != EINTR) return reap();
    }
  }
  const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (reap()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, std::max(1, timeout_ms))));
  }
}

bool HostProcess::wait_exit(uint64_t timeout_ms) {
  if (timeout_ms == UINT64_MAX) {
    while (!poll_exited(1000)) {
    }
    return true;
  }
  while (timeout_ms > 0 && !m_exit.reaped) {
    const int slice = static_cast<int>(std::min<uint64_t>(timeout_ms, 1u << 30));
    poll_exited(slice);
    timeout_ms -= static_cast<uint64_t>(slice);
  }
  return poll_exited(0);
}

void HostProcess::close_channels() {
  close_fd(m_hint_w);
  close_fd(m_ack_r);
  close_fd(m_key_w);
  close_fd(m_value_r);
}

HostExit HostProcess::stop() {
  if (m_stopped) return m_exit;
  m_stopped = true;
  if (m_pid > 0) {
    const HostStopPolicy& p = m_options.stop;
    // ProcessPreimageOracle.Close, step by step.
    if (!m_exit.reaped) wait_exit(p.exit_grace_ms);  // "time to exit cleanly"
    close_channels();                                // "encourage it to exit"
    if (!m_exit.reaped) wait_exit(p.close_grace_ms);
    if (!m_exit.reaped) {
      ::kill(m_pid, SIGINT);  // "politely ask": os.Interrupt (not reaped, so the pid is ours)
      wait_exit(p.interrupt_grace_ms);
    }
    if (!m_exit.reaped) {
      ::kill(m_pid, SIGKILL);  // "just terminate the process"
      wait_exit(UINT64_MAX);
    }
    close_fd(m_pidfd);
  }
  close_channels();
  if (m_pump) m_pump->finish();
  return m_exit;
}

// ---------------------------------------------------------------------------------------------

void HostProcess::fail(Request& req, const std::string& what) {
  std::string activity;
  if (req.key != nullptr) {
    activity =
        req.sending ? "sent key " + hex(*req.key) : "waited for the value of key " + hex(*req.key);
  } else {
    activity = req.sending ? "sent hint " + describe_hint(req.hint)
                           : "waited for the ack of hint " + describe_hint(req.hint);
  }
  m_broken = "pre-image host " + what + " while cannonball " + activity;
  throw OracleError(m_broken);
}

namespace {
std::string exit_phrase(const HostExit& e) {
  if (e.unknown) return "exited (status unknown)";
  if (e.signal != 0) {
    return "was killed by " + signal_abbrev(e.signal) + (e.core_dumped ? " (core dumped)" : "");
  }
  return "exited with status " + std::to_string(e.exit_code);
}
}  // namespace

void HostProcess::wait_ready(int fd, short events, Request& req) {
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (now >= req.deadline) {
      fail(req, "gave no answer within " + std::to_string(m_options.timeout_ms) + " ms");
    }
    if (m_options.on_waiting && now >= req.next_notice) {
      const double waited = std::chrono::duration<double>(now - req.start).count();
      req.next_notice =
          now + std::chrono::milliseconds(std::max<uint32_t>(1, m_options.notice_every_ms));
      try {
        m_options.on_waiting(waited);
      } catch (const std::exception& e) {
        fail(req, std::string("request abandoned (") + e.what() + ")");
      }
    }
    if (m_options.should_abort && m_options.should_abort()) fail(req, "request interrupted");

    int timeout = -1;
    const auto bound = [&](int ms) { timeout = timeout < 0 ? ms : std::min(timeout, ms); };
    if (req.deadline != Clock::time_point::max()) bound(ms_until(now, req.deadline));
    if (m_options.on_waiting) bound(ms_until(now, req.next_notice));
    if (m_pidfd < 0) bound(kPollSliceNoPidfdMs);
    if (m_options.should_abort) bound(kPollSliceAbortMs);

    pollfd p[2] = {{fd, events, 0}, {m_pidfd, POLLIN, 0}};
    const int r = ::poll(p, m_pidfd >= 0 ? 2 : 1, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;  // should_abort() is asked at the top
      fail(req, "could not be waited for (poll: " + go_errno(errno) + ")");
    }
    // The channel first: a host that answered and then exited has still answered.
    if (p[0].revents != 0) return;
    if ((m_pidfd >= 0 && p[1].revents != 0) || (m_pidfd < 0 && poll_exited(0))) {
      poll_exited(0);
      fail(req, exit_phrase(m_exit));
    }
  }
}

void HostProcess::write_all(int fd, const uint8_t* p, size_t n, Request& req) {
  SigpipeGuard guard;
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      wait_ready(fd, POLLOUT, req);
      continue;
    }
    const int err = errno;
    if (err == EPIPE) {
      guard.saw_epipe = true;
      // The host's read end is gone: it exited, or it closed that fd.
      if (poll_exited(kExitLingerMs)) fail(req, exit_phrase(m_exit));
      fail(req, "closed its fd " + std::to_string(req.host_fd) + " (it is still running)");
    }
    fail(req, "channel broke (write to its fd " + std::to_string(req.host_fd) + ": " +
                  go_errno(err) + ")");
  }
}

void HostProcess::read_exact(int fd, uint8_t* p, size_t n, Request& req, size_t done_before,
                             size_t total) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      wait_ready(fd, POLLIN, req);
      continue;
    }
    const size_t have = done_before + got;
    const std::string detail = have == 0 ? std::string(" before answering")
                                         : " after sending " + std::to_string(have) + " of the " +
                                               std::to_string(total) + " " + req.part + " bytes";
    if (r == 0) {
      if (poll_exited(kExitLingerMs)) fail(req, exit_phrase(m_exit) + detail);
      fail(req, "closed its fd " + std::to_string(req.host_fd) + detail + " (it is still running)");
    }
    fail(req, "channel broke (read from its fd " + std::to_string(req.host_fd) + ": " +
                  go_errno(errno) + ")" + detail);
  }
}

void HostProcess::finish_request(Request& req) {
  const double took = std::chrono::duration<double>(Clock::now() - req.start).count();
  m_stats.wait_seconds += took;
  m_stats.longest_wait_seconds = std::max(m_stats.longest_wait_seconds, took);
}

void HostProcess::hint(std::span<const uint8_t> hint) {
  if (m_pid <= 0) return;  // ProcessPreimageOracle.Hint: "no hint processor"
  if (!m_broken.empty())
    throw OracleError("pre-image host unusable after an earlier failure: " + m_broken);
  Request req;
  req.start = Clock::now();
  if (m_options.timeout_ms != 0)
    req.deadline = req.start + std::chrono::milliseconds(m_options.timeout_ms);
  if (m_options.on_waiting)
    req.next_notice = req.start + std::chrono::milliseconds(m_options.notice_after_ms);
  req.hint = hint;
  if (m_stopped) fail(req, "was already stopped");
  if (hint.size() > UINT32_MAX) fail(req, "cannot take a hint over 4 GiB (4-byte length prefix)");

  // HintWriter.Hint: 4-byte big-endian length, the hint, then read one ack byte.
  const auto len = static_cast<uint32_t>(hint.size());
  const uint8_t prefix[4] = {uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8),
                             uint8_t(len)};
  req.host_fd = 3;
  if (hint.size() <= 4096 - 4) {
    uint8_t frame[4096];  // one write(2) for the usual small hint
    std::memcpy(frame, prefix, 4);
    if (!hint.empty()) std::memcpy(frame + 4, hint.data(), hint.size());
    write_all(m_hint_w, frame, 4 + hint.size(), req);
  } else {
    write_all(m_hint_w, prefix, 4, req);
    write_all(m_hint_w, hint.data(), hint.size(), req);
  }
  req.sending = false;
  req.host_fd = 4;
  req.part = "ack";
  uint8_t ack = 0;
  read_exact(m_ack_r, &ack, 1, req, 0, 1);
  ++m_stats.hints;
  m_stats.hint_bytes += hint.size();
  finish_request(req);
}

std::vector<uint8_t> HostProcess::get_preimage(const Hash32& key) {
  if (m_pid <= 0 && !m_exit.started) {
    // ProcessPreimageOracle.GetPreimage without a host: panic("no pre-image retriever available")
    throw OracleError(
        "no pre-image retriever available: no pre-image host command was given (after --)");
  }
  if (!m_broken.empty())
    throw OracleError("pre-image host unusable after an earlier failure: " + m_broken);
  Request req;
  req.start = Clock::now();
  if (m_options.timeout_ms != 0)
    req.deadline = req.start + std::chrono::milliseconds(m_options.timeout_ms);
  if (m_options.on_waiting)
    req.next_notice = req.start + std::chrono::milliseconds(m_options.notice_after_ms);
  req.key = &key;
  if (m_stopped) fail(req, "was already stopped");

  // OracleClient.Get: write the key, read an 8-byte big-endian length, then that many bytes.
  req.host_fd = 5;
  write_all(m_key_w, key.data(), key.size(), req);
  req.sending = false;
  req.host_fd = 6;
  req.part = "length";
  uint8_t len_be[8];
  read_exact(m_value_r, len_be, 8, req, 0, 8);
  uint64_t len = 0;
  for (const uint8_t b : len_be) len = len << 8 | b;
  if (len > m_options.max_preimage_size) {
    fail(req, "announced a value of " + std::to_string(len) + " bytes, over the cap of " +
                  std::to_string(m_options.max_preimage_size) + " bytes");
  }
  req.part = "value";
  std::vector<uint8_t> value;
  size_t got = 0;
  const auto total = static_cast<size_t>(len);
  while (got < total) {
    // Grow as bytes arrive rather than trusting the announced length with memory up front.
    if (value.size() == got) value.resize(std::min(total, std::max<size_t>(got * 2, 64 * 1024)));
    read_exact(m_value_r, value.data() + got, value.size() - got, req, got, total);
    got = value.size();
  }
  ++m_stats.preimages;
  m_stats.preimage_bytes += len;
  finish_request(req);
  return value;
}

}  // namespace cb
