// multicannon's command surface and the --debug-info statistics through the CLI (issue 11):
// --version/-v (with the commit git reports for this checkout), list, Go flag syntax
// (-flag value, -flag=value, --flag value, --flag=value give the same result), the one-line
// error for a state of another version, the help of --pprof.cpu, and debug-info files that are
// identical with --jit=on and --jit=off and count what the isa guest does.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_helpers.h"
#include "test_util.h"

namespace cb::test {
namespace {

std::string git_head() {
  CmdResult r = run_cmd("git -C " + shell_quote(CB_SOURCE_DIR) + " rev-parse HEAD");
  if (r.exit_code != 0) return "";
  return r.out.substr(0, r.out.find('\n'));
}

TEST(CliDeploy, VersionPrintsVersionAndGitCommit) {
  const std::string head = git_head();
  for (const char* flag : {"--version", "-v"}) {
    CmdResult r = run_cmd(shell_quote(cannonball()) + " " + flag);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("cannonball version 0.1.0-", 0), 0u) << r.out;
    if (head.empty()) continue;  // not a git checkout: the commit is "unknown"
    EXPECT_NE(r.out.find("cannonball version 0.1.0-" + head.substr(0, 8) + "\n"), std::string::npos)
        << r.out;
    // The build may be of a tree with uncommitted changes ("-dirty"), never of another commit
    // (a binary built before the last commit fails here: rebuild it).
    EXPECT_NE(r.out.find("\ncommit " + head), std::string::npos) << r.out;
  }
}

TEST(CliDeploy, ListNamesTheOneVmTypeThisBuildRuns) {
  CmdResult r = run_cmd(shell_quote(cannonball()) + " list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Available cannon versions:\nfilename: cannonball\tversion: multithreaded64-5 (8)\n");
}

TEST(CliDeploy, GoFlagSyntaxGivesTheSameRun) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = temp_dir("go_flags");
  const std::string in = shell_quote(vectors_dir("isa") + "/initial.bin.gz");
  const std::vector<std::string> forms = {
      "run -input " + in + " -output " + dir +
          "/a.bin -meta '' -stop-at =5000 -proof-at =700 -proof-fmt " + dir + "/a-%d.json",
      "run -input=" + in + " -output=" + dir +
          "/b.bin -meta= -stop-at==5000 -proof-at==700 -proof-fmt=" + dir + "/b-%d.json",
      "run --input " + in + " --output " + dir +
          "/c.bin --meta '' --stop-at =5000 --proof-at =700 --proof-fmt " + dir + "/c-%d.json",
      "run --input=" + in + " --output=" + dir +
          "/d.bin --meta= --stop-at==5000 --proof-at==700 --proof-fmt=" + dir + "/d-%d.json",
  };
  for (const auto& f : forms) {
    CmdResult r = run_cmd(shell_quote(cannonball()) + " " + f);
    ASSERT_EQ(r.exit_code, 0) << f << "\n" << r.err;
  }
  const std::string want_proof = read_text(reference_proof_path("isa", 700));
  const std::vector<uint8_t> state = read_bytes(dir + "/a.bin");
  for (const char* x : {"a", "b", "c", "d"}) {
    EXPECT_EQ(read_bytes(dir + "/" + x + ".bin"), state) << x;
    EXPECT_EQ(read_text(dir + "/" + x + "-700.json"), want_proof) << x;
  }
  // A value that looks like a flag stays a value; an unknown single-dash flag is Go's error.
  CmdResult w = run_cmd(shell_quote(cannonball()) + " witness -input " + dir + "/a.bin -output -");
  EXPECT_EQ(w.exit_code, 0) << w.err;
  CmdResult bad = run_cmd(shell_quote(cannonball()) + " run -input " + in + " -nosuchflag 3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "error: flag provided but not defined: -nosuchflag\n");
}

TEST(CliDeploy, StateOfAnotherVersionIsNamedInOneLine) {
  CB_REQUIRE_REFERENCE();
  std::vector<uint8_t> bytes = read_bytes(vectors_dir("isa") + "/initial.bin.gz");
  ASSERT_EQ(bytes.at(0), 8);
  bytes[0] = 7;
  const std::string path = temp_dir("old_version") + "/v7.bin";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  const std::string msg =
      "state version 7 (multithreaded64-4) is not supported by this build: it runs "
      "multithreaded64-5";
  CmdResult r =
      run_cmd(shell_quote(cannonball()) + " run --input " + path + " --output '' --meta ''");
  EXPECT_EQ(r.exit_code, 1);
  // After the reference's "no metadata file" log line: the one error line, last.
  const std::string line = "error: failed to load state: " + msg + "\n";
  ASSERT_GE(r.err.size(), line.size()) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - line.size()), line) << r.err;
  size_t errors = 0;
  for (size_t p = r.err.find("error"); p != std::string::npos; p = r.err.find("error", p + 1))
    ++errors;
  EXPECT_EQ(errors, 1u) << r.err;
  CmdResult w = run_cmd(shell_quote(cannonball()) + " witness --input " + path);
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_NE(w.err.find(msg), std::string::npos) << w.err;
}

