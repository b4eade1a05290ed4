// Proof files byte for byte against the reference's (vectors/*/proofs/proof-N.json, each
// written by a separate single-proof `cannon run`):
//  - InProcess: all 1,100 proofs, one VM run per guest that stops at every proof step and
//    makes it like a single-proof run would (reset_proof1; the second memory-proof slot
//    follows every clock_gettime as in the reference, set_track_proof2_from(0)).
//  - Cli: a sample of the literal README command (`cannonball run ... --proof-at =N
//    --proof-fmt DIR/proof-%d.json --stop-at =N+1 [-- server]`) per guest. All 1,100 literal
//    commands run in tests/long_cli_proofs_test.cpp.
#include <gtest/gtest.h>

#include <memory>

#include "cli/preimage_host.h"
#include "cli/proof_json.h"
#include "cli_helpers.h"
#include "interp/vm.h"
#include "test_util.h"
#include "vector_run.h"

namespace cb {
namespace {

using namespace cb::test;

class ProofGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(ProofGuest, InProcessEveryReferenceProofIsByteIdentical) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  std::vector<uint64_t> steps = reference_proof_steps(g);
  ASSERT_FALSE(steps.empty());
  State s = load_state_file(vectors_dir(g) + "/initial.bin.gz");
  std::unique_ptr<PreimageOracle> host = reference_oracle(g);
  Vm vm(s, host.get(), nullptr);
  vm.set_track_proof2_from(0);
  size_t bad = 0;
  for (uint64_t n : steps) {
    StepStatus st = StepStatus::kOk;
    vm.run(n - s.step, st);
    ASSERT_EQ(st, StepStatus::kOk) << vm.panic_message();
    ASSERT_EQ(s.step, n);
    vm.reset_proof1();
    StepWitness w;
    ASSERT_EQ(vm.step_with_proof(w), StepStatus::kOk) << vm.panic_message();
    std::string got = proof_json(n, w, s.hash());
    std::string want = read_text(reference_proof_path(g, n));
    if (got != want && ++bad <= 5) ADD_FAILURE() << g << " proof-" << n << ".json differs";
  }
  EXPECT_EQ(bad, 0u) << "of " << steps.size() << " proofs";
  RecordProperty("proofs", int(steps.size()));
}

// ~10 proofs per guest: first, last, evenly spread, and (oracle) pre-image reads.
std::vector<uint64_t> sample(const std::string& g) {
  std::vector<uint64_t> all = reference_proof_steps(g), out;
  if (all.empty()) return out;
  for (size_t i = 0; i < 8; ++i) out.push_back(all[i * (all.size() - 1) / 7]);
  if (g == "oracle") {
    int k = 0;
    for (uint64_t n : all)
      if (read_text(reference_proof_path(g, n)).find("oracle-offset") != std::string::npos &&
          k++ < 3)
        out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST_P(ProofGuest, CliSingleProofCommandWritesTheReferenceFile) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  std::string dir = temp_dir("proof-" + g);
  for (uint64_t n : sample(g)) {
    CmdResult r = run_cmd(single_proof_cmd(g, n, dir));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string out = dir + "/proof-" + std::to_string(n) + ".json";
    ASSERT_TRUE(std::filesystem::exists(out)) << r.err;
    EXPECT_TRUE(read_text(out) == read_text(reference_proof_path(g, n)))
        << g << " proof-" << n << ".json differs";
    // Nothing but the proof: no temp files, no state (--output ""), no meta.
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"proof-" + std::to_string(n) + ".json"});
    std::filesystem::remove(out);
  }
  std::filesystem::remove_all(dir);
}

// The CLI takes the clock_gettime memory proofs only within a window before the proof step;
// when the last clock_gettime is older it reloads the input and re-runs to that clock_gettime
// (scheduler/run_session.h). Forcing that path with a tiny window must still give the
// reference's bytes.
TEST_P(ProofGuest, CliProofRedoneFromTheInputIsByteIdentical) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  std::string dir = temp_dir("proof-redo-" + g);
  std::vector<uint64_t> all = reference_proof_steps(g), picks;
  for (size_t i = 1; i <= 4; ++i) picks.push_back(all[all.size() - 1 - i * (all.size() / 5)]);
  bool redone = false;
  for (uint64_t n : picks) {
    CmdResult r = run_cmd(single_proof_cmd(g, n, dir, " --proof2-window 50"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    redone |=
        r.err.find("re-running from the input to the last clock_gettime") != std::string::npos;
    std::string out = dir + "/proof-" + std::to_string(n) + ".json";
    EXPECT_TRUE(read_text(out) == read_text(reference_proof_path(g, n)))
        << g << " proof-" << n << ".json differs";
    std::filesystem::remove(out);
  }
  if (g != "isa") EXPECT_TRUE(redone) << "the redo path was not exercised";
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Reference, ProofGuest, ::testing::Values("isa", "hello", "oracle"));

}  // namespace
}  // namespace cb
