// `cannonball trace` step selection: lists, %N, dispute-game positions; the recorded
// hashes.txt agrees with the reference's.
#include <gtest/gtest.h>

#include "checkpoint_test_util.h"
#include "scheduler/trace.h"

namespace cb {
namespace {

using test::call_main;
using test::reference_dir;

TEST(StepSelection, ListsPatternsAndGamePositions) {
  StepSelection s;
  s.list = {9, 3, 3, 20};
  s.every = 5;
  s.every_from = 10;
  s.every_to = 30;
  s.normalize();
  EXPECT_EQ(s.list, (std::vector<uint64_t>{3, 9, 20}));
  EXPECT_EQ(s.next_at_or_after(0), 3u);
  EXPECT_EQ(s.next_at_or_after(4), 9u);
  EXPECT_EQ(s.next_at_or_after(10), 10u);
  EXPECT_EQ(s.next_at_or_after(11), 15u);
  EXPECT_EQ(s.next_at_or_after(31), UINT64_MAX);
  EXPECT_TRUE(s.contains(25));
  EXPECT_FALSE(s.contains(5));
  EXPECT_FALSE(s.contains(35));

  // Depth 2 of a 4-level game: trace indices 3, 7, 11, 15, i.e. the states after 4, 8, 12, 16
  // steps.
  StepSelection g = game_positions(2, 4);
  std::vector<uint64_t> got;
  for (uint64_t x = g.next_at_or_after(0); x != UINT64_MAX; x = g.next_at_or_after(x + 1))
    got.push_back(x);
  EXPECT_EQ(got, (std::vector<uint64_t>{4, 8, 12, 16}));
  StepSelection top = game_positions(0, 42);
  EXPECT_EQ(top.next_at_or_after(0), uint64_t{1} << 42);
  EXPECT_EQ(top.next_at_or_after((uint64_t{1} << 42) + 1), UINT64_MAX);
}

TEST(TraceCommand, RecordsTheChosenHashes) {
  CB_REQUIRE_REFERENCE();
  const std::string vec = reference_dir() + "/vectors/isa";
  const std::string dir = test::temp_dir("trace-hashes");
  ASSERT_EQ(
      call_main(cli::trace_main, "trace",
                {"--input", vec + "/initial.bin.gz", "--dir", dir + "/a", "--checkpoint-every",
                 "150000", "--hashes-at", "7,=123,%20000", "--no-sync", "--progress-every", "0"}),
      0);
  auto ref = test::read_hashes(vec + "/hashes.txt");
  std::map<uint64_t, std::string> want;
  for (auto& [s, h] : ref)
    if (s == 7 || s == 123 || s % 20000 == 0 || s % 150000 == 0 || s == 418812) want[s] = h;
  auto got = read_step_hashes(dir + "/a/hashes.txt");
  ASSERT_EQ(got.size(), want.size());
  for (auto& [s, h] : want) EXPECT_EQ(hex(got.at(s)), h) << "step " << s;

  // Game positions at depth 5 of a 22-level game: every 2^17 = 131,072 steps (claims past
  // the isa trace's end are its final state, recorded once).
  ASSERT_EQ(call_main(cli::trace_main, "trace",
                      {"--input", vec + "/initial.bin.gz", "--dir", dir + "/b", "--game-depth", "5",
                       "--game-max-depth", "22", "--no-sync", "--progress-every", "0"}),
            0);
  auto game = read_step_hashes(dir + "/b/hashes.txt");
  std::vector<uint64_t> steps;
  for (auto& kv : game) steps.push_back(kv.first);
  std::vector<uint64_t> expect{0};
  for (uint64_t s = 131072; s < 418812; s += 131072) expect.push_back(s);
  expect.push_back(418812);
  EXPECT_EQ(steps, expect);
  EXPECT_NE(
      call_main(cli::trace_main, "trace",
                {"--input", vec + "/initial.bin.gz", "--dir", dir + "/c", "--hashes-at", "x"}),
      0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
