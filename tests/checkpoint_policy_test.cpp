// The automatic full/delta policy of the checkpoint writer (scheduler/checkpoint_store.h,
// auto_full_checkpoint): simulated over the write patterns it is meant for, then end to end
// through CheckpointWriter and CheckpointReader on a memory that grows and one that rewrites.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "checkpoint_test_util.h"
#include "scheduler/checkpoint.h"
#include "scheduler/checkpoint_store.h"

namespace cb {
namespace {

// What the writer does with a sequence of checkpoints, given each one's page count and the
// pages written since the previous one.
struct Simulation {
  uint64_t fulls = 0, full_pages = 0, delta_pages = 0;
  uint64_t longest_chain = 0;      // deltas after one full
  uint64_t worst_chain_pages = 0;  // pages a load of some chain end reads (full + deltas)
  double worst_chain_ratio = 0;    // ... against the memory at that checkpoint

  void add(uint64_t page_count, uint64_t written) {
    bool full = count == 0 || auto_full_checkpoint(deltas, base_pages, chain_pages, page_count);
    ++count;
    if (full) {
      ++fulls;
      full_pages += page_count;
      base_pages = page_count;
      deltas = chain_pages = 0;
    } else {
      ++deltas;
      chain_pages += written;
      delta_pages += written;
    }
    longest_chain = std::max(longest_chain, deltas);
    uint64_t load = base_pages + chain_pages;
    worst_chain_pages = std::max(worst_chain_pages, load);
    worst_chain_ratio = std::max(worst_chain_ratio, double(load) / double(page_count));
  }

 private:
  uint64_t count = 0, deltas = 0, chain_pages = 0, base_pages = 0;
};

TEST(CheckpointPolicy, AGuestFillingALargeMemoryWritesItAboutOnce) {
  // The incompressible bigheap guest at 4 GiB: ~2,000 new pages per 5 M-step checkpoint,
  // 1 Mi pages at the end (510 checkpoints), and a few pages (its stack) rewritten each time.
  Simulation sim;
  const uint64_t per = 2056, total = uint64_t{1} << 20;
  for (uint64_t pages = 64; pages < total; pages += per) sim.add(pages, per + 3);
  // Only the first checkpoint is full: the memory is written once, as deltas.
  EXPECT_EQ(sim.fulls, 1u);
  EXPECT_EQ(sim.full_pages, 64u);
  EXPECT_LT(sim.longest_chain, kAutoMaxChain);
}

TEST(CheckpointPolicy, RewritingAWorkingSetBoundsTheChainAndTheBytes) {
  // 1 GiB of memory, 10,000 pages rewritten per checkpoint, 1,000 checkpoints.
  Simulation sim;
  const uint64_t total = uint64_t{1} << 18, written = 10000;
  for (int i = 0; i < 1000; ++i) sim.add(total, written);
  // A chain end never costs more than about two full checkpoints to load ...
  EXPECT_LE(sim.worst_chain_ratio, 2.1);
  // ... and full checkpoints add at most about as much as the deltas themselves.
  EXPECT_LE(sim.full_pages, total + sim.delta_pages + sim.delta_pages / 10);
  EXPECT_GT(sim.fulls, 20u);  // ~ every 25 checkpoints
}

TEST(CheckpointPolicy, ChainsAreCappedInLength) {
  // 100 pages, one written per checkpoint: a full one after 100 deltas.
  Simulation sim;
  for (int i = 0; i < 1000; ++i) sim.add(100, 1);
  EXPECT_EQ(sim.longest_chain, 100u);
  EXPECT_LE(sim.worst_chain_ratio, 2.0);
  // A huge memory written one page at a time hits the chain cap.
  Simulation big;
  for (uint64_t i = 0; i < 3 * kAutoMaxChain; ++i) big.add(uint64_t{1} << 30, 1);
  EXPECT_EQ(big.longest_chain, kAutoMaxChain);
  EXPECT_EQ(big.fulls, 3u);
}

// End to end: the writer's automatic policy on real memories, files read back.
TEST(CheckpointPolicy, WriterFollowsThePolicyAndTheChainsLoad) {
  std::string dir = test::temp_dir("policy");
  State s;
  // 5,000 pages, then 100 new pages per checkpoint: the deltas never hold as many pages as
  // the memory, so 40 checkpoints are one full and 39 deltas.
  for (uint64_t i = 0; i < 5000; ++i) s.memory->set_word(i * kPageSize, i + 1);
  std::vector<Hash32> hashes;
  {
    CheckpointWriterOptions o;
    o.sync = false;
    CheckpointWriter w(dir, o);
    for (uint64_t k = 0; k < 40; ++k) {
      for (uint64_t i = 0; i < 100; ++i) s.memory->set_word((5000 + 100 * k + i) * kPageSize, k);
      s.step = k;
      auto c = std::make_shared<const Checkpoint>(s, MemProof{}, false);
      hashes.push_back(c->hash());
      w.submit(c);
    }
    w.finish();
    EXPECT_EQ(w.stats().files, 40u);
    EXPECT_EQ(w.stats().full_files, 1u);
    EXPECT_EQ(w.stats().pages, 5100u + 39 * 100);  // every page written exactly once
  }
  for (uint64_t k = 0; k < 40; ++k)
    EXPECT_EQ(read_checkpoint_header(dir + "/" + checkpoint_file_name(k)).kind, k == 0 ? 0u : 1u);
  CheckpointReader r(dir);
  EXPECT_EQ(r.load(39)->hash(), hashes[39]);
  EXPECT_EQ(r.load(20)->hash(), hashes[20]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
