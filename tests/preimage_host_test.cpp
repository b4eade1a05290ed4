// HostProcess against real child processes: small python3/sh hosts written at test time, and
// the shared reference pre-image server when the checkout has ../shared next to it.
// After every test no child of ours may remain.
#include "cli/preimage_host.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace cb {
namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

// A python host with several behaviours, chosen by argv[1].
constexpr const char* kHostPy = R"PY(
import os, select, signal, sys, time

def read_exact(fd, n):
    out = b""
    while len(out) < n:
        c = os.read(fd, n - len(out))
        if not c:
            return None
        out += c
    return out

def write_all(fd, data):
    v = memoryview(data)
    while v:
        v = v[os.write(fd, v):]

def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False

def value_for(key):
    n = int.from_bytes(key[24:32], "big")
    return (bytes(range(256)) * (n // 256 + 2))[key[0]:key[0] + n]

mode = sys.argv[1]
signal.signal(signal.SIGINT, signal.SIG_DFL)  # die of SIGINT like a Go host, no traceback

if mode == "echo":
    sys.stdout.write("host says hello\n"); sys.stdout.flush()
    sys.stderr.write("host warns\n"); sys.stderr.flush()
    hints = []
    fds = {3, 5}
    while fds:
        ready, _, _ = select.select(sorted(fds), [], [])
        for fd in ready:
            if fd == 3:
                head = read_exact(3, 4)
                body = None if head is None else read_exact(3, int.from_bytes(head, "big"))
                if body is None:
                    fds.discard(3)
                    continue
                hints.append(body)
                write_all(4, b"\x00")
            else:
                key = read_exact(5, 32)
                if key is None:
                    fds.discard(5)
                    continue
                if key[0] == 0xff:
                    open_fds = [str(f) for f in range(64) if fd_open(f)]
                    v = ("fds=%s;stdin=%s;NO_COLOR=%s;arg=%s" % (",".join(open_fds),
                         os.readlink("/proc/self/fd/0"), os.environ.get("NO_COLOR"),
                         "|".join(sys.argv[2:]))).encode()
                elif key[0] == 0xfe:
                    v = ";".join("%d:%d" % (len(h), sum(h)) for h in hints).encode()
                else:
                    v = value_for(key)
                write_all(6, len(v).to_bytes(8, "big") + v)
    sys.exit(int(os.environ.get("HOST_EXIT", "0")))

if mode == "short-length":
    read_exact(5, 32); write_all(6, b"\x00\x00\x00"); sys.exit(0)
if mode == "short-value":
    read_exact(5, 32); write_all(6, (100).to_bytes(8, "big") + b"abc"); sys.exit(0)
if mode == "no-ack":
    read_exact(3, 4); sys.exit(2)
if mode == "close":
    read_exact(5, 32); os.close(5); os.close(6); time.sleep(30); sys.exit(0)
if mode == "huge":
    read_exact(5, 32); write_all(6, (1 << 40).to_bytes(8, "big")); time.sleep(30); sys.exit(0)
if mode == "slow":
    while True:
        key = read_exact(5, 32)
        if key is None:
            sys.exit(0)
        time.sleep(3)
        write_all(6, (4).to_bytes(8, "big") + b"slow")
if mode == "hang":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only SIGKILL ends it
    os.write(1, b"ready\n")
    while True:
        time.sleep(1000)
sys.exit(99)
)PY";

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/cb_host_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    m_dir = templ;
    m_host_py = write_script("host.py", kHostPy, 0644);
  }
  void TearDown() override {
    expect_no_children();
    std::system(("rm -rf '" + m_dir + "'").c_str());
  }

  std::string write_script(const std::string& name, const std::string& text, mode_t mode) {
    const std::string p = m_dir + "/" + name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

  std::vector<std::string> py(const std::string& mode) const {
    return {"python3", m_host_py, mode};
  }

  static HostOptions fast_stop() {
    HostOptions o;
    o.stop = HostStopPolicy{.exit_grace_ms = 0, .close_grace_ms = 500, .interrupt_grace_ms = 500};
    return o;
  }

  static void expect_no_children() {
    int status = 0;
    errno = 0;
    const pid_t r = ::waitpid(-1, &status, WNOHANG);
    EXPECT_EQ(r, -1) << "a child process is left over (pid " << r << ")";
    EXPECT_EQ(errno, ECHILD);
  }
  static void expect_gone(pid_t pid) {
    ASSERT_GT(pid, 0);
    errno = 0;
    EXPECT_EQ(::kill(pid, 0), -1) << "host " << pid << " still exists";
    EXPECT_EQ(errno, ESRCH);
  }

  // Waits (up to 10 s) until `pid` has exited but is not yet reaped.
  static void wait_until_zombie(pid_t pid) {
    const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
    for (int i = 0; i < 1000; ++i) {
      std::string line;
      std::getline(std::ifstream(stat), line);
      const size_t paren = line.rfind(')');
      if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') return;
      ::usleep(10 * 1000);
    }
    FAIL() << "host " << pid << " did not exit";
  }

  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const OracleError& e) {
      return e.what();
    }
    return "<no error>";
  }

  static Hash32 key_of(uint8_t first, uint64_t len) {
    Hash32 k{};
    k[0] = first;
    for (int i = 0; i < 8; ++i) k[31 - i] = static_cast<uint8_t>(len >> (8 * i));
    return k;
  }
  static Bytes expected_value(const Hash32& k) {
    uint64_t n = 0;
    for (int i = 24; i < 32; ++i) n = n << 8 | k[i];
    Bytes v(n);
    for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((k[0] + i) & 0xff);
    return v;
  }
  static std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }
  static Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

  std::string m_dir;
  std::string m_host_py;
};

