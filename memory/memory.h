// The 64-bit sparse memory of the Cannon spec: 4 KiB pages allocated on first write, and a
// binary Merkle tree of fixed depth over 32-byte leaves spanning the whole 2^64-byte address
// space (spec: "Memory" and the reference's memory/binary_tree.go). Knows nothing of MIPS.
//
// Hashes are cached at two levels and recomputed lazily:
//  - per page only its root (32 bytes). The 126 nodes inside a page are not kept (they
//    would double the memory: 4 KiB of hashes per 4 KiB page); a dirty page is rehashed
//    whole (127 Keccaks, zero chunks and zero subtrees skipped, several lanes at once with
//    keccak256_64_many), and proof() recomputes the page's inner nodes on demand;
//  - above pages: one node per ancestor of an allocated page (gindex < 2^52), each with a
//    valid flag. Invariant: an invalid node has only invalid ancestors, so invalidation can
//    stop at the first node that is already invalid.
// Writes only record which pages are dirty; `merkle_root()`/`proof()` flush that list first
// (pages rehashed in parallel on TBB when there are many).
//
// Lazy pages (checkpoints loaded from disk, memory/lazy_pages.h): a memory may also hold pages
// known only by their root and where their bytes are stored (a LazyPages set shared by every
// copy of the memory). They count as allocated pages everywhere (page_count, the Merkle tree,
// serialization); a lazy page's bytes are read (materialised into a private Page) only when
// something needs them: lookup() for a read or write by the guest (interpreter and JIT both
// come through lookup/page_for_write, so materialising is the same JIT on or off), proof(),
// or a walk over every page (pages(), serialization), which materialises them all. The tree
// above pages only needs the roots, so a lazily loaded checkpoint's root costs no page bytes.
//
// The page table is two-level: a directory (robin-map) of page groups, each an array of 512
// page pointers (2 MiB of address space). Copy-on-write works on both levels: share() shares
// the groups (one reference count per group, so taking a checkpoint of a 4 GiB memory touches
// ~2,000 groups, not a million pages); the first write into a shared group copies its 512
// pointers (each page's own count goes up: it is now in two groups), then the first write to
// a page held by more than one group copies the page. A delta between two memories that share
// groups (Memory::changed_pages) compares group pointers first, so it visits only the groups
// written in between.
//
// Cost per allocated 4 KiB page: a 4,160-byte Page slot in the page pool (page_pool.h: 64
// bytes of metadata, no allocator rounding), 8 bytes of group (a dense heap; a sparse one
// pays a 4 KiB group per 2 MiB of address space touched), and about one inner tree node above
// it (~48 B): ~1.02x the guest's bytes in all.
#pragma once
#include <mimalloc.h>
#include <tsl/robin_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "memory/keccak.h"
#include "memory/lazy_pages.h"

namespace cb {

constexpr unsigned kPageAddrSize = 12;
constexpr uint64_t kPageSize = uint64_t{1} << kPageAddrSize;
constexpr uint64_t kPageAddrMask = kPageSize - 1;
constexpr unsigned kPageKeySize = 64 - kPageAddrSize;      // 52 levels of tree above a page
constexpr unsigned kMemProofLeafCount = 60;                // leaf + 59 siblings
constexpr size_t kMemProofSize = kMemProofLeafCount * 32;  // 1,920 bytes
using MemProof = std::array<uint8_t, kMemProofSize>;

// zero_hash(h): root of an all-zero subtree of height h (h = 0: a 32-byte zero leaf).
const Hash32& zero_hash(unsigned height);

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

// The 64-byte Merkle nodes of a page in heap order: nodes[1] is the page root, nodes[64 + i]
// the hash of 64-byte chunk i; nodes[0] is unused. Zero subtrees get zero_hash() values.
void page_tree(const uint8_t* data, Hash32 nodes[128]);
Hash32 page_root(const uint8_t* data);

// A guest page: its bytes first (compiled code addresses them from the Page*), then 64 bytes
// of metadata. Allocated only from the page pool (page_pool.h), never with new.
struct alignas(64) Page {
  uint8_t data[kPageSize];
  Hash32 root_hash{};                    // valid when dirty_chunks == 0
  uint64_t dirty_chunks = ~uint64_t{0};  // non-zero: bytes changed since root_hash
  uint64_t index = 0;                    // page index (address >> 12)
  // Owners of this page: the live memory plus every checkpoint that shares it. A page with
  // refs > 1 is copied on its first write (copy-on-write checkpoints).
  std::atomic<uint32_t> refs{1};
  bool listed = false;  // already in Memory's dirty-page list

