// Sharded batches (scheduler/shard.h, cli/batch_shard.h): the planner and assignment against
// hand-computed expectations, the unit result files, and the CLI end to end on the `isa`
// reference guest: N shards of `prove --shard` and of `batch run --jobs` reproduce the
// reference proofs and hashes.txt byte for byte, a removed unit is reported missing and
// redone alone, and bad input is one error line.
#include "scheduler/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint_test_util.h"
#include "host/file_io.h"

namespace cb {
namespace {

using test::CmdResult;
using test::run_cmd;
using test::shell_quote;

TEST(Shard, ParsesKOfN) {
  EXPECT_EQ(parse_shard("0/4").index, 0u);
  EXPECT_EQ(parse_shard("3/4").index, 3u);
  EXPECT_EQ(parse_shard("3/4").count, 4u);
  for (const char* bad : {"4/4", "1/0", "-1/4", "a/b", "1/4x", "14", "", "/", "1/100001",
                          "99999999999999999999999/3"})
    EXPECT_THROW(parse_shard(bad), std::runtime_error) << bad;
}

TEST(Shard, LongestFirstAssignmentIsDeterministic) {
  // LPT by hand on 2 shards, costs 10 9 8 7 6 5: 10->0, 9->1, 8->1 (9<10), 7->0 (10<17),
  // 6->0 (17=17: lowest index), 5->1 (17<23). Loads 23 and 22.
  const uint64_t costs[] = {7, 10, 5, 8, 6, 9};  // any input order
  const uint32_t want[] = {0, 0, 1, 1, 0, 1};
  std::vector<BatchUnit> units;
  for (size_t i = 0; i < 6; ++i)
    units.push_back(BatchUnit{0, i * 100, i * 100 + 100, 1, 0, costs[i], 9});
  assign_shards(units, 2);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(units[i].shard, want[i]) << "cost " << costs[i];
  std::vector<BatchUnit> rev(units.rbegin(), units.rend());
  assign_shards(rev, 2);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(rev[5 - i].shard, want[i]);
  // Equal costs: broken by step, so the same inputs always give the same shards.
  std::vector<BatchUnit> eq;
  for (uint64_t i = 0; i < 5; ++i) eq.push_back(BatchUnit{0, i, i + 1, 1, 0, 42, 0});
  assign_shards(eq, 3);
  EXPECT_EQ(eq[0].shard, 0u);
  EXPECT_EQ(eq[1].shard, 1u);
  EXPECT_EQ(eq[2].shard, 2u);
  EXPECT_EQ(eq[3].shard, 0u);
  EXPECT_EQ(eq[4].shard, 1u);
}

TEST(Shard, PlanGroupsStepsByNearestCheckpoint) {
  BatchJob job{"T", true, {250, 5, 150}, {199, 150}, "p-%d.json"};
  BatchPlan p = make_batch_plan("prove", {job}, {{0, 100, 200}}, 2);
  ASSERT_EQ(p.units.size(), 3u);
  EXPECT_EQ(p.jobs[0].proofs, (std::vector<uint64_t>{5, 150, 250}));
  auto check = [](const BatchUnit& u, uint64_t from, uint64_t to, uint64_t np, uint64_t nh,
                  uint64_t cost) {
    EXPECT_EQ(u.from, from);
    EXPECT_EQ(u.to, to);
    EXPECT_EQ(u.proofs, np);
    EXPECT_EQ(u.hashes, nh);
    EXPECT_EQ(u.cost, cost);
  };
  check(p.units[0], 0, 100, 1, 0, 5 + kBatchItemCost);
  check(p.units[1], 100, 200, 1, 2, 99 + 3 * kBatchItemCost);  // 150 counted once per kind
  check(p.units[2], 200, UINT64_MAX, 1, 0, 50 + kBatchItemCost);
  EXPECT_EQ(p.units[1].shard, 0u);  // the most expensive unit goes first
  EXPECT_EQ(unit_steps(p.jobs[0].hashes, p.units[1]), (std::vector<uint64_t>{150, 199}));
  BatchPlan q = BatchPlan::from_json(p.to_json(), "plan");
  EXPECT_TRUE(q.same_inputs(p));
  EXPECT_EQ(q.to_json(), p.to_json());
  // A step before the first checkpoint cannot be planned.
  EXPECT_THROW(make_batch_plan("prove", {BatchJob{"T", true, {3}, {}, ""}}, {{10}}, 1),
               std::runtime_error);
  EXPECT_THROW(BatchPlan::from_json("{\"format\": 1}", "x"), std::runtime_error);
}

TEST(Shard, UnitResultsAreCompleteOnlyWithEveryStepAndProofFile) {
  std::string dir = test::temp_dir("shard-units");
  std::string proof = dir + "/proof-7.json";
  BatchPlan plan = make_batch_plan("prove", {BatchJob{"T", true, {7}, {8}, ""}}, {{0}}, 1);
  BatchPlan on_disk = establish_batch_plan(dir, plan);
  EXPECT_EQ(on_disk.to_json(), plan.to_json());
  const BatchUnit& u = plan.units.at(0);
  EXPECT_FALSE(read_unit_result(dir, plan, u));
  UnitResult r;
  Hash32 h{};
  h[0] = 3;
  h[31] = 0xab;
  r.hashes[8] = h;
  r.proofs[7] = proof;
  write_unit_result(dir, u, r);
  EXPECT_FALSE(read_unit_result(dir, plan, u)) << "proof file absent";
  write_file_atomic(proof, std::vector<uint8_t>{'{', '}'});
  auto back = read_unit_result(dir, plan, u);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->hashes.at(8), h);
  EXPECT_EQ(back->proofs.at(7), proof);
  EXPECT_TRUE(batch_progress(dir, plan).done());
  // A truncated file (no "end" line) is not complete.
  std::string text = test::read_text(unit_result_path(dir, u));
  std::ofstream(unit_result_path(dir, u)) << text.substr(0, text.size() - 4);
  EXPECT_FALSE(read_unit_result(dir, plan, u));
  EXPECT_EQ(batch_progress(dir, plan).incomplete.size(), 1u);
  // Another plan for the same directory is refused; the same inputs are accepted.
  EXPECT_NO_THROW(establish_batch_plan(dir, plan));
  BatchPlan other = make_batch_plan("prove", {BatchJob{"T", true, {7}, {8}, ""}}, {{0}}, 2);
  EXPECT_THROW(establish_batch_plan(dir, other), std::runtime_error);
}

// --- The CLI on the isa guest --------------------------------------------------------------

struct IsaTrace {
  std::string vec, dir, trace;
  std::vector<uint64_t> proofs;                          // steps the reference proved (subset)
  std::vector<std::pair<uint64_t, std::string>> hashes;  // reference hashes.txt lines (subset)
  std::string steps_csv, hashes_csv, hashes_txt;
};

IsaTrace make_isa_trace(const std::string& tag) {
  IsaTrace t;
  t.vec = test::reference_dir() + "/vectors/isa";
  t.dir = test::temp_dir(tag);
  t.trace = t.dir + "/T";
  CmdResult r = run_cmd(shell_quote(test::cannonball()) + " trace --input " +
                        shell_quote(t.vec + "/initial.bin.gz") + " --dir " + shell_quote(t.trace) +
                        " --checkpoint-every 40000 --no-sync --progress-every 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> all;
  for (auto& e : std::filesystem::directory_iterator(t.vec + "/proofs")) {
    std::string n = e.path().filename().string();
    all.push_back(std::stoull(n.substr(6, n.size() - 11)));
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i)
    if (i % 25 == 0 || all[i] > 760) t.proofs.push_back(all[i]);
  auto hs = test::read_hashes(t.vec + "/hashes.txt");
  for (size_t i = 0; i < hs.size(); i += std::max<size_t>(1, hs.size() / 20))
    if (hs[i].first < 418812) t.hashes.push_back(hs[i]);
  t.steps_csv = test::join_steps(t.proofs);
  for (auto& [s, h] : t.hashes) {
    t.hashes_csv += (t.hashes_csv.empty() ? "" : ",") + std::to_string(s);
    t.hashes_txt += std::to_string(s) + " " + h + "\n";
  }
  return t;
}

std::string cb_cmd(const std::string& args) { return shell_quote(test::cannonball()) + " " + args; }

void expect_reference_proofs(const IsaTrace& t, const std::string& proof_dir) {
  size_t n = 0;
  for (uint64_t s : t.proofs) {
    std::string name = "/proof-" + std::to_string(s) + ".json";
    ASSERT_TRUE(std::filesystem::exists(proof_dir + name)) << proof_dir + name;
    EXPECT_EQ(test::read_text(proof_dir + name), test::read_text(t.vec + "/proofs" + name)) << s;
    ++n;
  }
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(proof_dir)) files += e.is_regular_file();
  EXPECT_EQ(files, n) << "stray files in " << proof_dir;
}

TEST(ShardCli, ProveShardsMergeToTheReference) {
  CB_REQUIRE_REFERENCE();
  IsaTrace t = make_isa_trace("shard-prove");
  ASSERT_GE(t.proofs.size(), 40u);
  const std::string b = t.dir + "/B", flags = " --dir " + shell_quote(t.trace) + " --steps " +
                                              t.steps_csv + " --hash-at " + t.hashes_csv +
                                              " --proof-fmt " +
                                              shell_quote(t.dir + "/P/proof-%d.json");
  for (int k = 0; k < 3; ++k) {
    CmdResult r = run_cmd(cb_cmd("prove" + flags + " --shard " + std::to_string(k) +
                                 "/3 --batch-dir " + shell_quote(b) + " -j 1"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "") << "a shard prints no hashes";
  }
  CmdResult st = run_cmd(cb_cmd("batch status --batch-dir " + shell_quote(b)));
  EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
  CmdResult m = run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b)));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(m.out, t.hashes_txt);
  expect_reference_proofs(t, t.dir + "/P");

  // Remove one unit of shard 1 and one of its proofs: status names it, only shard 1 is
  // missing, and rerunning shard 1 redoes that unit alone.
  BatchPlan plan = read_batch_plan(b);
  const BatchUnit* victim = nullptr;
  size_t shard1_units = 0;
  for (const BatchUnit& u : plan.units)
    if (u.shard == 1) {
      ++shard1_units;
      if (!victim && u.proofs > 0) victim = &u;
    }
  ASSERT_TRUE(victim);
  ASSERT_GE(shard1_units, 2u);
  uint64_t gone = unit_steps(plan.jobs[0].proofs, *victim).at(0);
  std::filesystem::remove(t.dir + "/P/proof-" + std::to_string(gone) + ".json");
  st = run_cmd(cb_cmd("batch status --batch-dir " + shell_quote(b)));
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_NE(st.out.find("missing: shard 1, job 0"), std::string::npos) << st.out;
  EXPECT_EQ(st.err, "error: batch incomplete: 1 of " + std::to_string(plan.units.size()) +
                        " units missing (shards 1)\n");
  EXPECT_EQ(run_cmd(cb_cmd("batch status --missing-shards --batch-dir " + shell_quote(b))).out,
            "1\n");
  m = run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b)));
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_EQ(m.out, "");
  CmdResult r = run_cmd(cb_cmd("prove" + flags + " --shard 1/3 --batch-dir " + shell_quote(b)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(std::to_string(shard1_units - 1) + " already complete; running 1 "),
            std::string::npos)
      << r.err;
  m = run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b) + " --hashes-out " +
                     shell_quote(t.dir + "/merged.txt")));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(test::read_text(t.dir + "/merged.txt"), t.hashes_txt);
  expect_reference_proofs(t, t.dir + "/P");

  // The same directory with other inputs: one error line, nothing run.
  r = run_cmd(cb_cmd("prove" + flags + " --shard 0/2 --batch-dir " + shell_quote(b)));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(ShardCli, JobsFileOfATraceAndAStateFile) {
  CB_REQUIRE_REFERENCE();
  IsaTrace t = make_isa_trace("shard-jobs");
  const std::string b = t.dir + "/B", jobs = t.dir + "/jobs.txt";
  {
    std::ofstream f(t.dir + "/steps.txt");
    for (uint64_t s : t.proofs) f << s << "\n";
    std::ofstream j(jobs);
    j << "# source proofs hashes\n"
      << t.trace << " @" << t.dir << "/steps.txt " << t.hashes_csv << "\n\n"
      << t.vec << "/initial.bin.gz " << t.steps_csv << " -   # a state file: its own checkpoint\n";
  }
  for (int k = 0; k < 2; ++k) {
    CmdResult r = run_cmd(cb_cmd("batch run --jobs " + shell_quote(jobs) + " --shard " +
                                 std::to_string(k) + "/2 --batch-dir " + shell_quote(b) + " -j 2"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  CmdResult m = run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b)));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(test::read_text(b + "/job-0/hashes.txt"), t.hashes_txt);
  EXPECT_FALSE(std::filesystem::exists(b + "/job-1/hashes.txt"));
  std::filesystem::remove(b + "/job-0/hashes.txt");
  expect_reference_proofs(t, b + "/job-0");
  expect_reference_proofs(t, b + "/job-1");
}

