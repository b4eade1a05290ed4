// The two-level page table (memory/memory.h: page groups under a directory) against a model:
// random writes, overwrites, shares, deep copies and drops over several memories, where every
// memory must keep reading back exactly its own bytes, its Merkle root must equal a memory
// built from scratch with those bytes, and changed_pages() must name exactly the pages whose
// bytes could differ from its base (the model tracks which pages were written since).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "memory/memory.h"

namespace cb {
namespace {

using Words = std::map<uint64_t, uint64_t>;  // aligned address -> word (absent: zero)

// A memory and what it must hold.
struct Tracked {
  std::unique_ptr<Memory> mem;
  Words words;
};

Hash32 root_of(const Words& words) {
  Memory fresh;
  for (auto& [addr, v] : words) fresh.set_word(addr, v);
  return fresh.merkle_root();
}

// Page indices spread over a few groups, some straddling group edges, plus far-away ones.
uint64_t random_page(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return rng() % 64;  // group 0
    case 1:
      return kGroupPages - 8 + rng() % 16;  // across the 0/1 edge
    case 2:
      return 5 * kGroupPages + rng() % (3 * kGroupPages);  // groups 5..7
    default:
      return (uint64_t{1} << 40) + rng() % 8;  // a far group
  }
}

void check(Tracked& t, const char* what, int round) {
  SCOPED_TRACE(std::string(what) + " after round " + std::to_string(round));
  for (auto& [addr, v] : t.words) ASSERT_EQ(t.mem->get_word(addr), v) << "addr " << addr;
  std::set<uint64_t> pages;
  for (auto& [addr, v] : t.words) pages.insert(addr >> kPageAddrSize);
  EXPECT_EQ(t.mem->page_count(), pages.size());
  EXPECT_EQ(t.mem->merkle_root(), root_of(t.words));
}

TEST(MemoryGroups, RandomSharingAgreesWithAModel) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<Tracked> live(1);
    live[0].mem = std::make_unique<Memory>();
    for (int round = 0; round < 400; ++round) {
      Tracked& t = live[rng() % live.size()];
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2: {  // a few word writes (set_word: page_for_write)
          for (int k = 0; k < 20; ++k) {
            uint64_t addr = random_page(rng) * kPageSize + (rng() % 512) * 8;
            uint64_t v = rng() | 1;
            t.mem->set_word(addr, v);
            t.words[addr] = v;
          }
          break;
        }
        case 3: {  // a whole page overwritten (page_for_overwrite, as the loaders do)
          uint64_t page = random_page(rng);
          Page* p = t.mem->page_for_overwrite(page);
          std::memset(p->data, 0, kPageSize);
          for (auto it = t.words.lower_bound(page * kPageSize);
               it != t.words.end() && it->first < (page + 1) * kPageSize;)
            it = t.words.erase(it);
          uint64_t v = rng() | 1, off = (rng() % 512) * 8;
          store_be64(p->data + off, v);
          t.words[page * kPageSize + off] = v;
          break;
        }
        case 4:
        case 5: {  // a copy-on-write share, then maybe writes on both sides
          if (live.size() >= 6) break;
          Tracked copy{t.mem->share(), t.words};
          live.push_back(std::move(copy));
          break;
        }
        case 6: {  // a deep copy
          if (live.size() >= 6) break;
          Tracked copy{t.mem->clone(), t.words};
          live.push_back(std::move(copy));
          break;
        }
        default: {  // drop one (never the last)
          if (live.size() < 2) break;
          live.erase(live.begin() + long(rng() % live.size()));
          break;
        }
      }
      if (round % 25 == 0)
        for (Tracked& x : live) check(x, "memory", round);
    }
    for (Tracked& x : live) check(x, "memory", 400);
  }
}

TEST(MemoryGroups, ChangedPagesAreExactlyTheWrittenOnes) {
  std::mt19937_64 rng(7);
  Memory live;
  for (int k = 0; k < 3000; ++k) live.set_word(random_page(rng) * kPageSize + (rng() % 512) * 8, 1);
  std::unique_ptr<Memory> prev = live.share_without_tree();
  for (int round = 0; round < 20; ++round) {
    std::set<uint64_t> written;
    int n = int(rng() % 40);
    for (int k = 0; k < n; ++k) {
      uint64_t page = rng() % 2 ? random_page(rng) : 1000 + rng() % 4000;  // old and new pages
      live.set_word(page * kPageSize + (rng() % 512) * 8, rng());
      written.insert(page);
    }
    std::unique_ptr<Memory> next = live.share_without_tree();
    std::set<uint64_t> changed;
    for (auto& [index, page] : next->changed_pages(*prev)) {
      EXPECT_EQ(page->index, index);
      changed.insert(index);
    }
    EXPECT_EQ(changed, written) << "round " << round;
    // Against no common history every page is new.
    Memory other;
    EXPECT_EQ(next->changed_pages(other).size(), next->page_count());
    EXPECT_TRUE(next->changed_pages(*next).empty());
    prev = std::move(next);
  }
}

TEST(MemoryGroups, SharingTouchesGroupsNotPages) {
  Memory live;
  for (uint64_t i = 0; i < 4 * kGroupPages; ++i) live.set_word(i * kPageSize, i + 1);
  auto snap = live.share();
  for (uint64_t g = 0; g < 4; ++g) {
    EXPECT_EQ(live.group_owners(g * kGroupPages), 2u);
    EXPECT_EQ(live.page_owners(g * kGroupPages + 3), 1u);
  }
  // One write copies one group's pointers (its pages are now in two groups) and one page.
  live.set_word(kGroupPages * kPageSize + 8, 5);
  EXPECT_EQ(live.group_owners(kGroupPages), 1u);
  EXPECT_EQ(live.group_owners(0), 2u);
  EXPECT_EQ(live.page_owners(kGroupPages), 1u);      // the written page: a private copy
  EXPECT_EQ(live.page_owners(kGroupPages + 1), 2u);  // its neighbours: shared page by page
  EXPECT_EQ(snap->get_word(kGroupPages * kPageSize + 8), 0u);
  snap.reset();
  EXPECT_EQ(live.page_owners(kGroupPages + 1), 1u);
  EXPECT_EQ(live.group_owners(0), 1u);
}

}  // namespace
}  // namespace cb
