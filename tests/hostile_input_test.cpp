// Hostile input and crashes (issue 10): one test per row of the table, plus the extra
// cases it lists. Each bad input must end in exactly one "error: " line and exit 1 (or a
// correct result) in bounded time and memory; the commands run under `ulimit -v` so that an
// unbounded allocation fails the test instead of the machine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_helpers.h"
#include "host/file_io.h"
#include "host/go_format.h"
#include "interp/elf_loader.h"
#include "interp/state_io.h"
#include "memory/page_pool.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// Address-space cap for the commands under test (the CLI itself needs ~100 MB; the sanitizer
// build reserves terabytes of shadow memory, so there the cap is left out).
// The whole command line is grouped, so run_cmd's redirections apply to all of it.
std::string capped(const std::string& cmd) {
#if defined(__SANITIZE_ADDRESS__)
  return "( " + cmd + " )";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return "( " + cmd + " )";
#else
  return "( ulimit -v 2000000; " + cmd + " )";
#endif
#else
  return "( ulimit -v 2000000; " + cmd + " )";
#endif
}

int error_lines(const std::string& err) {
  int n = 0;
  for (size_t p = 0; (p = err.find("error: ", p)) != std::string::npos; ++p)
    if (p == 0 || err[p - 1] == '\n') ++n;
  return n;
}

// Exit 1, exactly one error line containing `what`, within `max_s` seconds.
void expect_one_error(const std::string& cmd, const std::string& what, double max_s = 20) {
  auto t0 = Clock::now();
  CmdResult r = run_cmd(capped(cmd));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.err;
  EXPECT_EQ(error_lines(r.err), 1) << cmd << "\n" << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << "missing \"" << what << "\" in:\n" << r.err;
  EXPECT_LT(secs, max_s) << cmd;
}

std::string hello() { return vectors_dir("hello") + "/initial.bin.gz"; }

// ---------------------------------------------------------------------------------------------
// Row 1: load-elf of an ELF whose segment has p_memsz = 1 TiB.

std::vector<uint8_t> exit3() {
  return read_file(std::string(CB_SOURCE_DIR) + "/tests/guests/elf/exit3.elf");
}
void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.at(off + i) = uint8_t(v >> (56 - 8 * i));
}
constexpr size_t kPh0Memsz = 64 + 40;  // program header 0 (PT_LOAD at 0x10000), p_memsz

TEST(HostileInput, ElfSegmentOfOneTebibyteIsRefusedBeforeAllocating) {
  std::vector<uint8_t> elf = exit3();
  put64(elf, kPh0Memsz, uint64_t{1} << 40);
  try {
    (void)load_elf(elf);
    FAIL() << "a 1 TiB segment was loaded";
  } catch (const ElfError& e) {
    // The default limit is the memory budget (--max-memory).
    EXPECT_NE(std::string(e.what()).find("above the limit of " + std::to_string(memory_budget()) +
                                         " bytes"),
              std::string::npos)
        << e.what();
  }
  // The limit is a parameter: the original segment fits 1 MiB, not 64 bytes.
  EXPECT_NO_THROW((void)load_elf(exit3(), uint64_t{1} << 20));
  EXPECT_THROW((void)load_elf(exit3(), 64), ElfError);

  std::string dir = temp_dir("hostile-elf");
  std::ofstream(dir + "/big.elf", std::ios::binary)
      .write(reinterpret_cast<const char*>(elf.data()), long(elf.size()));
  expect_one_error(cannonball() + " load-elf --type multithreaded64-5 --path " + dir +
                       "/big.elf --out " + dir + "/s.bin.gz --meta ''",
                   "above the limit", 10);
  EXPECT_FALSE(fs::exists(dir + "/s.bin.gz"));
  // /dev/zero as an ELF: refused from its first chunk.
  expect_one_error(
      cannonball() + " load-elf --type multithreaded64-5 --path /dev/zero --out '' --meta ''",
      "not an ELF file", 10);
}

// ---------------------------------------------------------------------------------------------
// Row 2: run --input /dev/zero, or any endless raw input.

