// The on-disk checkpoint store (scheduler/checkpoint_store.h): a trace killed with SIGKILL
// part-way still loads every completed checkpoint, and damaged files are reported clearly,
// never loaded as a wrong state.
#include "scheduler/checkpoint_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "checkpoint_test_util.h"
#include "interp/vm.h"
#include "scheduler/trace.h"

extern char** environ;

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

constexpr const char* kChildEnv = "CB_CHECKPOINT_CHILD_DIR";

// Run only as the child of KilledMidRunKeepsEveryCompletedCheckpoint (re-executed binary).
TEST(CheckpointStoreChild, RecordTrace) {
  const char* dir = std::getenv(kChildEnv);
  if (!dir) GTEST_SKIP() << "helper of CheckpointStore.KilledMidRunKeepsEveryCompletedCheckpoint";
  call_main(cli::trace_main, "trace",
            {"--input", reference_dir() + "/vectors/compute/initial.bin.gz", "--dir", dir,
             "--checkpoint-every", "1000000", "--full-every", "3", "--progress-every", "0", "--jit",
             "off"});
}

size_t count_checkpoints(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".cbck") ++n;
  return n;
}

TEST(CheckpointStore, KilledMidRunKeepsEveryCompletedCheckpoint) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = test::temp_dir("killed");
  std::string filter = "--gtest_filter=CheckpointStoreChild.RecordTrace";
  std::string env = std::string(kChildEnv) + "=" + dir;
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(env.data());
  envp.push_back(nullptr);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  char* argv[] = {self.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Kill it once several checkpoints are on disk: it is then in the middle of running and
  // (often) of writing the next one.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count_checkpoints(dir) < 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the trace finished before it was killed";

  TraceReader tr(dir);
  EXPECT_FALSE(tr.complete());
  ASSERT_GE(tr.checkpoints().steps().size(), 8u);
  EXPECT_EQ(tr.checkpoints().steps().front(), 0u);
  CheckpointPtr last;
  for (uint64_t s : tr.checkpoints().steps()) {
    last = tr.checkpoints().load(s);  // verifies CRCs and the recorded state hash
    EXPECT_EQ(last->step(), s);
    EXPECT_EQ(s % 1000000, 0u);
  }
  // Independently: a plain run from the initial state reaches the same state.
  State s = test::load_state_file(reference_dir() + "/vectors/compute/initial.bin.gz");
  EXPECT_EQ(hex(s.hash()), hex(tr.checkpoints().load(0)->hash()));
  Vm vm(s, nullptr, [](int, const uint8_t*, size_t) {});
  StepStatus st;
  vm.run(last->step(), st);
  EXPECT_EQ(hex(s.hash()), hex(last->hash()));
  // And proving from the killed trace works.
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir, "--steps", std::to_string(last->step() - 7),
                       "--progress-every", "0"}),
            0);
  std::filesystem::remove_all(dir);
}

// A small trace whose files the corruption tests damage.
class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    if (reference_dir().empty()) GTEST_SKIP() << "../shared/reference is absent";
    dir = test::temp_dir("corrupt");
    ASSERT_EQ(call_main(cli::trace_main, "trace",
                        {"--input", reference_dir() + "/vectors/hello/initial.bin.gz", "--dir", dir,
                         "--checkpoint-every", "100000", "--full-every", "3", "--no-sync",
                         "--progress-every", "0"}),
              0);
    // Steps 0 (full), 100000, 200000 (deltas), 300000 (full), 400000, 433041 (deltas).
    ASSERT_EQ(CheckpointReader(dir).steps().size(), 6u);
  }
  void TearDown() override {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string file(uint64_t step) { return dir + "/" + checkpoint_file_name(step); }
  std::vector<uint8_t> read(uint64_t step) { return test::read_bytes(file(step)); }
  void write(uint64_t step, const std::vector<uint8_t>& b) {
    std::ofstream(file(step), std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), b.size());
  }
  std::string load_error(uint64_t step) {
    try {
      CheckpointReader(dir).load(step);
    } catch (const CheckpointError& e) {
      return e.what();
    }
    return "<loaded>";
  }
  std::string dir;
};

TEST_F(Corruption, IntactFilesLoad) {
  CheckpointReader r(dir);
  for (uint64_t s : r.steps()) EXPECT_EQ(r.load(s)->hash(), r.recorded_hash(s));
}

TEST_F(Corruption, FlippedIndexByteIsACheckpointError) {
  // The index frame is the file's last bytes; a damaged page block is found when a run reads
  // it (tests/checkpoint_lazy_test.cpp).
  auto b = read(100000);
  b[b.size() - 8] ^= 0x40;
  write(100000, b);
  std::string e = load_error(100000);
  EXPECT_NE(e.find(checkpoint_file_name(100000)), std::string::npos) << e;
  EXPECT_NE(e.find("index checksum mismatch"), std::string::npos) << e;
  // The delta built on it fails too, naming the damaged file; other chains still load.
  e = load_error(200000);
  EXPECT_NE(e.find(checkpoint_file_name(100000)), std::string::npos) << e;
  EXPECT_EQ(load_error(0), "<loaded>");
  EXPECT_EQ(load_error(400000), "<loaded>");
}

TEST_F(Corruption, DamagedHeaderTruncationAndMissingBase) {
  auto b = read(400000);
  b[20] ^= 1;  // the step field
  write(400000, b);
  EXPECT_NE(load_error(400000).find("header checksum mismatch"), std::string::npos);

  b = read(433041);
  b.resize(b.size() - 10);
  write(433041, b);
  EXPECT_NE(load_error(433041).find("truncated"), std::string::npos) << load_error(433041);

  std::filesystem::remove(file(100000));
  std::string e = load_error(200000);
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  EXPECT_NE(e.find(checkpoint_file_name(100000)), std::string::npos) << e;

  write(300000, {'n', 'o', 'p', 'e'});
  EXPECT_NE(load_error(300000).find("shorter than its header"), std::string::npos);
  // The CLI turns it into one error line and a failure status.
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir, "--steps", "300001", "--progress-every", "0"}),
            1);
}

// Checksums intact but the content is not the state recorded: the hash check catches it.
TEST_F(Corruption, ConsistentChecksumsWrongStateIsCaughtByTheHash) {
  auto b = read(100000);
  auto other = read(0);
  std::memcpy(b.data() + 32, other.data() + 32, 32);  // another checkpoint's state hash
  uint32_t crc = uint32_t(crc32_z(crc32_z(0, nullptr, 0), b.data(), 84));
  b[84] = uint8_t(crc >> 24), b[85] = uint8_t(crc >> 16), b[86] = uint8_t(crc >> 8),
  b[87] = uint8_t(crc);
  write(100000, b);
  std::string e = load_error(100000);
  EXPECT_NE(e.find("was recorded when it was taken"), std::string::npos) << e;
}

TEST_F(Corruption, TemporaryFilesOfInterruptedWritesAreIgnored) {
  write(999, {1, 2, 3});
  std::filesystem::rename(file(999), dir + "/" + checkpoint_file_name(500000) + ".tmpAbCdEf");
  CheckpointReader r(dir);
  EXPECT_EQ(r.steps().size(), 6u);
  EXPECT_EQ(*r.at_or_before(499999), 433041u);
}

}  // namespace
}  // namespace cb
