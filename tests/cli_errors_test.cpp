// Bad input and misbehaving pre-image hosts: every case ends promptly with one clear
// "error: ..." line, the reference's exit code (1 for errors, 2 for a VM panic, 130 when
// interrupted), no partial output file and no host process left running.
#include <gtest/gtest.h>

#include <chrono>

#include "cli_helpers.h"
#include "host/file_io.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;
using Clock = std::chrono::steady_clock;

int error_lines(const std::string& err) {
  int n = 0;
  for (size_t p = 0; (p = err.find("error: ", p)) != std::string::npos; ++p)
    if (p == 0 || err[p - 1] == '\n') ++n;
  return n;
}

// Expects exit `code`, exactly one "error: " line containing `what`, and nothing in `dir`.
void expect_error(const CmdResult& r, int code, const std::string& what,
                  const std::string& dir = "") {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << "missing \"" << what << "\" in:\n" << r.err;
  if (!dir.empty()) {
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{}) << "partial output left";
  }
}

std::string run_prefix(const std::string& input, const std::string& out_dir) {
  return cannonball() + " run --input " + shell_quote(input) + " --output " +
         shell_quote(out_dir + "/out.bin.gz") + " --meta ''";
}

TEST(CliErrors, FlagsAndPatterns) {
  std::string dir = temp_dir("err-flags");
  std::string in = dir + "/none.bin.gz";
  expect_error(run_cmd(cannonball() + " run --input x --bogus 1"), 1,
               "flag provided but not defined: -bogus");
  expect_error(run_cmd(cannonball() + " run --output x.bin"), 1, "Required flag \"input\" not set");
  expect_error(run_cmd(cannonball() + " run --input x --proof-at =abc"), 1,
               "invalid value \"=abc\" for flag -proof-at: failed to parse step number");
  expect_error(run_cmd(cannonball() + " run --input x --stop-at sometimes"), 1,
               "unrecognized step matcher: \"sometimes\"");
  expect_error(run_cmd(cannonball() + " run --input x --info-at %"), 1, "for flag -info-at");
  expect_error(run_cmd(cannonball() + " run --input x --snapshot-at =-1"), 1,
               "for flag -snapshot-at");
  expect_error(run_cmd(cannonball() + " run --input x --output x.json"), 1,
               "invalid --output file format");
  expect_error(run_cmd(cannonball() + " run --input x --snapshot-fmt s-%d.json"), 1,
               "invalid --snapshot-fmt file format");
  expect_error(run_cmd(cannonball() + " run --input x --stop-at-preimage-type bogus"), 1,
               "invalid preimage type \"bogus\"");
  expect_error(run_cmd(cannonball() + " run --input x --jit maybe"), 1, "maybe");
  expect_error(run_cmd(cannonball() + " frobnicate"), 1, "unknown command");
  expect_error(run_cmd(cannonball() + " load-elf --type multithreaded --path x.elf"), 1,
               "multithreaded64-5");
  // 0x, octal and "always" are accepted patterns.
  CmdResult ok = run_cmd(cannonball() + " run --input " + shell_quote(in) +
                         " --proof-at =0x10 --stop-at %010");
  EXPECT_EQ(ok.err.find("invalid value"), std::string::npos) << ok.err;
  std::filesystem::remove_all(dir);
}

TEST(CliErrors, BadInputStates) {
  CB_REQUIRE_REFERENCE();
  std::string dir = temp_dir("err-input"), out = dir + "/out";
  std::filesystem::create_directories(out);
  std::vector<uint8_t> gz = read_bytes(vectors_dir("hello") + "/initial.bin.gz");  // gunzipped
  std::vector<uint8_t> zipped = gzip_bytes(gz);
  auto put = [&](const std::string& name, std::span<const uint8_t> b) {
    write_text(dir + "/" + name, std::string(b.begin(), b.end()));
    return dir + "/" + name;
  };
  std::vector<uint8_t> v7 = gz;
  v7[0] = 7;
  std::vector<std::pair<std::string, std::string>> cases = {
      {dir + "/missing.bin.gz", "failed to load state"},
      {put("trunc.bin.gz", std::span<const uint8_t>(zipped).first(zipped.size() / 2)),
       "failed to load state"},
      {put("v7.bin", v7), "failed to load state"},
      {put("garbage.bin.gz", std::span<const uint8_t>(gz).first(1000)), "failed to load state"},
      {put("short.bin", std::span<const uint8_t>(gz).first(gz.size() - 100)),
       "failed to load state"},
      {put("empty.bin", {}), "failed to load state"},
  };
  for (auto& [path, what] : cases) {
    SCOPED_TRACE(path);
    expect_error(run_cmd(run_prefix(path, out)), 1, what, out);
    expect_error(run_cmd(cannonball() + " witness --input " + shell_quote(path)), 1,
                 "invalid input state");
  }
  expect_error(
      run_cmd(run_prefix(dir + "/v7.bin", out) + " --meta " + shell_quote(dir + "/nometa.json")), 1,
      "failed to load metadata", out);
  std::filesystem::remove_all(dir);
}