TEST(HostileInput, EndlessStateInputsEndInOneErrorLine) {
  // The version byte first, as the reference reads it.
  expect_one_error(cannonball() + " run --input /dev/zero --output '' --meta ''",
                   "state version 0 (singlethreaded) is not supported", 10);
  std::string dir = temp_dir("hostile-fifo");
  const std::string fifo = dir + "/in.bin", fifo_gz = dir + "/in.bin.gz";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(fifo_gz.c_str(), 0600), 0);
  // Endless writers, bounded in time whatever happens (they die of SIGPIPE when we stop
  // reading). Nothing is ever written to disk.
  auto feed = [](const std::string& header_printf, const std::string& target, bool gzip) {
    return "(timeout 30 sh -c \"printf '" + header_printf + "'; cat /dev/zero\"" +
           (gzip ? " | gzip -1" : "") + " > " + target + " 2>/dev/null &) ; ";
  };
  // Version 8, then 2^40 pages declared: refused from the header (the memory budget).
  expect_one_error(feed("\\010\\000\\000\\001\\000\\000\\000\\000\\000", fifo, false) +
                       cannonball() + " run --input " + fifo + " --output '' --meta ''",
                   "more than the memory budget", 10);
  // The same through gzip (the decompressed header decides).
  expect_one_error(feed("\\010\\000\\000\\001\\000\\000\\000\\000\\000", fifo_gz, true) +
                       cannonball() + " run --input " + fifo_gz + " --output '' --meta ''",
                   "more than the memory budget", 10);
  // Version 8 and zeros: the state ends after its last field (0 pages, 0 threads), as the
  // reference's stream decoder stops; the rest of the stream is never read.
  expect_one_error(
      feed("\\010", fifo, false) + cannonball() + " run --input " + fifo + " --output '' --meta ''",
      "no thread on its active thread stack", 10);
  // trace and witness read states the same way.
  expect_one_error(cannonball() + " trace --input /dev/zero --dir " + dir + "/T",
                   "state version 0 (singlethreaded) is not supported", 10);
  expect_one_error(cannonball() + " witness --input /dev/zero",
                   "state version 0 (singlethreaded) is not supported", 10);
  // The streaming reader stops exactly at the end of a real state (bytes after it are never
  // read), and a state cut short is an error, not a partial state.
  std::vector<uint8_t> bytes = read_bytes(hello());
  {
    std::vector<uint8_t> padded = bytes;
    padded.resize(bytes.size() + 1000, 0xAB);
    write_file_atomic(dir + "/padded.bin", padded);
    InputStream in(dir + "/padded.bin");
    State s = read_state(in);
    EXPECT_EQ(in.remaining_hint(), 1000u);
    EXPECT_EQ(s.serialize(), bytes);
  }
  write_file_atomic(dir + "/cut.bin", std::span<const uint8_t>(bytes).first(100));
  InputStream cut(dir + "/cut.bin");
  EXPECT_THROW(read_state(cut), std::exception);
}

TEST(HostileInput, SigtermWhileWaitingForInputEndsTheRun) {
  std::string dir = temp_dir("hostile-sigterm");
  const std::string fifo = dir + "/in.bin";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A writer that opens the pipe and sends nothing; run waits in read.
  auto t0 = Clock::now();
  CmdResult r =
      run_cmd("( (timeout 20 sleep 15 > " + fifo + " &); " + cannonball() + " run --input " + fifo +
              " --output '' --meta '' & P=$!; sleep 0.5; kill -TERM $P; wait $P )");
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("command interrupted"), std::string::npos) << r.err;
  EXPECT_LT(secs, 5);
}

// ---------------------------------------------------------------------------------------------
// Row 3: prove --hash-at-file /dev/zero, and every list file.

class HostileTrace : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_dir = temp_dir("hostile-trace");
    CmdResult r =
        run_cmd(cannonball() + " trace --input " + shell_quote(hello()) + " --dir " + s_dir +
                "/T --checkpoint-every 5000 --hashes-at 100,150 --progress-every 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static std::string trace() { return s_dir + "/T"; }
  static std::string s_dir;
};
std::string HostileTrace::s_dir;

