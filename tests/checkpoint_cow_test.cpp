// Copy-on-write checkpoints (memory/memory.h share, scheduler/checkpoint.h): a checkpoint
// never sees later writes, restores are independent and may run in parallel, and Merkle
// roots stay right on both sides.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>

#include <random>

#include "interp/elf_loader.h"
#include "interp/vm.h"
#include "scheduler/checkpoint.h"
#include "scheduler/checkpoint_store.h"
#include "test_util.h"

namespace cb {
namespace {

TEST(CheckpointCow, SharedPagesAreCopiedOnFirstWrite) {
  Memory m;
  for (uint64_t i = 0; i < 100; ++i) m.set_word(i * kPageSize, i + 1);
  Hash32 before = m.merkle_root();
  uint64_t epoch = m.write_epoch();
  std::unique_ptr<Memory> snap = m.share();
  EXPECT_GT(m.write_epoch(), epoch);
  EXPECT_TRUE(snap->clean());
  EXPECT_EQ(m.lookup(5), snap->lookup(5));  // shared: one group held by both memories
  EXPECT_EQ(m.group_owners(5), 2u);
  EXPECT_EQ(m.page_owners(5), 1u);

  m.set_word(5 * kPageSize + 8, 77);
  EXPECT_NE(m.lookup(5), snap->lookup(5));  // copied
  EXPECT_EQ(m.group_owners(5), 1u);         // the group was copied first
  EXPECT_EQ(snap->group_owners(5), 1u);
  EXPECT_EQ(snap->page_owners(5), 1u);
  EXPECT_EQ(m.page_owners(5), 1u);
  EXPECT_EQ(m.lookup(6), snap->lookup(6));  // untouched: still shared, now by two groups
  EXPECT_EQ(m.page_owners(6), 2u);
  EXPECT_EQ(snap->get_word(5 * kPageSize + 8), 0u);
  EXPECT_EQ(m.get_word(5 * kPageSize + 8), 77u);
  EXPECT_EQ(snap->merkle_root(), before);
  EXPECT_NE(m.merkle_root(), before);

  // The live memory's root equals a from-scratch copy's.
  auto deep = m.clone();
  Memory fresh;
  for (uint64_t i = 0; i < 100; ++i) fresh.set_word(i * kPageSize, i + 1);
  fresh.set_word(5 * kPageSize + 8, 77);
  EXPECT_EQ(m.merkle_root(), fresh.merkle_root());
  EXPECT_EQ(deep->merkle_root(), fresh.merkle_root());
  // New pages after the share belong to the live memory only.
  m.set_word(1000 * kPageSize, 1);
  EXPECT_EQ(snap->lookup(1000), nullptr);
}

TEST(CheckpointCow, DroppingEitherSideKeepsTheOther) {
  auto m = std::make_unique<Memory>();
  for (uint64_t i = 0; i < 10; ++i) m->set_word(i * kPageSize, i);
  auto snap = m->share();
  Hash32 root = snap->merkle_root();
  m.reset();  // the snapshot keeps the pages
  EXPECT_EQ(snap->get_word(3 * kPageSize), 3u);
  EXPECT_EQ(snap->merkle_root(), root);
  auto again = snap->share_clean();
  snap.reset();
  EXPECT_EQ(again->merkle_root(), root);
  again->set_word(0, 9);  // sole owner now: written in place
  EXPECT_NE(again->merkle_root(), root);
}

// Many threads restore one checkpoint at once, each running its own copy differently: each
// result must equal the same run done alone, and the checkpoint must stay intact.
TEST(CheckpointCow, ParallelRestoresAreIndependent) {
  Memory base;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i)
    base.set_word((rng() % 512) * kPageSize + (rng() % 512) * 8, rng());
  State s;
  s.memory = base.clone();
  s.step = 1234;
  Checkpoint c(s);
  Hash32 root = c.memory().clone()->merkle_root();

  auto mutate = [](State& st, unsigned seed) {
    std::mt19937_64 r(seed);
    for (int i = 0; i < 300; ++i)
      st.memory->set_word((r() % 600) * kPageSize + (r() % 512) * 8, r());
    st.step += seed;
    return st.hash();
  };
  std::vector<Hash32> expected(32), got(32);
  for (unsigned k = 0; k < 32; ++k) {
    State st = c.restore();
    expected[k] = mutate(st, k);
  }
  tbb::parallel_for(0u, 32u, [&](unsigned k) {
    State st = c.restore();
    got[k] = mutate(st, k);
  });
  EXPECT_EQ(got, expected);
  auto copy = c.restore();
  EXPECT_EQ(copy.memory->merkle_root(), root);
  EXPECT_EQ(copy.step, 1234u);
  EXPECT_EQ(copy.hash(), c.hash());
}

// A state with a guest loaded: checkpoint, run on, restore, run the same steps again.
TEST(CheckpointCow, RestoredStateReplaysIdentically) {
  CB_REQUIRE_REFERENCE();
  State s = test::load_state_file(test::reference_dir() + "/vectors/isa/initial.bin.gz");
  Vm vm(s, nullptr, [](int, const uint8_t*, size_t) {});
  StepStatus st;
  vm.run(1000, st);
  auto c = std::make_shared<const Checkpoint>(s);
  vm.run(5000, st);
  Hash32 a = s.hash();
  State r = c->restore();
  Vm vm2(r, nullptr, [](int, const uint8_t*, size_t) {});
  vm2.run(5000, st);
  EXPECT_EQ(r.hash(), a);
  EXPECT_EQ(c->restore().hash(), c->hash());
  // The encoded checkpoint round-trips through the store format.
  auto bytes = encode_checkpoint(*c, nullptr, 3);
  auto h = decode_checkpoint_header(bytes, bytes.size(), "x");
  EXPECT_EQ(h.step, 1000u);
  EXPECT_EQ(h.hash, c->hash());
}

}  // namespace
}  // namespace cb
