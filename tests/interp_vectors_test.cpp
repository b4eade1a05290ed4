// Issue 2, item 2: the interpreter reproduces every STEP HASH line of the short reference
// guests, and their final hash, step count, exit code and stdout.
#include <gtest/gtest.h>

#include "test_util.h"
#include "vector_run.h"

namespace cb {
namespace {

class InterpVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(InterpVectors, ReproducesEveryHashAndTheExpectedEnd) {
  CB_REQUIRE_REFERENCE();
  EXPECT_EQ(test::run_reference_vector(GetParam(), {.jit = false}), "");
}

INSTANTIATE_TEST_SUITE_P(Reference, InterpVectors, ::testing::Values("isa", "hello", "oracle"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace cb