TEST_F(HostTest, WellBehavedHost) {
  std::mutex mu;
  std::string out, err;
  HostOptions o = fast_stop();
  o.on_output = [&](HostStream s, std::string_view chunk) {
    std::lock_guard lock(mu);
    (s == HostStream::kStdout ? out : err).append(chunk);
  };
  ::unsetenv("NO_COLOR");
  HostProcess h({"python3", m_host_py, "echo", "extra arg"}, o);
  ASSERT_TRUE(h.has_host());
  EXPECT_EQ(h.executable().front(), '/');  // found through $PATH

  const Bytes big_hint(200000, 'h');  // larger than a pipe buffer
  h.hint(bytes("l1-block-header 0x1234"));
  h.hint({});
  h.hint(big_hint);
  uint64_t want_bytes = 0;
  for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{32}, uint64_t{4096}, uint64_t{3} << 20}) {
    const Hash32 k = key_of(static_cast<uint8_t>(len % 200 + 1), len);
    EXPECT_EQ(h.get_preimage(k), expected_value(k)) << len;
    want_bytes += len;
  }
  // The host saw exactly our hints.
  uint64_t sum = 0;
  for (uint8_t c : std::string("l1-block-header 0x1234")) sum += c;
  EXPECT_EQ(str(h.get_preimage(key_of(0xfe, 0))),
            "22:" + std::to_string(sum) + ";0:0;200000:" + std::to_string(200000 * 'h'));
  // What the host got from us: fds 0-6 only, /dev/null stdin, NO_COLOR=1, its arguments.
  EXPECT_EQ(str(h.get_preimage(key_of(0xff, 0))),
            "fds=0,1,2,3,4,5,6;stdin=/dev/null;NO_COLOR=1;arg=extra arg");

  const HostStats& s = h.stats();
  EXPECT_EQ(s.hints, 3u);
  EXPECT_EQ(s.hint_bytes, 22u + 200000u);
  EXPECT_EQ(s.preimages, 7u);
  EXPECT_GE(s.preimage_bytes, want_bytes);
  EXPECT_GT(s.wait_seconds, 0.0);
  EXPECT_GE(s.wait_seconds, s.longest_wait_seconds);

  const pid_t pid = h.pid();
  const HostExit e = h.stop();
  EXPECT_TRUE(e.reaped);
  EXPECT_TRUE(e.success()) << e.describe();
  EXPECT_EQ(e.describe(), "exit status 0");
  expect_gone(pid);
  std::lock_guard lock(mu);
  EXPECT_EQ(out, "host says hello\n");
  EXPECT_EQ(err, "host warns\n");
}

TEST_F(HostTest, ReferenceStopSequenceWithDefaults) {
  // Default policy: 1 s grace, then the pipes close and the host exits on EOF.
  ::setenv("HOST_EXIT", "4", 1);
  HostProcess h(py("echo"));
  ::unsetenv("HOST_EXIT");
  EXPECT_EQ(h.get_preimage(key_of(1, 5)), expected_value(key_of(1, 5)));
  const auto t0 = Clock::now();
  const HostExit e = h.stop();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);
  EXPECT_EQ(e.exit_code, 4);
  EXPECT_FALSE(e.success());
  EXPECT_EQ(e.describe(), "exit status 4");
  EXPECT_EQ(h.stop().exit_code, 4);  // idempotent
  expect_gone(h.pid());
}

