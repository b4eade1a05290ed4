// Lazily loaded checkpoints (scheduler/checkpoint_store.h format 3, memory/lazy_pages.h):
// loading reads no page bytes; proofs from a lazy checkpoint are byte-identical to proofs
// from a state that was never on disk (JIT on and off) and to a single-proof `run` from the
// initial state; a damaged or vanished block found only when the run touches it stops with
// one error line, not a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "checkpoint_test_util.h"
#include "cli/proof_json.h"
#include "memory/page_pool.h"
#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

[[noreturn]] void throwing_handler(const std::string& m) { throw std::runtime_error(m); }

struct HandlerScope {
  MemoryExhaustedHandler prev = set_memory_exhausted_handler(throwing_handler);
  ~HandlerScope() { set_memory_exhausted_handler(prev); }
};

// Restores `c` and reads every lazy page; returns the memory fault's message ("" if none).
std::string fault_reading_all(const Checkpoint& c) {
  HandlerScope h;
  State s = c.restore();
  try {
    s.memory->load_all_lazy();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

class LazyCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    if (reference_dir().empty()) GTEST_SKIP() << "../shared/reference is absent";
    dir = test::temp_dir("lazy");
    initial = reference_dir() + "/vectors/hello/initial.bin.gz";
    ASSERT_EQ(call_main(cli::trace_main, "trace",
                        {"--input", initial, "--dir", dir, "--checkpoint-every", "100000",
                         "--full-every", "3", "--no-sync", "--progress-every", "0"}),
              0);
  }
  void TearDown() override {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string file(uint64_t step) { return dir + "/" + checkpoint_file_name(step); }
  // The proof of `step` from checkpoint `from`, by run_step_jobs.
  static StepResult prove(const CheckpointPtr& from, uint64_t step, bool jit) {
    StepResult out;
    run_step_jobs(
        {StepRequest{step, true, true}}, [&](uint64_t) { return from; }, nullptr,
        JobOptions{1, jit}, [&](StepResult&& r) { out = std::move(r); });
    return out;
  }
  std::string dir, initial;
};

TEST_F(LazyCheckpoint, ProofsEqualThoseFromTheFullStateJitOnAndOff) {
  CheckpointReader r(dir);
  const uint64_t ck = 300000;  // a full checkpoint; 400000 is a delta on it
  for (uint64_t at : {ck, uint64_t{400000}}) {
    CheckpointPtr lazy = r.load(at);
    // Loading read no page bytes: every page is still lazy, and the hash (checked against
    // the header by load) came from the recorded roots.
    EXPECT_GT(lazy->memory().page_count(), 0u);
    EXPECT_EQ(lazy->memory().lazy_pages_left(), lazy->memory().page_count());

    // The same state, reached by running from the initial state (never on disk).
    State s = test::load_state_file(initial);
    Vm vm(s, nullptr, [](int, const uint8_t*, size_t) {});
    vm.set_track_proof2_always(true);  // its second proof slot current, as a checkpoint's
    StepStatus st = StepStatus::kOk;
    while (s.step < at && st == StepStatus::kOk && vm.run(at - s.step, st) > 0) {
    }
    ASSERT_EQ(s.step, at);
    auto full = std::make_shared<const Checkpoint>(s, vm.proof2_slot());
    ASSERT_EQ(full->hash(), lazy->hash());

    for (uint64_t step : {at, at + 1, at + 777, at + 23456}) {
      StepResult want = prove(full, step, false);
      ASSERT_TRUE(want.error.empty()) << want.error;
      for (bool jit : {false, true}) {
        StepResult got = prove(lazy, step, jit);
        ASSERT_TRUE(got.error.empty()) << got.error;
        EXPECT_EQ(got.state_hash, want.state_hash) << step << " jit " << jit;
        EXPECT_EQ(proof_json(step, got.witness, got.post_hash),
                  proof_json(step, want.witness, want.post_hash))
            << step << " jit " << jit;
      }
    }
    // A restored copy reads only the pages the run touches.
    State restored = lazy->restore();
    Vm vm2(restored, nullptr, [](int, const uint8_t*, size_t) {});
    vm2.run(1000, st);
    EXPECT_GT(restored.memory->lazy_pages_left(), 0u);
    EXPECT_LT(restored.memory->lazy_pages_left(), lazy->memory().page_count());
    // Reading every page gives the very state (same serialization) as the full one.
    State all = lazy->restore();
    all.memory->load_all_lazy();
    EXPECT_EQ(all.memory->lazy_pages_left(), 0u);
    EXPECT_EQ(all.serialize(), full->restore().serialize());
  }
  // And the CLI's prove agrees with a single-proof run from the initial state.
  const uint64_t step = 333333;
  ASSERT_EQ(test::single_proof_run(initial, step, dir + "/want", {}), "");
  for (const char* jit : {"on", "off"}) {
    ASSERT_EQ(call_main(cli::prove_main, "prove",
                        {"--dir", dir, "--steps", std::to_string(step), "--jit", jit, "--proof-fmt",
                         dir + "/got/proof-%d.json", "--progress-every", "0"}),
              0);
    EXPECT_EQ(test::read_text(dir + "/got/proof-" + std::to_string(step) + ".json"),
              test::read_text(dir + "/want/proof-" + std::to_string(step) + ".json"))
        << "jit " << jit;
  }
}

TEST_F(LazyCheckpoint, DamagedBlockIsOneErrorLineWhenTouched) {
  // A byte of the full checkpoint's first block (the lowest pages: the program's code, which
  // any replay fetches at once). The index is intact, so load() succeeds.
  auto b = test::read_bytes(file(300000));
  b[kCheckpointHeaderSize + 40] ^= 0x20;
  std::ofstream(file(300000), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  CheckpointReader r(dir);
  CheckpointPtr c = r.load(300000);
  std::string err = fault_reading_all(*c);
  EXPECT_NE(err.find(checkpoint_file_name(300000)), std::string::npos) << err;
  EXPECT_NE(err.find("is damaged: block 0 checksum mismatch"), std::string::npos) << err;
  // The CLI, JIT on and off: one error line, exit 1, no proof file.
  for (const char* jit : {"on", "off"}) {
    test::CmdResult res =
        test::run_cmd(test::shell_quote(test::cannonball()) + " prove --dir " +
                      test::shell_quote(dir) + " --steps 300005 --jit " + jit + " --proof-fmt " +
                      test::shell_quote(dir + "/p-%d.json") + " --progress-every 0");
    EXPECT_EQ(res.exit_code, 1) << res.err;
    EXPECT_EQ(std::count(res.err.begin(), res.err.end(), '\n'), 1) << res.err;
    EXPECT_EQ(res.err.rfind("error: checkpoint ", 0), 0u) << res.err;
    EXPECT_NE(res.err.find("block 0 checksum mismatch"), std::string::npos) << res.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/p-300005.json"));
  }
  // The other chains are untouched.
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir, "--steps", "100005", "--proof-fmt", dir + "/p-%d.json",
                       "--progress-every", "0"}),
            0);
}

TEST_F(LazyCheckpoint, BlockGoneAfterLoadingIsAnErrorNotACrash) {
  CheckpointReader r(dir);
  CheckpointPtr c = r.load(300000);
  std::filesystem::resize_file(file(300000), kCheckpointHeaderSize + 8);  // truncated meanwhile
  std::string err = fault_reading_all(*c);
  EXPECT_NE(err.find(checkpoint_file_name(300000)), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  std::filesystem::remove(file(300000));
  err = fault_reading_all(*c);
  EXPECT_NE(err.find("cannot read checkpoint"), std::string::npos) << err;
}

TEST_F(LazyCheckpoint, DamagedIndexFailsAtLoad) {
  auto b = test::read_bytes(file(300000));
  b[b.size() - 3] ^= 0x01;  // inside the index frame, the file's last bytes
  std::ofstream(file(300000), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  std::string err;
  try {
    CheckpointReader(dir).load(400000);
  } catch (const CheckpointError& e) {
    err = e.what();
  }
  EXPECT_NE(err.find(checkpoint_file_name(300000)), std::string::npos) << err;
  EXPECT_NE(err.find("index checksum mismatch"), std::string::npos) << err;
}

}  // namespace
}  // namespace cb