  // New pages: from the pool, bytes zero (fresh) or copied from `src`.
  static Page* create(uint64_t index);
  static Page* copy_of(const Page& src);

  const Hash32& root();  // rehashes the page when it is dirty
};
static_assert(sizeof(Page) == kPageSize + 64, "Page metadata must stay within 64 bytes");

constexpr unsigned kGroupShift = 9;  // 512 pages per group: 2 MiB of address space
constexpr uint64_t kGroupPages = uint64_t{1} << kGroupShift;

// One group of the page table: pointers to the present pages of 512 consecutive page indices.
// A group is owned by the memories whose directory holds it (refs); it is never written while
// refs > 1 (a writer copies it first), and a page's refs count the groups that hold it.
struct PageGroup {
  std::atomic<uint32_t> refs{1};
  uint32_t count = 0;  // non-null slots
  Page* page[kGroupPages] = {};
};
using PageDirectory = MiMap<PageGroup*>;

class Memory {
 public:
  Memory();
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  Memory(Memory&&) noexcept;
  Memory& operator=(Memory&&) noexcept;
  // A deep copy (pages and cached hashes).
  std::unique_ptr<Memory> clone() const;

  // Copy-on-write copy (checkpoints). Flushes the Merkle caches first, so that every page is
  // clean (dirty_chunks == 0) before it is shared and no one ever mutates a shared page's
  // hashes; then shares every page group (refs++) and copies the inner-node cache. Bumps this
  // memory's write epoch. A later write on either side copies the page (page_for_write).
  std::unique_ptr<Memory> share();
  // The same for a memory that is already clean (see clean()). Const and thread-safe: many
  // threads may share_clean() the same source at once, as long as no one writes to it
  // (checkpoints are never written to; restoring one is share_clean()).
  std::unique_ptr<Memory> share_clean() const;
  // As share(), without a copy of the inner-node cache (~220 bytes per page with the table's
  // load factor: 58 MiB at 1 GiB, most of what a checkpoint costs): for checkpoints that are
  // written out and rarely restored (trace). share_clean() of such a memory rebuilds the
  // tree above the pages from their roots in the copy (level by level, tens of ms at 1 GiB).
  std::unique_ptr<Memory> share_without_tree();
  // No page awaits rehashing and the root is cached: merkle_root() was called and nothing
  // was written since.
  bool clean() const;
  // Calls f(index, const Page&) for every page, unordered, for read-only walks (writers of
  // states and checkpoints). Materialises every lazy page first (not thread-safe then: call it
  // only on a memory no other thread uses).
  template <class F>
  void for_each_page(F&& f) const {
    if (m_lazy_left) load_all_lazy();
    for (auto& kv : m_groups) {
      const PageGroup& g = *kv.second;
      for (uint64_t i = 0; i < kGroupPages; ++i)
        if (g.page[i]) f((kv.first << kGroupShift) | i, *g.page[i]);
    }
  }
  // The pages of this memory that are not the same Page object in `base` (absent there, or
  // written since one was copied from the other: copy-on-write gives a written page a new
  // object), unordered. Groups both memories still share are skipped whole, so the cost is
  // the directory plus the groups written in between. Materialises lazy pages of both.
  std::vector<std::pair<uint64_t, const Page*>> changed_pages(const Memory& base) const;
  // The page at `page_index` without touching the TLB or lazy pages (null when absent or not
  // materialised). Safe from several threads on a memory nobody writes.
  const Page* find_page(uint64_t page_index) const { return table_find(page_index); }
  // How many groups hold this page (0 when absent): 1 when only one page table has it.
  uint32_t page_owners(uint64_t page_index) const;
  // How many memories hold the group of this page (0 when there is no group).
  uint32_t group_owners(uint64_t page_index) const;