TEST_F(HostTest, ExistingNoColorWins) {
  ::setenv("NO_COLOR", "keep", 1);
  HostProcess h(py("echo"), fast_stop());
  ::unsetenv("NO_COLOR");
  EXPECT_NE(str(h.get_preimage(key_of(0xff, 0))).find("NO_COLOR=keep;"), std::string::npos);
}

TEST_F(HostTest, HostExitsAtOnce) {
  const std::string sh = write_script("exit1.sh", "#!/bin/sh\nexit 1\n", 0755);
  HostProcess h({sh}, fast_stop());
  wait_until_zombie(h.pid());  // dead before we write: the EPIPE path
  const std::string e1 = error_of([&] { h.hint(bytes("l2-output 0xaa")); });
  EXPECT_EQ(e1,
            "pre-image host exited with status 1 while cannonball sent hint \"l2-output 0xaa\"");
  // The channel is out of step: later requests fail at once with the first error.
  EXPECT_EQ(error_of([&] { h.get_preimage(key_of(1, 1)); }),
            "pre-image host unusable after an earlier failure: " + e1);
  EXPECT_EQ(h.stop().exit_code, 1);
  expect_gone(h.pid());
}

TEST_F(HostTest, HostExitsWhileWeWait) {
  HostProcess h(py("no-ack"), fast_stop());
  const std::string e = error_of([&] { h.hint(bytes("x")); });
  EXPECT_EQ(e,
            "pre-image host exited with status 2 before answering while cannonball waited for "
            "the ack of hint \"x\"");
  h.stop();
  expect_gone(h.pid());
}

TEST_F(HostTest, ShortReplies) {
  {
    HostProcess h(py("short-length"), fast_stop());
    const Hash32 k = key_of(2, 9);
    const std::string e = error_of([&] { h.get_preimage(k); });
    EXPECT_EQ(e,
              "pre-image host exited with status 0 after sending 3 of the 8 length bytes while "
              "cannonball waited for the value of key 0x02000000000000000000000000000000000000"
              "00000000000000000000000009");
    h.stop();
    expect_gone(h.pid());
  }
  {
    HostProcess h(py("short-value"), fast_stop());
    const std::string e = error_of([&] { h.get_preimage(key_of(2, 9)); });
    EXPECT_NE(e.find("exited with status 0 after sending 3 of the 100 value bytes"),
              std::string::npos)
        << e;
    h.stop();
    expect_gone(h.pid());
  }
}

TEST_F(HostTest, HostClosesPipesMidRequest) {
  HostProcess h(py("close"), fast_stop());
  const auto t0 = Clock::now();
  const std::string e = error_of([&] { h.get_preimage(key_of(3, 3)); });
  // Noticed at once (python start-up included), not after a poll deadline like the reference's 15
  // s.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0);
  EXPECT_NE(e.find("pre-image host closed its fd 6 before answering (it is still running) while "
                   "cannonball waited for the value of key 0x03"),
            std::string::npos)
      << e;
  // It ignores EOF (it sleeps), so stop() goes on to SIGINT, which python dies of.
  const HostExit x = h.stop();
  EXPECT_EQ(x.signal, SIGINT) << x.describe();
  EXPECT_EQ(x.describe(), "signal: interrupt");
  expect_gone(h.pid());
}

TEST_F(HostTest, AbsurdLengthIsCapped) {
  HostOptions o = fast_stop();
  o.max_preimage_size = 1 << 20;
  HostProcess h(py("huge"), o);
  const std::string e = error_of([&] { h.get_preimage(key_of(4, 4)); });
  EXPECT_NE(
      e.find("pre-image host announced a value of 1099511627776 bytes, over the cap of 1048576 "
             "bytes while cannonball waited for the value of key 0x04"),
      std::string::npos)
      << e;
  h.stop();
  expect_gone(h.pid());
}

