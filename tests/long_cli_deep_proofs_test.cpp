// Proofs deep into the long guests (threads, compute), where the reference vectors have no
// proof files: the pre-state hash must be the reference's (hashes.txt) and the file must be
// byte-identical to the one written with a clock_gettime memory proof taken at every step
// (the reference's own behaviour, --proof2-window covering the whole run), which checks the
// CLI's windowed shortcut. Label "long" (about a minute with the JIT, more without).
#include <gtest/gtest.h>

#include "cli_helpers.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;

class DeepProof : public ::testing::TestWithParam<const char*> {};

TEST_P(DeepProof, WindowedProofEqualsAlwaysTrackedProof) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  const uint64_t n = 300000000;
  std::string want_pre;
  for (auto& [step, hash] : read_hashes(vectors_dir(g) + "/hashes.txt"))
    if (step == n) want_pre = hash;
  ASSERT_FALSE(want_pre.empty());
  std::string dir = temp_dir("deep-" + g);
  for (const char* d : {"/windowed", "/always"}) std::filesystem::create_directories(dir + d);
  std::string base = cannonball() + " run --input " +
                     shell_quote(vectors_dir(g) + "/initial.bin.gz") +
                     " --output '' --meta '' --proof-at =" + std::to_string(n) +
                     " --stop-at =" + std::to_string(n + 1) + " --proof-fmt ";
  CmdResult a = run_cmd(base + shell_quote(dir + "/windowed/%d.json.gz"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CmdResult b = run_cmd(base + shell_quote(dir + "/always/%d.json.gz") +
                        " --proof2-window 18446744073709551615");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::string pa = read_text(dir + "/windowed/" + std::to_string(n) + ".json.gz");
  std::string pb = read_text(dir + "/always/" + std::to_string(n) + ".json.gz");
  EXPECT_TRUE(pa == pb) << "windowed proof differs from the always-tracked one";
  auto j = nlohmann::json::parse(pa);
  EXPECT_EQ(j["pre"], want_pre);
  EXPECT_EQ(j["step"], n);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Reference, DeepProof, ::testing::Values("threads", "compute"));

}  // namespace
}  // namespace cb
