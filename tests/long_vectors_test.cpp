// Issue 2, item 2 for the long guests (threads: 1.46 G steps, compute: 3.45 G steps): every
// hashes.txt line and the expected end, with the canonical interpreter and with the JIT.
#include <gtest/gtest.h>

#include "scheduler/executor.h"
#include "test_util.h"
#include "vector_run.h"

namespace cb {
namespace {

class LongVectors : public ::testing::TestWithParam<std::tuple<const char*, bool>> {};

TEST_P(LongVectors, ReproducesEveryHashAndTheExpectedEnd) {
  CB_REQUIRE_REFERENCE();
  auto [guest, jit] = GetParam();
  if (jit && !jit_available()) GTEST_SKIP() << "this build has no JIT";
  EXPECT_EQ(test::run_reference_vector(guest, {.jit = jit}), "");
}

INSTANTIATE_TEST_SUITE_P(Reference, LongVectors,
                         ::testing::Combine(::testing::Values("threads", "compute"),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_jit" : "_interp");
                         });

}  // namespace
}  // namespace cb