TEST_F(HostTest, SlowHostIsWaitedFor) {
  std::vector<double> notices;
  HostOptions o = fast_stop();
  o.on_waiting = [&](double s) { notices.push_back(s); };
  HostProcess h(py("slow"), o);
  const auto t0 = Clock::now();
  EXPECT_EQ(str(h.get_preimage(key_of(5, 0))), "slow");
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(took, 2.9);
  ASSERT_GE(notices.size(), 1u);  // at ~2 s, then every 2 s: the host answers at ~3 s
  EXPECT_GE(notices[0], 2.0);
  EXPECT_LT(notices[0], 3.0);
  EXPECT_GE(h.stats().longest_wait_seconds, 2.9);
  EXPECT_TRUE(h.stop().success());
  expect_gone(h.pid());
}

TEST_F(HostTest, HungHostTimesOutAndIsKilled) {
  HostOptions o = fast_stop();
  o.timeout_ms = 500;
  std::atomic<bool> ready{false};
  o.on_output = [&](HostStream, std::string_view c) {
    if (c.find("ready") != std::string_view::npos) ready = true;
  };
  HostProcess h(py("hang"), o);
  while (!ready) ::usleep(10 * 1000);  // SIGINT must hit the python handler, not startup
  const auto t0 = Clock::now();
  const std::string e = error_of([&] { h.get_preimage(key_of(6, 6)); });
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(took, 0.5);
  EXPECT_LT(took, 3.0);
  EXPECT_NE(
      e.find("pre-image host gave no answer within 500 ms while cannonball waited for the value "
             "of key 0x06"),
      std::string::npos)
      << e;
  const HostExit x = h.stop();  // EOF ignored, SIGINT ignored: SIGKILL
  EXPECT_EQ(x.signal, SIGKILL) << x.describe();
  EXPECT_EQ(x.describe(), "signal: killed");
  expect_gone(h.pid());
}

TEST_F(HostTest, AbortHook) {
  HostOptions o = fast_stop();
  const auto t0 = Clock::now();
  o.should_abort = [&] { return Clock::now() - t0 > std::chrono::milliseconds(300); };
  HostProcess h(py("hang"), o);
  const std::string e = error_of([&] { h.get_preimage(key_of(7, 7)); });
  EXPECT_NE(e.find("request interrupted"), std::string::npos) << e;
  h.stop();
  expect_gone(h.pid());
}

TEST_F(HostTest, DestructorReapsOnErrorPaths) {
  pid_t pid = -1;
  try {
    HostProcess h(py("hang"), fast_stop());
    pid = h.pid();
    throw std::runtime_error("something else failed");
  } catch (const std::runtime_error&) {
  }
  expect_gone(pid);
}

TEST_F(HostTest, StartFailures) {
  EXPECT_EQ(
      error_of([] { HostProcess h({"cb-no-such-host-program"}); }),
      "failed to start pre-image oracle server: exec: \"cb-no-such-host-program\": executable "
      "file not found in $PATH");
  const std::string missing = m_dir + "/missing";
  EXPECT_EQ(error_of([&] { HostProcess h({missing}); }),
            "failed to start pre-image oracle server: exec: \"" + missing + "\": stat " + missing +
                ": no such file or directory");
  const std::string not_exec = write_script("plain.sh", "#!/bin/sh\n", 0644);
  EXPECT_EQ(
      error_of([&] { HostProcess h({not_exec}); }),
      "failed to start pre-image oracle server: exec: \"" + not_exec + "\": permission denied");
  const std::string junk = write_script("junk", "\x01\x02\x03 not a program\n", 0755);
  EXPECT_EQ(error_of([&] { HostProcess h({junk}); }),
            "failed to start pre-image oracle server: fork/exec " + junk + ": exec format error");
  EXPECT_EQ(error_of([&] { HostProcess h({m_dir}); }),
            "failed to start pre-image oracle server: exec: \"" + m_dir + "\": is a directory");
}

TEST_F(HostTest, NoHostCommand) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{}, std::vector<std::string>{""}}) {
    HostProcess h(argv);
    EXPECT_FALSE(h.has_host());
    h.hint(bytes("ignored"));  // no hint processor: dropped
    EXPECT_NE(
        error_of([&] { h.get_preimage(key_of(1, 1)); }).find("no pre-image retriever available"),
        std::string::npos);
    EXPECT_TRUE(h.stop().success());
  }
}

TEST_F(HostTest, RequestAfterStopFails) {
  HostProcess h(py("echo"), fast_stop());
  h.stop();
  EXPECT_NE(error_of([&] { h.get_preimage(key_of(1, 1)); }).find("was already stopped"),
            std::string::npos);
}

