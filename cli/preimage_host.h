// The pre-image host process: the command given after "--" on the run command line, started
// and spoken to like the reference's ProcessPreimageOracle (cannon/cmd/run.go) does.
//
// What the reference does, and we copy:
//  - exec.Command(argv[0], argv[1:]...): argv[0] without a '/' is looked up in $PATH (and a
//    match relative to the current directory is refused, Go's exec.ErrDot);
//  - the host gets four extra fds (cmd.ExtraFiles, first one = fd 3), each one end of a pipe:
//      fd 3  hint channel, host reads:   4-byte big-endian length, then the hint bytes
//      fd 4  hint channel, host writes:  1 ack byte per hint (its value is ignored)
//      fd 5  pre-image channel, host reads:  32-byte key
//      fd 6  pre-image channel, host writes: 8-byte big-endian length, then the value
//    (op-preimage HintWriter.Hint, OracleClient.Get, CreateBidirectionalChannel);
//    no other fd of ours leaks into it (Go opens everything close-on-exec);
//  - stdin is /dev/null (cmd.Stdin nil); stdout and stderr are pipes that the reference
//    logs chunk by chunk (mipsevm.LoggingWriter, module=host, stdout to our stdout, stderr to
//    our stderr): set HostOptions::on_output to get the chunks; without it they are inherited;
//  - the environment is ours with NO_COLOR=1 added (an existing NO_COLOR wins, as Go's
//    exec keeps the last of duplicate variables);
//  - no host command (empty argv or argv[0] == ""): hints are dropped, and a pre-image read
//    fails ("no pre-image retriever available");
//  - stop (ProcessPreimageOracle.Close): wait 1 s for the host to exit by itself, close our
//    ends of the pipes, wait 30 s, send SIGINT (os.Interrupt), wait 30 s, SIGKILL, reap.
//    A non-zero exit is reported (the reference logs it and still succeeds).
//
// Where we differ, deliberately:
//  - the reference keeps its copies of the host's pipe ends open, so a host that closes its
//    fds is never noticed and a dead host only after its 15 s poll deadline; we close them
//    and watch the child through a pidfd (or waitpid polling), so every failure surfaces at
//    once as an OracleError with one line, e.g.
//      pre-image host exited with status 1 while cannonball waited for the value of key 0x…
//  - an optional per-request timeout, a progress callback while waiting, a size cap;
//  - the child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with us even if we are killed
//    (note: Linux sends it when the *thread* that started the host exits, so start it from
//    a thread that lives as long as the run, e.g. the main thread);
//  - writes never raise SIGPIPE (it is blocked and discarded around our writes).
//
// Not thread-safe: one VM thread makes the requests. SIGCHLD must not be ignored, and no one
// else may reap our child (waitpid(-1)), or the exit status is reported as unknown.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "interp/oracle.h"

