// The first 500M steps of `compute`: a trace with a checkpoint every 1e8 steps, proofs at 50
// random steps (fixed seed) from the checkpoints, each byte-identical to a single-proof
// `cannonball run` from step 0; --hash-at reproduces hashes.txt up to 500M.
#include <gtest/gtest.h>

#include <future>

#include "checkpoint_test_util.h"
#include "scheduler/trace.h"

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

TEST(LongCheckpointCompute, ProofsAt50RandomStepsOfTheFirst500M) {
  CB_REQUIRE_REFERENCE();
  constexpr uint64_t kEnd = 500'000'000;
  const std::string vec = reference_dir() + "/vectors/compute";
  const std::string initial = vec + "/initial.bin.gz";
  const std::string dir = test::temp_dir("long-compute");

  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", initial, "--dir", dir + "/trace", "--checkpoint-every",
                       "100000000", "--stop-at", std::to_string(kEnd), "--progress-every", "30"}),
            0);
  TraceReader tr(dir + "/trace");
  ASSERT_EQ(tr.checkpoints().steps(),
            (std::vector<uint64_t>{0, 100'000'000, 200'000'000, 300'000'000, 400'000'000, kEnd}));

  std::vector<uint64_t> steps = test::random_steps(0, kEnd, 50, 500500500);
  std::string hash_steps;
  std::string want;
  for (auto& [s, h] : test::read_hashes(vec + "/hashes.txt")) {
    if (s > kEnd) continue;
    hash_steps += (hash_steps.empty() ? "" : ",") + std::to_string(s);
    want += std::to_string(s) + " " + h + "\n";
  }
  ASSERT_EQ(call_main(cli::prove_main, "prove",
                      {"--dir", dir + "/trace", "--steps", test::join_steps(steps), "--proof-fmt",
                       dir + "/got/proof-%d.json", "--hash-at", hash_steps, "--hashes-out",
                       dir + "/hashes.out", "--progress-every", "30"}),
            0);
  EXPECT_TRUE(test::read_text(dir + "/hashes.out") == want) << "--hash-at differs from hashes.txt";

  // Single-proof runs from step 0, two at a time.
  for (size_t i = 0; i < steps.size(); i += 2) {
    std::vector<std::future<std::string>> runs;
    for (size_t k = i; k < std::min(steps.size(), i + 2); ++k)
      runs.push_back(std::async(std::launch::async, test::single_proof_run, initial, steps[k],
                                dir + "/single", std::vector<std::string>{}));
    for (auto& f : runs) ASSERT_EQ(f.get(), "");
  }
  for (uint64_t s : steps) {
    std::string name = "/proof-" + std::to_string(s) + ".json";
    EXPECT_EQ(test::read_text(dir + "/got" + name), test::read_text(dir + "/single" + name))
        << "step " << s;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