TEST(CliErrors, UnwritableOutputs) {
  CB_REQUIRE_REFERENCE();
  std::string dir = temp_dir("err-output");
  write_text(dir + "/file", "not a directory");
  const std::string in = vectors_dir("hello") + "/initial.bin.gz";
  const std::string bad = dir + "/file/sub";  // ENOTDIR, even for root
  expect_error(run_cmd(cannonball() + " run --input " + shell_quote(in) +
                       " --meta '' --stop-at =10 --output " + shell_quote(bad + "/out.bin.gz")),
               1, "failed to write state output");
  expect_error(run_cmd(cannonball() + " run --input " + shell_quote(in) +
                       " --meta '' --output '' --proof-at =5 " + "--proof-fmt " +
                       shell_quote(bad + "/p-%d.json")),
               1, "failed to write proof data");
  expect_error(run_cmd(cannonball() + " run --input " + shell_quote(in) +
                       " --meta '' --output '' --snapshot-at =5 " + "--snapshot-fmt " +
                       shell_quote(bad + "/s-%d.bin.gz")),
               1, "failed to write state snapshot");
  expect_error(run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " +
                       shell_quote(reference_dir() + "/elf/hello.elf") + " --meta '' --out " +
                       shell_quote(bad + "/s.bin.gz")),
               1, "s.bin.gz");
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"file"});
  std::filesystem::remove_all(dir);
}

// A scriptable fake host: MODE as below; writes its pid to PIDFILE.
const char* const kFakeHost = R"PY(
import os, sys, time, select
mode, pidfile = sys.argv[1], sys.argv[2]
with open(pidfile, "w") as f: f.write(str(os.getpid()))
if mode == "exit-now": sys.exit(1)
if mode == "slow-start":
    time.sleep(float(sys.argv[3]))
    os.execvp(sys.argv[4], sys.argv[4:])
def read_exact(fd, n):
    b = b""
    while len(b) < n:
        c = os.read(fd, n - len(b))
        if not c: return None
        b += c
    return b
while True:
    r, _, _ = select.select([3, 5], [], [])
    if 3 in r:
        h = read_exact(3, 4)
        if h is None: sys.exit(0)
        read_exact(3, int.from_bytes(h, "big"))
        if mode == "close-pipes":
            for fd in (3, 4, 5, 6): os.close(fd)
            time.sleep(120)
        os.write(4, b"\x00")
    if 5 in r:
        k = read_exact(5, 32)
        if k is None: sys.exit(0)
        if mode == "short-reply":
            os.write(6, (100).to_bytes(8, "big") + b"x" * 10)
            sys.exit(0)
        if mode == "huge-length":
            os.write(6, (1 << 62).to_bytes(8, "big"))
            time.sleep(120)
        os.write(6, (0).to_bytes(8, "big"))
)PY";

struct HostCase {
  std::string dir, script, pidfile, out;
  HostCase(const std::string& tag) {
    dir = temp_dir(tag);
    script = dir + "/fake-host.py";
    pidfile = dir + "/host.pid";
    out = dir + "/out";
    std::filesystem::create_directories(out);
    write_text(script, kFakeHost);
  }
  ~HostCase() { std::filesystem::remove_all(dir); }
  std::string cmd(const std::string& mode,
                  const std::string& extra = "") const {  // extra: run flags
    return cannonball() + " run --input " + shell_quote(vectors_dir("oracle") + "/initial.bin.gz") +
           " --output " + shell_quote(out + "/out.bin.gz") + " --meta '' --proof-fmt " +
           shell_quote(out + "/p-%d.json") + " " + extra + " -- python3 " + shell_quote(script) +
           " " + mode + " " + shell_quote(pidfile);
  }
  pid_t host_pid() const { return pid_t(std::atoi(read_text(pidfile).c_str())); }
};

