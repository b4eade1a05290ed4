// The exact command line op-challenger builds (op-challenger/game/fault/trace/vm/executor.go,
// DoGenerateProof) for the oracle guest with the shared pre-image server, end to end:
//   run --input START --output DIR/final.bin.gz --meta "" --info-at %10000000
//       --proof-at =N --proof-fmt DIR/proofs/%d.json.gz --snapshot-at %1000000000
//       --snapshot-fmt DIR/snapshots/%d.bin.gz --stop-at =N+1
//       --debug-info DIR/preimages/debug-info.json -- SERVER...
// (op-challenger makes the three directories first and reads debug-info.json afterwards).
#include <gtest/gtest.h>

#include "cli_helpers.h"
#include "host/file_io.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;

std::string challenger_cmd(const std::string& input, const std::string& dir, uint64_t n,
                           uint64_t snapshot_freq) {
  return cannonball() + " run --input " + shell_quote(input) + " --output " +
         shell_quote(dir + "/final.bin.gz") +
         " --meta \"\" --info-at %10000000 --proof-at =" + std::to_string(n) + " --proof-fmt " +
         shell_quote(dir + "/proofs/%d.json.gz") + " --snapshot-at %" +
         std::to_string(snapshot_freq) + " --snapshot-fmt " +
         shell_quote(dir + "/snapshots/%d.bin.gz") + " --stop-at =" + std::to_string(n + 1) +
         " --debug-info " + shell_quote(dir + "/preimages/debug-info.json") + server_args("oracle");
}

void make_dirs(const std::string& dir) {
  for (const char* d : {"/snapshots", "/preimages", "/proofs"})
    std::filesystem::create_directories(dir + d);
}

TEST(Challenger, ExactCommandLineWritesTheReferenceProof) {
  CB_REQUIRE_REFERENCE();
  const uint64_t n = 461552;  // reads a pre-image at a non-zero offset
  std::string dir = temp_dir("challenger");
  make_dirs(dir);
  CmdResult r =
      run_cmd(challenger_cmd(vectors_dir("oracle") + "/initial.bin.gz", dir, n, 1000000000));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string proof = dir + "/proofs/" + std::to_string(n) + ".json.gz";
  ASSERT_TRUE(std::filesystem::exists(proof)) << r.err;
  std::string want = read_text(reference_proof_path("oracle", n));
  EXPECT_TRUE(read_text(proof) == want) << "gunzipped proof differs from the reference";
  // A real gzip file (op-challenger gunzips it by name).
  auto raw = std::filesystem::file_size(proof);
  EXPECT_LT(raw, want.size());

  auto ref = nlohmann::json::parse(want);
  State fin = load_state_file(dir + "/final.bin.gz");
  EXPECT_EQ(fin.step, n + 1);
  EXPECT_EQ(hex(fin.hash()), std::string(ref["post"]));
  // %1000000000 matches step 0 only: the snapshot of the input state.
  EXPECT_EQ(list_dir(dir + "/snapshots"), std::vector<std::string>{"0.bin.gz"});
  EXPECT_TRUE(read_bytes(dir + "/snapshots/0.bin.gz") ==
              read_bytes(vectors_dir("oracle") + "/initial.bin.gz"));
  EXPECT_EQ(list_dir(dir + "/proofs"), std::vector<std::string>{std::to_string(n) + ".json.gz"});

  // The fields op-challenger reads from debug-info.json (vm/executor.go debugInfo).
  auto info = nlohmann::json::parse(read_text(dir + "/preimages/debug-info.json"));
  EXPECT_EQ(info["total_steps"], n + 1);
  EXPECT_EQ(std::string(info["memory_used"]).rfind("0x", 0), 0u);
  EXPECT_GT(info["num_preimage_requests"].get<uint64_t>(), 0u);
  for (const char* k : {"instruction_cache_miss_count", "rmw_success_count", "rmw_fail_count",
                        "max_steps_between_ll_and_sc", "reservation_invalidation_count",
                        "forced_preemption_count", "idle_step_count_thread_0"})
    EXPECT_TRUE(info.contains(k)) << k;

  // The logs op-challenger passes on: the info line at step 0 and the end of the run.
  EXPECT_NE(r.err.find("msg=processing module=vm step=0 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("msg=\"Execution stopped\" module=vm exited=false code=0"),
            std::string::npos)
      << r.err;
  std::filesystem::remove_all(dir);
}

// A second game step resumes from the nearest snapshot (FindStartingSnapshot). The proof of a
// resumed run differs from a run from step 0 only in the second memory-proof slot (the
// reference's tracker carries it from the last clock_gettime of *this* run), so everything
// else is compared.
TEST(Challenger, ResumingFromASnapshotGivesTheReferenceTransition) {
  CB_REQUIRE_REFERENCE();
  std::string dir = temp_dir("challenger2");
  make_dirs(dir);
  const uint64_t n1 = 462530, n2 = 769627;
  CmdResult r = run_cmd(challenger_cmd(vectors_dir("oracle") + "/initial.bin.gz", dir, n1, 200000));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(list_dir(dir + "/snapshots"),
            (std::vector<std::string>{"0.bin.gz", "200000.bin.gz", "400000.bin.gz"}));
  r = run_cmd(challenger_cmd(dir + "/snapshots/400000.bin.gz", dir, n2, 200000));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = nlohmann::json::parse(read_text(dir + "/proofs/" + std::to_string(n2) + ".json.gz"));
  auto want = nlohmann::json::parse(read_text(reference_proof_path("oracle", n2)));
  for (const char* k :
       {"step", "pre", "post", "state-data", "oracle-key", "oracle-value", "oracle-offset"})
    EXPECT_EQ(got[k], want[k]) << k;
  std::string gp = got["proof-data"], wp = want["proof-data"];
  ASSERT_EQ(gp.size(), wp.size());
  const size_t kProof2Hex = 2 * 60 * 32;
  EXPECT_EQ(gp.substr(0, gp.size() - kProof2Hex), wp.substr(0, wp.size() - kProof2Hex));
  EXPECT_EQ(
      list_dir(dir + "/snapshots"),
      (std::vector<std::string>{"0.bin.gz", "200000.bin.gz", "400000.bin.gz", "600000.bin.gz"}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
