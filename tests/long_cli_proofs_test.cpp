// Every reference proof (all 1,100 of vectors/*/proofs) through the literal single-proof
// command of the reference README, each a separate `cannonball run` from step 0 (with the
// pre-image server for oracle), compared byte for byte. Two commands at a time.
// About 1.5 min on 2 cores in a release build; label "long".
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "cli_helpers.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;

TEST(LongCliProofs, EveryReferenceProofByTheLiteralCommand) {
  CB_REQUIRE_REFERENCE();
  struct Job {
    std::string guest;
    uint64_t n;
  };
  std::vector<Job> jobs;
  for (const char* g : {"isa", "hello", "oracle"})
    for (uint64_t n : reference_proof_steps(g)) jobs.push_back({g, n});
  ASSERT_EQ(jobs.size(), 1100u);
  std::string dir = temp_dir("long-proofs");
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto worker = [&] {
    for (size_t i; (i = next++) < jobs.size();) {
      const Job& j = jobs[i];
      std::string d = dir + "/" + j.guest;
      std::filesystem::create_directories(d);
      CmdResult r = run_cmd(single_proof_cmd(j.guest, j.n, d));
      std::string out = d + "/proof-" + std::to_string(j.n) + ".json";
      std::string why;
      if (r.exit_code != 0)
        why = "exit " + std::to_string(r.exit_code) + ": " + r.err;
      else if (!std::filesystem::exists(out))
        why = "no proof file";
      else if (read_text(out) != read_text(reference_proof_path(j.guest, j.n)))
        why = "bytes differ";
      if (!why.empty()) {
        std::lock_guard l(mu);
        failures.push_back(j.guest + " proof-" + std::to_string(j.n) + ": " + why);
      }
      std::filesystem::remove(out);
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  for (size_t i = 0; i < failures.size() && i < 10; ++i) ADD_FAILURE() << failures[i];
  EXPECT_EQ(failures.size(), 0u) << "of " << jobs.size();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