TEST(ShardCli, WindowSweepShardsAndMergesInOrder) {
  std::string d = test::temp_dir("shard-window"), b = d + "/B";
  std::ofstream(d + "/sweep.txt") << "# guest: the bundled default\n"
                                  << "--sample-steps 1000000 --proofs 2 --split-depth 20\n\n"
                                  << "--sample-steps 1000000 --proofs 2 --split-depth 31  # x\n"
                                  << "--sample-steps 1000000 --proofs 2 --max-clock 100000\n";
  auto run = [&](int k) {
    return run_cmd(cb_cmd("batch window --sweep " + shell_quote(d + "/sweep.txt") + " --shard " +
                          std::to_string(k) + "/2 --batch-dir " + shell_quote(b)));
  };
  CmdResult r = run(0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 runs assigned, 0 already complete, 2 run now"), std::string::npos)
      << r.err;
  EXPECT_EQ(run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b))).exit_code, 1);
  EXPECT_EQ(run_cmd(cb_cmd("batch status --missing-shards --batch-dir " + shell_quote(b))).out,
            "1\n");
  ASSERT_EQ(run(1).exit_code, 0);
  r = run(0);
  EXPECT_NE(r.err.find("2 runs assigned, 2 already complete, 0 run now"), std::string::npos)
      << r.err;
  ASSERT_EQ(run_cmd(cb_cmd("batch merge --batch-dir " + shell_quote(b))).exit_code, 0);
  auto j = nlohmann::json::parse(test::read_text(b + "/window-sweep.json"));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["flags"], "--sample-steps 1000000 --proofs 2 --split-depth 20");
  EXPECT_EQ(j[0]["report"]["game"]["split_depth"], 20);
  EXPECT_EQ(j[1]["report"]["game"]["split_depth"], 31);
  EXPECT_EQ(j[2]["report"]["game"]["split_depth"], 30);  // the default
  EXPECT_EQ(j[2]["report"]["game"]["max_clock_s"], 100000.0);
}