TEST_F(HostileTrace, ListFilesAreBoundedAndChecked) {
  if (!fs::exists(hello())) GTEST_SKIP() << "no reference vectors";
  const std::string p = cannonball() + " prove --dir " + trace() + " --progress-every 0 ";
  expect_one_error(p + "--hash-at-file /dev/zero", "not a text file (a NUL byte at offset 0)", 10);
  expect_one_error(p + "--steps-file /dev/zero", "not a text file", 10);
  expect_one_error(cannonball() + " bisect --dir " + trace() + " --claims /dev/zero",
                   "not a text file", 10);
  // An endless text stream: the 64 MiB cap, in bounded memory.
  const std::string fifo = s_dir + "/endless.txt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_one_error(
      "(timeout 30 yes 1 > " + fifo + " 2>/dev/null &); " + p + "--hash-at-file " + fifo,
      "is larger than the limit of 67108864 bytes", 20);
  // A good list still works.
  std::ofstream(s_dir + "/steps.txt") << "100\n150 0xabc\n";
  CmdResult r = run_cmd(p + "--hash-at-file " + s_dir + "/steps.txt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto ref = read_hashes(vectors_dir("hello") + "/hashes.txt");
  std::string want;
  for (auto& [s, h] : ref)
    if (s == 100 || s == 150) want += std::to_string(s) + " " + h + "\n";
  EXPECT_EQ(r.out, want);
}

// ---------------------------------------------------------------------------------------------
// Row 4 and the flag rows: numeric flags are bounded and checked.

TEST_F(HostileTrace, NumericFlagsAreBounded) {
  if (!fs::exists(hello())) GTEST_SKIP() << "no reference vectors";
  const std::string p =
      cannonball() + " prove --dir " + trace() + " --hash-at 100 --progress-every 0 ";
  expect_one_error(p + "-j 65537", "65537", 10);
  expect_one_error(p + "-j -1", "-1", 10);
  EXPECT_EQ(run_cmd(p + "-j 256").exit_code, 0);
  expect_one_error(
      cannonball() + " run --input " + hello() + " --output '' --meta '' --host-timeout-ms -1",
      "--host-timeout-ms", 10);
  expect_one_error(
      cannonball() + " trace --input " + hello() + " --dir " + s_dir + "/T2 --checkpoint-every -1",
      "--checkpoint-every", 10);
  expect_one_error(
      cannonball() + " trace --input " + hello() + " --dir " + s_dir + "/T2 --zstd-level 99",
      "--zstd-level", 10);
  // trace --stop-at =0 is accepted like run's: a trace of just the start.
  CmdResult r =
      run_cmd(cannonball() + " trace --input " + hello() + " --dir " + s_dir + "/T0 --stop-at =0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto hashes = read_hashes(s_dir + "/T0/hashes.txt");
  ASSERT_EQ(hashes.size(), 1u);
  EXPECT_EQ(hashes[0].first, 0u);
  EXPECT_EQ(hashes[0].second, read_hashes(vectors_dir("hello") + "/hashes.txt").at(0).second);
  expect_one_error(
      cannonball() + " trace --input " + hello() + " --dir " + s_dir + "/T3 --stop-at %5",
      "trace stops at one step", 10);
}

// ---------------------------------------------------------------------------------------------
// Rows 5 and 6: file-name patterns, exactly Go's fmt.Sprintf or refused.

TEST(HostileInput, FileNamePatternsFormatLikeGo) {
  // Expected strings: Go 1.22 fmt.Sprintf(pattern, uint64(v)), per the fmt documentation.
  struct Row {
    const char* pattern;
    uint64_t v;
    const char* go;
  } rows[] = {
      {"proof-%d.json", 42, "proof-42.json"},
      {"%08d", 42, "00000042"},
      {"%-8d|", 42, "42      |"},
      {"%+d", 42, "+42"},
      {"% d", 42, " 42"},
      {"%+05d", 42, "+0042"},
      {"%-08d|", 42, "42      |"},
      {"%8.3d", 7, "     007"},
      {"%08.3d", 7, "     007"},
      {"%.0d", 0, ""},
      {"%5.0d|", 0, "     |"},
      {"%.d", 5, "5"},
      {"%x", 255, "ff"},
      {"%#x", 255, "0xff"},
      {"%#X", 255, "0XFF"},
      {"%#08x", 255, "0x000000ff"},  // Go pads the digits, then adds the prefix (unlike C)
      {"%o", 8, "10"},
      {"%#o", 8, "010"},
      {"%#o", 0, "0"},
      {"%O", 8, "0o10"},
      {"%b", 5, "101"},
      {"%v", 42, "42"},
      {"%+v", 42, "42"},
      {"%#v", 42, "0x2a"},
      {"%%d-%d", 3, "%d-3"},
      {"%5%%d", 3, "%3"},
      {"%d%d", 3, "3%!d(MISSING)"},
      {"%s", 3, "%!s(uint64=3)"},
      {"%5s", 3, "%!s(uint64=    3)"},
      {"x", 3, "x%!(EXTRA uint64=3)"},
      {"x%", 3, "x%!(NOVERB)%!(EXTRA uint64=3)"},
      {"%d", UINT64_MAX, "18446744073709551615"},
  };
  for (const Row& r : rows) EXPECT_EQ(go_sprintf_u64(r.pattern, r.v), r.go) << r.pattern;
  // 120 digits: exact, never truncated.
  EXPECT_EQ(go_sprintf_u64("D/%0120d.json", 2), "D/" + std::string(119, '0') + "2.json");
  EXPECT_EQ(go_sprintf_u64("%4095d", 1).size(), 4095u);
  // Refused quickly: names no file system takes, verbs that are not a number.
  auto t0 = Clock::now();
  EXPECT_THROW((void)go_sprintf_u64("D/%3000000000d.json", 1), FileNamePatternError);
  EXPECT_THROW((void)go_sprintf_u64("D/%.99999999999999999999d", 1), FileNamePatternError);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 0.1);
  EXPECT_THROW((void)go_sprintf_u64("%4096d", 1), FileNamePatternError);
  EXPECT_THROW((void)go_sprintf_u64(std::string(4000, 'a') + "%200d", 1), FileNamePatternError);
  EXPECT_THROW((void)go_sprintf_u64("%c", 65), FileNamePatternError);
  EXPECT_THROW((void)go_sprintf_u64("%[1]d", 1), FileNamePatternError);
  EXPECT_THROW((void)go_sprintf_u64("%*d", 1), FileNamePatternError);
}