  // Adds the lazy pages of `lazy` (memory/lazy_pages.h) to a memory that holds no page of its
  // own (a checkpoint being loaded): `changed` lists the indices whose root differs from
  // this memory's present tree (all of them for a fresh memory). They override lazy pages
  // already present. The caller then takes merkle_root() (the tree above them is rebuilt).
  void attach_lazy(std::shared_ptr<const LazyPages> lazy, const std::vector<uint64_t>& changed);
  // Lazy pages not materialised yet, and whether this memory has any.
  uint64_t lazy_pages_left() const { return m_lazy_left; }
  // Reads every lazy page now (tests; walks over every page do it themselves).
  void load_all_lazy() const;
  // Every page index, lazy ones included (unordered), without reading lazy pages.
  std::vector<uint64_t> page_indices() const;

  // Aligned 8-byte big-endian word; an absent page reads as zero and is not allocated.
  uint64_t get_word(uint64_t addr) const {
    const Page* p = lookup(addr >> kPageAddrSize);
    return p ? load_be64(p->data + (addr & kPageAddrMask & ~uint64_t{7})) : 0;
  }
  void set_word(uint64_t addr, uint64_t v) {
    Page* p = page_for_write(addr >> kPageAddrSize);
    uint64_t off = addr & kPageAddrMask & ~uint64_t{7};
    store_be64(p->data + off, v);
    mark_dirty(p, off);
  }

  // The page, or null when absent. A lazy page is materialised here (its bytes read): this
  // is the miss path of the interpreter and the JIT alike.
  Page* lookup(uint64_t page_index) const {
    TlbEntry& e = m_tlb[page_index & (kTlbSize - 1)];
    if (e.index == page_index) return e.page;
    Page* p = table_find(page_index);
    if (!p) return m_lazy_left ? load_lazy(page_index) : nullptr;
    e = TlbEntry{page_index, p, false};
    return p;
  }
  // The page to write to: allocated when absent, copied first when a checkpoint shares it
  // (its group, then the page itself). The TLB remembers pages made writable since the last
  // share, so repeated writes to a page cost one compare.
  Page* page_for_write(uint64_t page_index) {
    TlbEntry& e = m_tlb[page_index & (kTlbSize - 1)];
    if (e.index == page_index && e.writable) return e.page;
    return make_writable(page_index, true);
  }
  // Incremented whenever pages become shared (a checkpoint was taken), whenever a shared
  // page is replaced by its private copy (unshare), and whenever a Merkle flush consumes the
  // dirty marks (merkle_root/proof with pages pending): anyone caching page pointers (the
  // JIT's TLBs: "writable in place and marked dirty", or a read pointer that unshare makes
  // stale) must drop that cache when it changes.
  uint64_t write_epoch() const { return m_write_epoch; }
  void bump_write_epoch() { ++m_write_epoch; }
  // Records that bytes at page offset `off` changed (for the Merkle caches).
  void mark_dirty(Page* p, uint64_t off) {
    p->dirty_chunks |= uint64_t{1} << (off >> 6);
    list_dirty(p);
  }
  static void release(Page* p);  // drops one reference; frees the page at zero

  // Copies bytes into memory, allocating pages (the ELF loader and stack set-up).
  void set_range(uint64_t addr, const uint8_t* data, size_t len);
  void set_range_zero(uint64_t addr, size_t len);
  // A page whose bytes the caller fills in at once (state and checkpoint loaders): allocated
  // (or replaced when present: its old bytes are discarded), marked fully dirty. The caller
  // writes all 4,096 bytes before the next Merkle flush.
  Page* page_for_overwrite(uint64_t page_index);
  // Reads bytes (absent pages read as zero) into out.
  void read_range(uint64_t addr, uint64_t len, std::vector<uint8_t>& out) const;