TEST(CliDeploy, PprofFlagSaysItIsIgnored) {
  CmdResult r = run_cmd(shell_quote(cannonball()) + " run --help");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--pprof.cpu"), std::string::npos);
  EXPECT_NE(r.out.find("accepted and ignored"), std::string::npos) << r.out;
}

TEST(CliDeploy, DebugInfoIsIdenticalWithJitOnAndOffAndCountsTheIsaGuest) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = temp_dir("debug_info");
  std::string text[2];
  for (int jit = 0; jit < 2; ++jit) {
    const std::string out = dir + "/debug-" + std::to_string(jit) + ".json";
    CmdResult r =
        run_cmd(shell_quote(cannonball()) + " run --input " +
                shell_quote(vectors_dir("isa") + "/initial.bin.gz") +
                " --output '' --meta '' --jit=" + (jit ? "on" : "off") + " --debug-info " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    text[jit] = read_text(out);
  }
  EXPECT_EQ(text[0], text[1]);
  auto j = nlohmann::json::parse(text[0]);
  EXPECT_EQ(j["total_steps"], 418812);
  EXPECT_GT(j["rmw_success_count"].get<uint64_t>(), 0u);
  EXPECT_GT(j["rmw_fail_count"].get<uint64_t>(), 0u);
  EXPECT_GT(j["forced_preemption_count"].get<uint64_t>(), 0u);
  EXPECT_GT(j["max_steps_between_ll_and_sc"].get<uint64_t>(), 0u);
  // The guest's code is at 0x120000000, above the reference's 128 MiB decode cache: every step
  // that runs an instruction is a miss, i.e. all but the preemption steps and the one pop of
  // its exited second thread.
  EXPECT_EQ(j["instruction_cache_miss_count"].get<uint64_t>(),
            418812u - j["forced_preemption_count"].get<uint64_t>() - 1);
  EXPECT_EQ(j["highest_icache_miss_pc"].get<std::string>().rfind("0x120", 0), 0u)
      << j["highest_icache_miss_pc"];
}

// --debug: the reference's traceback of the running thread at the end, from --meta symbols.
TEST(CliDeploy, DebugPrintsAGuestTracebackFromTheMetaSymbols) {
  CB_REQUIRE_REFERENCE();
  const std::string in = shell_quote(vectors_dir("hello") + "/initial.bin.gz");
  const std::string meta = shell_quote(vectors_dir("hello") + "/meta.json");
  const std::string dir = temp_dir("debug_trace");
  CmdResult r = run_cmd(shell_quote(cannonball()) + " run --input " + in + " --meta " + meta +
                        " --output " + dir + "/s.bin --stop-at =200000 --debug");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The final state's pc, from the state file the same run wrote (witness is another command).
  State s = load_state_file(dir + "/s.bin");
  char head[96];
  std::snprintf(head, sizeof head, "traceback at pc=%llx. step=200000\n",
                static_cast<unsigned long long>(s.current().cpu.pc));
  const size_t at = r.out.find(head);
  ASSERT_NE(at, std::string::npos) << r.out;
  // Frames: "\t<depth> <target hex> in <symbol> caller=<8+ hex>", depth counting from 0; the
  // innermost frame is the function the guest is in, the outermost the entry (_main).
  std::istringstream lines(r.out.substr(at + std::strlen(head)));
  std::string line;
  int depth = 0;
  while (std::getline(lines, line) && !line.empty() && line[0] == '\t') {
    std::istringstream f(line);
    int d;
    std::string target, in_word, sym, caller;
    f >> d >> target >> in_word >> sym >> caller;
    EXPECT_EQ(d, depth++) << line;
    EXPECT_EQ(in_word, "in") << line;
    EXPECT_FALSE(sym.empty() || sym[0] == '!') << line;  // a symbol of meta.json, not !unknown/!gap
    EXPECT_EQ(caller.rfind("caller=", 0), 0u) << line;
  }
  EXPECT_GT(depth, 3) << r.out;
  EXPECT_NE(r.out.find(" in _main caller="), std::string::npos) << r.out;
  CmdResult no_meta =
      run_cmd(shell_quote(cannonball()) + " run --input " + in + " --meta '' --output '' --debug");
  EXPECT_EQ(no_meta.exit_code, 1);
  EXPECT_NE(no_meta.err.find("cannot enable debug mode without a metadata file"),
            std::string::npos);
}

}  // namespace
}  // namespace cb::test