TEST(CliErrors, BrokenPreimageHosts) {
  CB_REQUIRE_REFERENCE();
  struct Case {
    const char* mode;
    const char* what;
  } cases[] = {
      {"exit-now", "pre-image host exited with status 1"},
      {"short-reply", "pre-image host"},
      {"close-pipes", "pre-image host"},
      {"huge-length", "pre-image host"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.mode);
    HostCase h(std::string("host-") + c.mode);
    auto t0 = Clock::now();
    CmdResult r = run_cmd(h.cmd(c.mode));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    expect_error(r, 1, c.what, h.out);
    EXPECT_LT(secs, 10.0) << "not prompt";
    EXPECT_FALSE(process_alive(h.host_pid())) << "host left running";
  }
}

TEST(CliErrors, SlowHostIsWaitedForAndTimeoutEndsTheRun) {
  CB_REQUIRE_REFERENCE();
  std::string server;
  for (auto& a : server_argv("oracle")) server += " " + shell_quote(a);
  {
    HostCase h("host-slow");
    CmdResult r = run_cmd(h.cmd("slow-start") + " 3.5" + server);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("msg=\"waiting on pre-image host\" module=vm step="), std::string::npos)
        << r.err;
    // The run still reaches the reference's final state.
    EXPECT_TRUE(read_bytes(h.out + "/out.bin.gz") ==
                read_bytes(vectors_dir("oracle") + "/final.bin.gz"));
    EXPECT_FALSE(process_alive(h.host_pid()));
  }
  {
    HostCase h("host-timeout");
    auto t0 = Clock::now();
    CmdResult r = run_cmd(h.cmd("slow-start", "--host-timeout-ms 500") + " 30" + server);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    expect_error(r, 1, "500 ms", h.out);
    EXPECT_LT(secs, 10.0);
    EXPECT_FALSE(process_alive(h.host_pid())) << "host left running";
  }
}

TEST(CliErrors, InterruptEndsTheRunWith130) {
  CB_REQUIRE_REFERENCE();
  HostCase h("host-interrupt");
  std::string server;
  for (auto& a : server_argv("oracle")) server += " " + shell_quote(a);
  std::string cmd = h.cmd("slow-start", "") + " 60" + server;
  CmdResult r = run_cmd("sh -c " + shell_quote(cmd + " & p=$!; sleep 1.5; kill -INT $p; wait $p"));
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("command interrupted"), std::string::npos) << r.err;
  EXPECT_EQ(list_dir(h.out), std::vector<std::string>{});
  EXPECT_FALSE(process_alive(h.host_pid())) << "host left running";
}

TEST(CliErrors, GuestPanicAndGuestExitCode) {
  std::string dir = temp_dir("guest-exit");
  const std::string elf = std::string(CB_SOURCE_DIR) + "/tests/guests/elf/";
  auto load = [&](const std::string& name) {
    CmdResult r = run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " +
                          shell_quote(elf + name + ".elf") + " --out " +
                          shell_quote(dir + "/" + name + ".bin.gz") + " --meta " +
                          shell_quote(dir + "/" + name + ".json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  load("panic");
  load("exit3");
  // The reference VM panics (Go panic, process exit code 2; op-challenger: ErrVMPanic).
  CmdResult r = run_cmd(cannonball() + " run --input " + shell_quote(dir + "/panic.bin.gz") +
                        " --output " + shell_quote(dir + "/panic-out.bin.gz") + " --meta " +
                        shell_quote(dir + "/panic.json"));
  expect_error(r, 2, "invalid instruction: 46000000");
  EXPECT_NE(r.err.find("text=\"panic guest: executing an invalid instruction\\n\""),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/panic-out.bin.gz"));
  // Also with a host (op-challenger always passes one) and during a proof step.
  r = run_cmd(cannonball() + " run --input " + shell_quote(dir + "/panic.bin.gz") +
              " --output '' --meta '' " + "--proof-at always --proof-fmt " +
              shell_quote(dir + "/pp-%d.json") + " -- sleep 30");
  expect_error(r, 2, "invalid instruction: 46000000");

  // A guest exit code is in the state; cannon itself succeeds.
  r = run_cmd(cannonball() + " run --input " + shell_quote(dir + "/exit3.bin.gz") + " --output " +
              shell_quote(dir + "/exit3-out.bin.gz") + " --meta " +
              shell_quote(dir + "/exit3.json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("msg=\"Execution stopped\" module=vm exited=true code=3"), std::string::npos)
      << r.err;
  State s = load_state_file(dir + "/exit3-out.bin.gz");
  EXPECT_TRUE(s.exited);
  EXPECT_EQ(s.exit_code, 3);
  r = run_cmd(cannonball() + " witness --input " + shell_quote(dir + "/exit3-out.bin.gz"));
  EXPECT_NE(r.out.find("\"exited\": true,\n  \"exitCode\": 3\n}"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
