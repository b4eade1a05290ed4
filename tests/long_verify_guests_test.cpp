// Every step of the isa, hello and oracle reference guests (2.25 M steps) recorded with
// step_with_proof and checked by the witness-only step (verify_step_witness): it must accept
// each and give the interpreter's post-state hash; at the end the run must be at the
// reference's final hash (expected.json). About 2 minutes of CPU in a release build; label "long".
#include <gtest/gtest.h>

#include <memory>

#include "cli/preimage_host.h"
#include "cli_helpers.h"
#include "interp/witness_step.h"
#include "test_util.h"
#include "vector_run.h"

namespace cb {
namespace {

using namespace cb::test;

class LongVerifyGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(LongVerifyGuest, EveryStepVerifiesFromItsWitness) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  State s = load_state_file(vectors_dir(g) + "/initial.bin.gz");
  std::unique_ptr<PreimageOracle> host = reference_oracle(g);
  Vm vm(s, host.get(), nullptr);
  size_t bad = 0, steps = 0, preimage_reads = 0;
  while (!s.exited) {
    vm.reset_proof_slots();
    StepWitness w;
    ASSERT_EQ(vm.step_with_proof(w), StepStatus::kOk) << vm.panic_message();
    preimage_reads += w.has_preimage;
    const Hash32 post = s.hash();
    WitnessCheck c = verify_step_witness(w, s.step - 1, post);
    if ((!c.failure.empty() || c.post != post) && ++bad <= 5)
      ADD_FAILURE() << g << " step " << s.step - 1 << ": " << c.failure;
    ++steps;
  }
  EXPECT_EQ(bad, 0u) << "of " << steps << " steps";
  nlohmann::json e = expected_json(g);
  EXPECT_EQ(hex(s.hash()), e["final_hash"].get<std::string>());
  if (g == "oracle") EXPECT_GT(preimage_reads, 0u);
}

INSTANTIATE_TEST_SUITE_P(Guests, LongVerifyGuest, ::testing::Values("isa", "hello", "oracle"));

}  // namespace
}  // namespace cb
