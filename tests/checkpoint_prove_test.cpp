// `cannonball trace` + `cannonball prove` on the short reference guests: proofs at 50 random
// steps (fixed seed) are byte-identical to single-proof `run` output, every reference proof
// is reproduced byte for byte, and --hash-at reproduces hashes.txt.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint_test_util.h"
#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

struct Case {
  const char* guest;
  uint64_t checkpoint_every;
};

class ProveFromCheckpoints : public ::testing::TestWithParam<Case> {};

TEST_P(ProveFromCheckpoints, MatchesSingleProofRunsAndReference) {
  CB_REQUIRE_REFERENCE();
  // Track the second proof slot only in the last 3,000 steps before a checkpoint or proof,
  // so that re-running to an earlier clock_gettime (Proof2Keeper::make_current) is exercised
  // often, in trace and in prove.
  const std::string window = "3000";
  const std::string g = GetParam().guest;
  const std::string vec = reference_dir() + "/vectors/" + g;
  const std::string initial = vec + "/initial.bin.gz";
  const auto host = test::host_for(g);
  const std::string dir = test::temp_dir("prove-" + g);
  auto expected = nlohmann::json::parse(test::read_text(vec + "/expected.json"));
  const uint64_t final_step = expected["final_step"];

  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", initial, "--dir", dir + "/trace", "--checkpoint-every",
                       std::to_string(GetParam().checkpoint_every), "--no-sync", "--progress-every",
                       "0", "--full-every", "4", "--proof2-window", window},
                      host),
            0);
  TraceReader tr(dir + "/trace");
  EXPECT_TRUE(tr.complete());
  EXPECT_TRUE(tr.exited());
  EXPECT_EQ(tr.final_step(), final_step);
  EXPECT_EQ(hex(*tr.known_hash(final_step)), expected["final_hash"].get<std::string>());
  EXPECT_GE(tr.checkpoints().steps().size(), 4u);

  // 50 random steps, and every step the reference has a proof of.
  std::vector<uint64_t> steps = test::random_steps(0, final_step, 50, 20261122);
  std::vector<uint64_t> ref_steps;
  for (auto& e : std::filesystem::directory_iterator(vec + "/proofs")) {
    std::string n = e.path().filename().string();  // proof-N.json
    ref_steps.push_back(std::stoull(n.substr(6, n.size() - 11)));
  }
  std::vector<uint64_t> all = steps;
  all.insert(all.end(), ref_steps.begin(), ref_steps.end());
  auto hashes = test::read_hashes(vec + "/hashes.txt");
  std::string hash_file = dir + "/hash-steps.txt", hash_text;
  for (auto& [s, h] : hashes) hash_text += std::to_string(s) + "\n";
  { std::ofstream(hash_file) << hash_text; }
  ASSERT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir + "/trace", "--steps", test::join_steps(all), "--proof-fmt",
                       dir + "/got/proof-%d.json", "--hash-at-file", hash_file, "--hashes-out",
                       dir + "/hashes.out", "--progress-every", "0", "-j", "2", "--proof2-window",
                       window},
                      host),
            0);

  // --hash-at: exactly hashes.txt.
  std::string want;
  for (auto& [s, h] : hashes) want += std::to_string(s) + " " + h + "\n";
  EXPECT_TRUE(test::read_text(dir + "/hashes.out") == want)
      << "--hash-at output differs from hashes.txt";

  // Byte for byte, including the second memory-proof slot the reference carries over from
  // the last clock_gettime (the checkpoints save it: scheduler/checkpoint.h).
  for (uint64_t s : ref_steps) {
    std::string got = test::read_text(dir + "/got/proof-" + std::to_string(s) + ".json");
    EXPECT_EQ(got, test::read_text(vec + "/proofs/proof-" + std::to_string(s) + ".json"))
        << g << " step " << s;
  }
  for (uint64_t s : steps) {
    std::string single = dir + "/single/proof-" + std::to_string(s) + ".json";
    std::filesystem::create_directories(dir + "/single");
    ASSERT_EQ(test::single_proof_run(initial, s, dir + "/single", host), "") << "step " << s;
    EXPECT_EQ(test::read_text(dir + "/got/proof-" + std::to_string(s) + ".json"),
              test::read_text(single))
        << g << " step " << s;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Reference, ProveFromCheckpoints,
                         ::testing::Values(Case{"isa", 50'000}, Case{"hello", 60'000},
                                           Case{"oracle", 100'000}),
                         [](const auto& info) { return std::string(info.param.guest); });

TEST(ProveFromCheckpoints, ClearErrorsForStepsPastTheEnd) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = test::temp_dir("prove-end");
  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", reference_dir() + "/vectors/isa/initial.bin.gz", "--dir", dir,
                       "--checkpoint-every", "100000", "--no-sync", "--progress-every", "0",
                       "--stop-at", "250000"}),
            0);
  TraceReader tr(dir);
  EXPECT_FALSE(tr.exited());
  EXPECT_EQ(tr.final_step(), 250000u);
  // A proof at the last recorded step is fine (the trace can run on from there) ...
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir, "--steps", "249999,250000", "--progress-every", "0"}),
            0);
  // ... one of the exited final state is not.
  const std::string full = test::temp_dir("prove-end-full");
  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", reference_dir() + "/vectors/isa/initial.bin.gz", "--dir", full,
                       "--checkpoint-every", "200000", "--no-sync", "--progress-every", "0"}),
            0);
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", full, "--steps", "418812", "--progress-every", "0"}),
            1);
  EXPECT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", full, "--hash-at", "418812", "--progress-every", "0",
                       "--hashes-out", full + "/h.txt"}),
            0);
  EXPECT_EQ(test::read_text(full + "/h.txt"),
            "418812 0x00f3d03bfd549de3925ac5137e1eaad42a6f4d2f41bbb209192cc3f9f71c79f8\n");
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(full);
}

}  // namespace
}  // namespace cb