TEST(ShardCli, BadInputIsOneErrorLine) {
  CB_REQUIRE_REFERENCE();
  std::string d = test::temp_dir("shard-bad");
  std::ofstream(d + "/jobs.txt") << d << "/nope 1,2\n";
  std::ofstream(d + "/jobs2.txt") << d << " 1,x\n";
  std::string trace_args = " --dir " + shell_quote(d) + " --steps 1";
  for (const std::string& args :
       {"prove" + trace_args + " --shard 3/3", "prove" + trace_args + " --shard 1",
        "prove" + trace_args + " --batch-dir " + shell_quote(d + "/B"),
        "prove" + trace_args + " --shard 0/1 --proof-fmt -",
        "prove" + trace_args + " --shard 0/1 --hashes-out x.txt",
        "batch run --jobs " + shell_quote(d + "/jobs.txt") + " --shard 0/1 --batch-dir " +
            shell_quote(d + "/B"),
        "batch run --jobs " + shell_quote(d + "/jobs2.txt") + " --shard 0/1 --batch-dir " +
            shell_quote(d + "/B"),
        "batch status --batch-dir " + shell_quote(d + "/none"),
        "batch merge --batch-dir " + shell_quote(d + "/none"), std::string("batch frob")}) {
    CmdResult r = run_cmd(cb_cmd(args));
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace cb