TEST_F(HostileTrace, WidePatternsWriteOneFilePerStepAndHugeOnesAreRefused) {
  if (!fs::exists(hello())) GTEST_SKIP() << "no reference vectors";
  std::string d = s_dir + "/wide";
  fs::create_directories(d);
  CmdResult r = run_cmd(cannonball() + " run --input " + hello() +
                        " --output '' --meta '' --proof-at %2 --stop-at =5" + " --proof-fmt " + d +
                        "/%0120d.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> want;
  for (int s : {0, 2, 4}) want.push_back(std::string(119, '0') + std::to_string(s) + ".json");
  EXPECT_EQ(list_dir(d), want);
  // prove expands the same pattern the same way (one formatting function).
  std::string d2 = s_dir + "/wide2";
  r = run_cmd(cannonball() + " prove --dir " + trace() +
              " --steps 2 --progress-every 0 --proof-fmt " + d2 + "/%0120d.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(list_dir(d2), std::vector<std::string>{want[1]});
  EXPECT_EQ(read_text(d2 + "/" + want[1]), read_text(d + "/" + want[1]));
  // A huge width: one error line at once, nothing written.
  std::string d3 = s_dir + "/huge";
  fs::create_directories(d3);
  expect_one_error(cannonball() + " run --input " + hello() +
                       " --output '' --meta '' --proof-at %2 --stop-at =5" + " --proof-fmt " + d3 +
                       "/%3000000000d.json",
                   "invalid file name pattern", 5);
  expect_one_error(cannonball() + " prove --dir " + trace() + " --steps 2 --proof-fmt " + d3 +
                       "/%3000000000d.json",
                   "invalid file name pattern", 5);
  EXPECT_TRUE(list_dir(d3).empty());
}

// ---------------------------------------------------------------------------------------------
// Row 7: kill -9 during a final --output write leaves no temporary behind.

// A raw state of `pages` random pages and one thread (the hello state's), for a slow write.
std::string big_state(const std::string& dir, uint64_t pages) {
  std::vector<uint8_t> s = read_bytes(hello());
  uint64_t old_pages = 0;
  for (int i = 0; i < 8; ++i) old_pages = old_pages << 8 | s[1 + i];
  const size_t rest = 9 + old_pages * 4104;
  std::vector<uint8_t> out(s.begin(), s.begin() + 1);
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t((old_pages + pages) >> (56 - 8 * i)));
  out.insert(out.end(), s.begin() + 9, s.begin() + long(rest));
  uint64_t x = 12345;
  for (uint64_t p = 0; p < pages; ++p) {
    const uint64_t index = (uint64_t{1} << 40) + p;  // far from the guest's pages
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(index >> (56 - 8 * i)));
    for (int i = 0; i < 4096; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      out.push_back(uint8_t(x));
    }
  }
  out.insert(out.end(), s.begin() + long(rest), s.end());
  std::string path = dir + "/big.bin";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(out.data()), long(out.size()));
  return path;
}