  Hash32 merkle_root();
  // Drops every cached hash, as if every page had just been written (benchmarks of a cold
  // Merkle root; the next merkle_root() rehashes everything).
  void forget_hashes();
  // How merkle_root() recomputes the tree above pages after forget_tree (benchmarks).
  enum class TreeRedo {
    kRecursive,  // the recursion that small flushes use (scalar Keccak)
    kLevels,     // every node invalid, rehashed level by level (a long run's large flush)
    kWhole,      // no tree, built whole from the page roots (a memory just loaded)
  };
  // Drops the cached tree above pages only (page roots stay).
  void forget_tree(TreeRedo how);
  // Leaf (the 32 bytes holding addr) and its 59 sibling hashes, bottom-up.
  MemProof proof(uint64_t addr);

  size_t page_count() const { return m_page_count + m_lazy_left; }
  uint64_t usage_bytes() const { return page_count() * kPageSize; }
  // Page indices in ascending order.
  std::vector<uint64_t> sorted_page_indices() const;

  // Binary form of the reference's Memory.Serialize: u64 page count, then per page in
  // ascending index order the u64 index and the 4,096 bytes (all big-endian).
  void serialize(std::vector<uint8_t>& out) const;

 private:
  struct Node {
    Hash32 hash;
    bool valid = false;
  };
  static constexpr size_t kTlbSize = 256;
  struct TlbEntry {
    uint64_t index = ~uint64_t{0};
    Page* page = nullptr;
    bool writable = false;  // private group and page (set by make_writable only)
  };

  void flush_dirty();
  Page* table_find(uint64_t page_index) const {
    auto it = m_groups.find(page_index >> kGroupShift);
    return it == m_groups.end() ? nullptr : it->second->page[page_index & (kGroupPages - 1)];
  }
  // The group of `page_index` in this memory's directory, private to it (copied when shared,
  // created when absent).
  PageGroup& group_for_write(uint64_t page_index) const;
  static void release_group(PageGroup* g);  // drops one reference; frees the group at zero
  // page_for_write's slow path: the page, private to this memory, allocated when absent
  // (zero bytes), copied when shared (its bytes copied only when `keep_bytes`), and
  // remembered as writable in the TLB.
  Page* make_writable(uint64_t page_index, bool keep_bytes);
  // Puts `p` in slot page_index of its (private) group, where there was none.
  void insert_page(uint64_t page_index, Page* p) const;
  void list_dirty(Page* p) {
    if (!p->listed) {
      p->listed = true;
      m_dirty.push_back(p);
    }
  }
  void invalidate_path(uint64_t page_index);
  Hash32 node_hash(uint64_t gindex, unsigned depth);
  // The root of page `index` without reading a lazy page's bytes (zero subtree when absent).
  Hash32 page_root_of(uint64_t index);
  // Recomputes every invalid inner node level by level, many Keccaks at once (large flushes).
  void rehash_levels();
  // Builds the whole tree above pages from their roots (m_rebuild): sorted vectors level by
  // level, then one table fill of exactly the nodes needed, instead of growing it path by path.
  void rebuild_tree();
  Page* load_lazy(uint64_t page_index) const;   // materialises one lazy page, or null
  std::unique_ptr<Memory> share_pages() const;  // a memory over the same pages, no tree
  void forget_writable();  // after sharing: no page is writable in place any more

  // Mutable: materialising a lazy page (a const read) adds it to the table, as the TLB caches.
  mutable PageDirectory m_groups;     // page index >> kGroupShift -> group
  mutable uint64_t m_page_count = 0;  // pages in the groups (materialised ones)
  MiMap<Node> m_nodes;                // gindex (< 2^52) -> cached inner node
  std::vector<Page*> m_dirty;
  uint64_t m_write_epoch = 0;
  uint64_t m_invalid_hint = 0;  // inner nodes invalidated since the last full rehash (about)
  std::shared_ptr<const LazyPages> m_lazy;  // lazy pages (null: none ever)
  mutable uint64_t m_lazy_left = 0;         // lazy pages not in the groups yet
  bool m_no_tree = false;                   // m_nodes left empty on purpose (share_without_tree)
  bool m_rebuild = false;                   // m_nodes to be built whole (rebuild_tree)
  mutable std::array<TlbEntry, kTlbSize> m_tlb{};
};

std::string human_bytes(uint64_t n);  // "1.5 MiB", like the reference's Usage()

}  // namespace cb