namespace cb {

enum class HostStream : uint8_t { kStdout, kStderr };

struct HostStats {
  uint64_t hints = 0;
  uint64_t hint_bytes = 0;  // hint payloads, without the 4-byte length prefixes
  uint64_t preimages = 0;
  uint64_t preimage_bytes = 0;      // values, without the 8-byte length prefixes
  double wait_seconds = 0;          // wall time spent inside hint() and get_preimage()
  double longest_wait_seconds = 0;  // the slowest single request
};

// How the host ended.
struct HostExit {
  bool started = false;  // a host process was started at all
  bool reaped = false;   // we collected its status
  bool unknown = false;  // reaped by someone else: status lost
  int exit_code = -1;    // when it exited normally
  int signal = 0;        // when a signal killed it
  bool core_dumped = false;
  bool success() const { return !started || (reaped && !unknown && signal == 0 && exit_code == 0); }
  // Go's ExitError text: "exit status 1", "signal: killed", "signal: interrupt (core dumped)".
  std::string describe() const;
};

// ProcessPreimageOracle.Close's waits; the defaults are the reference's.
struct HostStopPolicy {
  uint32_t exit_grace_ms = 1000;        // before we close the pipes
  uint32_t close_grace_ms = 30000;      // after closing the pipes, before SIGINT
  uint32_t interrupt_grace_ms = 30000;  // after SIGINT, before SIGKILL
};

struct HostOptions {
  // A request (one hint or one pre-image) taking longer than this fails; 0 = wait forever.
  uint64_t timeout_ms = 0;
  // While a request has waited at least notice_after_ms, on_waiting(seconds waited so far) is
  // called, then again every notice_every_ms. May throw to abandon the request.
  uint32_t notice_after_ms = 2000;
  uint32_t notice_every_ms = 2000;
  std::function<void(double seconds_waited)> on_waiting;
  // When a signal interrupts a wait (EINTR) and whenever on_waiting would be considered,
  // should_abort() is asked; true fails the request ("interrupted").
  std::function<bool()> should_abort;
  // Host stdout/stderr chunks as read (the reference logs each chunk as one record). Called
  // from a helper thread; must not throw. Null: the host inherits our stdout and stderr.
  std::function<void(HostStream, std::string_view chunk)> on_output;
  // A pre-image longer than this is refused (the reference has no cap). 1 GiB.
  uint64_t max_preimage_size = uint64_t{1} << 30;
  HostStopPolicy stop;
};

class HostProcess final : public PreimageOracle {
 public:
  // Starts argv (empty, or argv[0] empty: no host). Throws OracleError when it cannot start,
  // with the reference's wording, e.g.
  //   failed to start pre-image oracle server: exec: "nope": executable file not found in $PATH
  explicit HostProcess(std::vector<std::string> argv, HostOptions options = {});
  ~HostProcess() override;  // stop()
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  // PreimageOracle. Throw OracleError on any host failure; after one, every later request
  // fails at once with the first error (the channel is out of step by then).
  void hint(std::span<const uint8_t> hint) override;
  std::vector<uint8_t> get_preimage(const Hash32& key) override;

  // Ends the host as the reference's Close does (see HostStopPolicy) and reaps it. Never
  // throws; idempotent (later calls return the first result).
  HostExit stop();
  // Replaces the waits stop() uses (e.g. shorter ones once a request has failed: the channel
  // is out of step then and nothing is gained by the reference's 30 s grace periods).
  void set_stop_policy(const HostStopPolicy& policy) { m_options.stop = policy; }

  bool has_host() const { return m_pid > 0; }
  pid_t pid() const { return m_pid; }  // stays set after the host is reaped (for tests/logs)
  const HostStats& stats() const { return m_stats; }
  // The resolved executable and the arguments, for logs.
  const std::string& executable() const { return m_executable; }
  const std::vector<std::string>& argv() const { return m_argv; }

 private:
  struct Request;
  struct OutputPump;

  void start();
  void write_all(int fd, const uint8_t* p, size_t n, Request& req);
  void read_exact(int fd, uint8_t* p, size_t n, Request& req, size_t done_before, size_t total);
  void wait_ready(int fd, short events, Request& req);
  void finish_request(Request& req);
  [[noreturn]] void fail(Request& req, const std::string& what);
  bool poll_exited(int timeout_ms);  // reaps when the child has exited
  bool wait_exit(uint64_t timeout_ms);
  void close_channels();

  std::vector<std::string> m_argv;
  std::string m_executable;
  HostOptions m_options;
  pid_t m_pid = -1;
  int m_pidfd = -1;
  int m_hint_w = -1;   // our end of the host's fd 3
  int m_ack_r = -1;    // our end of the host's fd 4
  int m_key_w = -1;    // our end of the host's fd 5
  int m_value_r = -1;  // our end of the host's fd 6
  std::unique_ptr<OutputPump> m_pump;
  HostExit m_exit;
  bool m_stopped = false;
  std::string m_broken;  // first request failure
  HostStats m_stats;
};

}  // namespace cb
