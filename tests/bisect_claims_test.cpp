// `cannonball bisect` (scheduler/bisect.h): against a claims file whose hashes are altered
// from step K on, it finds K, writes the proof of K-1 -> K (byte-identical to a single-proof
// run and to the reference's proof where one exists) and executes far fewer steps than a
// re-run from step 0.
#include <gtest/gtest.h>

#include <fstream>

#include "checkpoint_test_util.h"
#include "scheduler/bisect.h"

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

class BisectIsa : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (reference_dir().empty()) return;
    dir = new std::string(test::temp_dir("bisect"));
    ASSERT_EQ(call_main(cli::trace_main, "trace",
                        {"--input", reference_dir() + "/vectors/isa/initial.bin.gz", "--dir",
                         *dir + "/trace", "--checkpoint-every", "100000", "--no-sync",
                         "--progress-every", "0"}),
              0);
  }
  static void TearDownTestSuite() {
    if (dir) std::filesystem::remove_all(*dir);
    delete dir;
    dir = nullptr;
  }
  void SetUp() override { CB_REQUIRE_REFERENCE(); }

  // hashes.txt (plus `extra` lines) with every hash from step k on altered.
  static std::string claims_from(uint64_t k, const std::map<uint64_t, std::string>& extra = {}) {
    std::map<uint64_t, std::string> all(extra.begin(), extra.end());
    for (auto& [s, h] : test::read_hashes(reference_dir() + "/vectors/isa/hashes.txt")) all[s] = h;
    std::string path = *dir + "/claims-" + std::to_string(k) + ".txt";
    std::ofstream out(path);
    for (auto [s, h] : all) {
      if (s >= k) h.back() = h.back() == '0' ? '1' : '0';
      out << s << " " << h << "\n";
    }
    return path;
  }
  static BisectResult run_bisect(const std::string& claims,
                                 uint64_t proof2_window = kProof2Window) {
    TraceReader tr(*dir + "/trace");
    TraceSide ours(tr, nullptr, true, proof2_window);
    ClaimsSide theirs(read_step_hashes(claims));
    return bisect(ours, theirs);
  }
  static std::string* dir;
};
std::string* BisectIsa::dir = nullptr;

TEST_F(BisectIsa, FindsThePlantedFirstDifferenceAndWritesItsProof) {
  const uint64_t final_step = 418812;
  // A second-slot window of 2,000 steps makes re-runs to an earlier clock_gettime
  // (Proof2Keeper::make_current, scheduler/run_session.h) frequent.
  const uint64_t window = 2000;
  // The hash before the last step is not in hashes.txt: take it from the trace.
  ASSERT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", *dir + "/trace", "--hash-at", std::to_string(final_step - 1),
                       "--hashes-out", *dir + "/pre-final.txt", "--progress-every", "0",
                       "--proof2-window", std::to_string(window)}),
            0);
  auto pre_final = read_step_hashes(*dir + "/pre-final.txt");
  std::map<uint64_t, std::string> extra{{final_step - 1, hex(pre_final.at(final_step - 1))}};

  for (uint64_t k :
       {uint64_t{1}, uint64_t{2}, uint64_t{761}, uint64_t{31337}, uint64_t{50000}, final_step}) {
    SCOPED_TRACE("K = " + std::to_string(k));
    std::string claims = claims_from(k, extra);
    BisectResult r = run_bisect(claims, window);
    ASSERT_EQ(r.outcome, BisectResult::Outcome::kFound);
    EXPECT_EQ(r.differ_step, k);
    EXPECT_EQ(r.agree_step, k - 1);
    EXPECT_LE(r.steps_executed, 100000u + 1) << "more than one checkpoint interval";
    EXPECT_EQ(r.naive_steps, k);
    ASSERT_TRUE(r.proof.error.empty()) << r.proof.error;

    std::string out = *dir + "/out-" + std::to_string(k);
    ASSERT_EQ(call_main(cli::bisect_main, "bisect",
                        {"--dir", *dir + "/trace", "--claims", claims, "--proof-out",
                         out + "/proof-%d.json", "--proof2-window", std::to_string(window)}),
              0);
    std::string got = test::read_text(out + "/proof-" + std::to_string(k - 1) + ".json");
    ASSERT_EQ(test::single_proof_run(reference_dir() + "/vectors/isa/initial.bin.gz", k - 1,
                                     out + "/single", {}),
              "");
    EXPECT_EQ(got, test::read_text(out + "/single/proof-" + std::to_string(k - 1) + ".json"));
    std::string ref =
        reference_dir() + "/vectors/isa/proofs/proof-" + std::to_string(k - 1) + ".json";
    if (std::filesystem::exists(ref)) EXPECT_EQ(got, test::read_text(ref));
  }
}

TEST_F(BisectIsa, SparseClaimsGiveTheIntervalNotAWrongStep) {
  // hashes.txt is every 10,000 steps after 50,000: a difference planted at 123,456 shows
  // first at the claim of step 130,000, and nothing pins it further.
  BisectResult r = run_bisect(claims_from(123456));
  EXPECT_EQ(r.outcome, BisectResult::Outcome::kGap);
  EXPECT_EQ(r.agree_step, 120000u);
  EXPECT_EQ(r.differ_step, 130000u);
}

TEST_F(BisectIsa, AgreeingClaimsAndDifferentPrestates) {
  BisectResult r = run_bisect(claims_from(UINT64_MAX));
  EXPECT_EQ(r.outcome, BisectResult::Outcome::kNoDifference);
  // Agreeing ends prove nothing about the claims between (issue 10: claims can disagree and
  // agree again): they are all checked, in one forward pass over the trace at most.
  {
    TraceReader t(*dir + "/trace");
    EXPECT_GT(r.steps_executed, 0u);
    EXPECT_LE(r.steps_executed, t.final_step() - t.start_step());
  }

  r = run_bisect(claims_from(0));
  EXPECT_EQ(r.outcome, BisectResult::Outcome::kPrestateDiffers);

  // Two traces: the same one agrees; another guest differs from the start.
  const std::string other = *dir + "/hello";
  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", reference_dir() + "/vectors/hello/initial.bin.gz", "--dir", other,
                       "--checkpoint-every", "200000", "--no-sync", "--progress-every", "0",
                       "--stop-at", "100000"}),
            0);
  TraceReader a(*dir + "/trace"), b(*dir + "/trace"), c(other);
  TraceSide sa(a, nullptr, true), sb(b, nullptr, true), sc(c, nullptr, true);
  EXPECT_EQ(bisect(sa, sb).outcome, BisectResult::Outcome::kNoDifference);
  EXPECT_EQ(bisect(sa, sc).outcome, BisectResult::Outcome::kPrestateDiffers);
}

}  // namespace
}  // namespace cb