// True when process `pid` has a file open in `dir` (a named or an O_TMPFILE temporary).
bool writes_into(pid_t pid, const std::string& dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code ec2;
    std::string target = fs::read_symlink(e.path(), ec2).string();
    if (!ec2 && target.rfind(dir + "/", 0) == 0) return true;
  }
  return false;
}

TEST(HostileInput, KilledOutputWritesLeaveNoTemporaryFile) {
  if (!fs::exists(hello())) GTEST_SKIP() << "no reference vectors";
  std::string dir = fs::canonical(temp_dir("hostile-kill")).string();
  std::string out_dir = dir + "/out";
  fs::create_directories(out_dir);
  std::string input = big_state(dir, 6000);  // ~24 MiB of random pages: gzip takes a while
  int killed_while_writing = 0;
  for (int round = 0; round < 5; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl(cannonball().c_str(), "cannonball", "run", "--input", input.c_str(), "--output",
              (out_dir + "/final.bin.gz").c_str(), "--meta", "", "--stop-at", "=0",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto t0 = Clock::now();
    bool seen = false;
    while (Clock::now() - t0 < std::chrono::seconds(20)) {
      if (writes_into(pid, out_dir)) {
        seen = true;
        break;
      }
      int st;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st;
      ::waitpid(pid, &st, 0);
    }
    killed_while_writing += seen;
  }
  EXPECT_GE(killed_while_writing, 3) << "the kills did not land inside the write";
  // A stale named temporary of a dead writer (the fallback's, or one killed between linkat
  // and rename), and one of a live process (this test), which must stay.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  int st;
  ::waitpid(dead, &st, 0);
  std::ofstream(out_dir + "/final.bin.gz.tmp." + std::to_string(dead) + ".AbCdEf") << "stale";
  const std::string live = out_dir + "/other.bin.tmp." + std::to_string(::getpid()) + ".AbCdEf";
  std::ofstream(live) << "live";
  // The next run into that folder.
  CmdResult r = run_cmd(cannonball() + " run --input " + hello() + " --output " + out_dir +
                        "/final.bin.gz --meta '' --stop-at =10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> want{"final.bin.gz", fs::path(live).filename().string()};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(list_dir(out_dir), want);
}

// ---------------------------------------------------------------------------------------------
// Row 8: a killed trace keeps its hashes up to its last checkpoint.

TEST(HostileInput, KilledTraceKeepsItsHashesAndARerunRedoesCleanly) {
  const std::string input = vectors_dir("threads") + "/initial.bin.gz";
  if (!fs::exists(input)) GTEST_SKIP() << "no reference vectors";
  std::string dir = temp_dir("hostile-trace-kill") + "/T";
  auto ckpts = [&] {
    std::vector<uint64_t> steps;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      std::string n = e.path().filename().string();
      if (n.size() == 30 && n.rfind("ckpt-", 0) == 0 && n.substr(25) == ".cbck")
        steps.push_back(std::stoull(n.substr(5, 20)));
    }
    std::sort(steps.begin(), steps.end());
    return steps;
  };
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(cannonball().c_str(), "cannonball", "trace", "--input", input.c_str(), "--dir",
            dir.c_str(), "--checkpoint-every", "100000000", "--hashes-at", "%10000000",
            "--progress-every", "0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto t0 = Clock::now();
  while (ckpts().size() < 4 && Clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, SIGKILL);
  int st;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the trace ended before it could be killed";
  std::vector<uint64_t> have = ckpts();
  ASSERT_GE(have.size(), 4u);
  const uint64_t third = have[2];  // checkpoints at 0, 1e8, 2e8, 3e8, ...
  EXPECT_EQ(third, 200'000'000u);
  // Every multiple of 1e7 up to the third checkpoint, with the reference's hash.
  std::map<uint64_t, std::string> ref;
  for (auto& [s, h] : read_hashes(vectors_dir("threads") + "/hashes.txt")) ref[s] = h;
  std::map<uint64_t, std::string> got;
  for (auto& [s, h] : read_hashes(dir + "/hashes.txt")) got[s] = h;
  for (uint64_t s = 0; s <= third; s += 10'000'000) {
    ASSERT_TRUE(got.count(s)) << "hash of step " << s << " lost";
    if (ref.count(s)) EXPECT_EQ(got[s], ref[s]) << s;
  }
  // A rerun into the same directory starts over cleanly.
  CmdResult r = run_cmd(
      cannonball() + " trace --input " + input + " --dir " + dir +
      " --checkpoint-every 100000000 --hashes-at %10000000 --stop-at 30000000 --progress-every 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ckpts(), (std::vector<uint64_t>{0, 30'000'000}));
  auto again = read_hashes(dir + "/hashes.txt");
  ASSERT_EQ(again.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(again[i].first, i * 10'000'000);
    EXPECT_EQ(again[i].second, ref[i * 10'000'000]);
  }
  EXPECT_NE(read_text(dir + "/trace.json").find("\"complete\": true"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// bisect with claims that disagree and then agree again.

TEST_F(HostileTrace, InconsistentClaimsAreReportedWithTheirSteps) {
  if (!fs::exists(hello())) GTEST_SKIP() << "no reference vectors";
  std::map<uint64_t, std::string> ref;
  for (auto& [s, h] : read_hashes(vectors_dir("hello") + "/hashes.txt")) ref[s] = h;
  const std::string bad = "0x" + std::string(64, 'e');
  // Free: steps 100 and 150 are in the trace's hashes.txt. Claims agree at 0, differ at
  // 100, agree again at 150.
  {
    std::ofstream f(s_dir + "/claims1.txt");
    f << "0 " << ref[0] << "\n100 " << bad << "\n150 " << ref[150] << "\n";
  }
  expect_one_error(
      cannonball() + " bisect --dir " + trace() + " --claims " + s_dir + "/claims1.txt",
      "differs at step 100", 20);
  // Executed: steps 120 and 130 are nowhere in the trace; the ends (0, 150) agree.
  {
    std::ofstream f(s_dir + "/claims2.txt");
    f << "0 " << ref[0] << "\n120 " << ref[120] << "\n130 " << bad << "\n150 " << ref[150] << "\n";
  }
  CmdResult r =
      run_cmd(cannonball() + " bisect --dir " + trace() + " --claims " + s_dir + "/claims2.txt");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("differs at step 130"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("agrees again at step 150"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("no difference"), std::string::npos) << r.out;
  // Consistent claims still give "no difference".
  {
    std::ofstream f(s_dir + "/claims3.txt");
    f << "0 " << ref[0] << "\n120 " << ref[120] << "\n130 " << ref[130] << "\n150 " << ref[150]
      << "\n";
  }
  r = run_cmd(cannonball() + " bisect --dir " + trace() + " --claims " + s_dir + "/claims3.txt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no difference"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cb