TEST_F(HostTest, HostDiesWithUs) {
  // A (subreaper) forks B; B starts the host and is SIGKILLed without any cleanup. The host
  // must get SIGKILL from PR_SET_PDEATHSIG; as a subreaper, A inherits and reaps it.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const std::vector<std::string> argv = py("hang");
  const pid_t a = ::fork();
  ASSERT_GE(a, 0);
  if (a == 0) {
    ::alarm(20);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const pid_t b = ::fork();
    if (b == 0) {
      HostProcess h(argv, fast_stop());
      const pid_t hp = h.pid();
      (void)!::write(p[1], &hp, sizeof hp);
      ::kill(::getpid(), SIGKILL);
    }
    pid_t hp = -1;
    if (::read(p[0], &hp, sizeof hp) != sizeof hp) ::_exit(2);
    int st = 0;
    ::waitpid(b, &st, 0);
    if (::waitpid(hp, &st, 0) != hp) ::_exit(3);
    ::_exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 4);
  }
  ::close(p[0]);
  ::close(p[1]);
  int st = 0;
  ASSERT_EQ(::waitpid(a, &st, 0), a);
  ASSERT_TRUE(WIFEXITED(st)) << "helper died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

// The shared reference server (/work/shared/reference/tools/preimage-server.py), found as
// ../shared next to the repository root.
TEST_F(HostTest, SharedReferenceServer) {
#ifndef CB_SOURCE_DIR
  GTEST_SKIP() << "CB_SOURCE_DIR is not defined: cannot locate ../shared/reference";
#else
  const std::string ref = std::string(CB_SOURCE_DIR) + "/../shared/reference";
  const std::string server = ref + "/tools/preimage-server.py";
  const std::string data = ref + "/guests/oracle/preimages.json";
  if (::access(server.c_str(), R_OK) != 0 || ::access(data.c_str(), R_OK) != 0) {
    GTEST_SKIP() << "no shared reference server at " << server;
  }
  std::stringstream json;
  json << std::ifstream(data).rdbuf();
  const std::string text = json.str();
  std::vector<std::pair<Hash32, Bytes>> table;
  auto unhex = [](const std::string& h) {
    Bytes b(h.size() / 2);
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
    return b;
  };
  // nlohmann::json rather than std::regex: libstdc++'s regex recurses per character and
  // overflows the stack on long values under AddressSanitizer.
  const nlohmann::json entries = nlohmann::json::parse(text);
  for (const auto& [key, value] : entries.items()) {
    Hash32 k{};
    const Bytes kb = unhex(key.substr(2));
    ASSERT_EQ(kb.size(), 32u) << key;
    std::copy(kb.begin(), kb.end(), k.begin());
    table.emplace_back(k, unhex(value.get<std::string>().substr(2)));
  }
  ASSERT_GE(table.size(), 3u);

  const std::string log = m_dir + "/hints.log";
  ::setenv("PREIMAGE_SERVER_HINT_LOG", log.c_str(), 1);
  HostProcess h({"python3", server, data}, fast_stop());
  ::unsetenv("PREIMAGE_SERVER_HINT_LOG");
  h.hint(bytes("l1-test 0xabcdef"));
  h.hint(bytes("second hint"));
  for (const auto& [k, v] : table) EXPECT_EQ(h.get_preimage(k), v);
  const HostExit e = h.stop();  // it exits 0 once both request pipes reach EOF
  EXPECT_TRUE(e.success()) << e.describe();
  std::stringstream hints;
  hints << std::ifstream(log).rdbuf();
  EXPECT_EQ(hints.str(), "l1-test 0xabcdef\nsecond hint\n");
  expect_gone(h.pid());

  // An unknown key: the server complains on stderr and exits 3.
  std::mutex mu;
  std::string err;
  HostOptions o = fast_stop();
  o.on_output = [&](HostStream s, std::string_view c) {
    std::lock_guard lock(mu);
    if (s == HostStream::kStderr) err.append(c);
  };
  HostProcess bad({"python3", server, data}, o);
  const std::string msg = error_of([&] { bad.get_preimage(Hash32{}); });
  EXPECT_EQ(msg,
            "pre-image host exited with status 3 before answering while cannonball waited for "
            "the value of key 0x0000000000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(bad.stop().exit_code, 3);
  std::lock_guard lock(mu);
  EXPECT_NE(err.find("preimage-server: unknown key 0x00"), std::string::npos) << err;
#endif
}

}  // namespace
}  // namespace cb
