// Issue 14: the JIT (whichever backend this build has: x86-64 or AArch64) reproduces every
// hashes.txt line of the short reference guests and their expected end, and the first
// CB_JIT_PREFIX_STEPS (default 300 M) steps of the long ones (every line up to there).
// The AArch64 stage of scripts/test.sh runs these under qemu-aarch64; the long guests' whole
// runs are tests/long_vectors_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>

#include "scheduler/executor.h"
#include "test_util.h"
#include "vector_run.h"

namespace cb {
namespace {

class JitVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(JitVectors, ReproducesEveryHashAndTheExpectedEnd) {
  CB_REQUIRE_REFERENCE();
  if (!jit_available()) GTEST_SKIP() << "this build has no JIT";
  EXPECT_EQ(test::run_reference_vector(GetParam(), {.jit = true}), "");
}

INSTANTIATE_TEST_SUITE_P(Reference, JitVectors, ::testing::Values("isa", "hello", "oracle"),
                         [](const auto& info) { return std::string(info.param); });

uint64_t prefix_steps() {
  const char* e = std::getenv("CB_JIT_PREFIX_STEPS");
  return e && *e ? std::strtoull(e, nullptr, 10) : 300'000'000;
}

class JitLongPrefix : public ::testing::TestWithParam<const char*> {};

TEST_P(JitLongPrefix, ReproducesEveryHashOfThePrefix) {
  CB_REQUIRE_REFERENCE();
  if (!jit_available()) GTEST_SKIP() << "this build has no JIT";
  EXPECT_EQ(test::run_reference_vector(GetParam(), {.jit = true, .max_step = prefix_steps()}), "");
}

INSTANTIATE_TEST_SUITE_P(Reference, JitLongPrefix, ::testing::Values("threads", "compute"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace cb
