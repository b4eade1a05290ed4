#include "memory/memory.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdio>

#include "memory/keccak_multi.h"
#include "memory/page_pool.h"

namespace cb {

const Hash32& zero_hash(unsigned height) {
  static const std::array<Hash32, 64> table = [] {
    std::array<Hash32, 64> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = keccak256_pair(t[i - 1], t[i - 1]);
    return t;
  }();
  return table[height];
}

namespace {
bool chunk_is_zero(const uint8_t* p) {
  uint64_t acc = 0;
  for (int i = 0; i < 8; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    acc |= w;
  }
  return acc == 0;
}
}  // namespace

void page_tree(const uint8_t* data, Hash32 nodes[128]) {
  // Level by level, bottom-up; `zero` marks the nodes of the current level that are roots of
  // all-zero subtrees (their value is zero_hash(height), no Keccak needed). The rest of a
  // level is hashed in one keccak256_64_many call (several lanes at once).
  const uint8_t* in[64];
  Hash32 out[64];
  unsigned slot[64];
  uint64_t zero = 0;  // bit i: node (width + i) of the current level is a zero subtree
  size_t n = 0;
  for (unsigned i = 0; i < 64; ++i) {
    if (chunk_is_zero(data + 64 * i)) {
      zero |= uint64_t{1} << i;
      nodes[64 + i] = zero_hash(1);
    } else {
      in[n] = data + 64 * i;
      slot[n++] = 64 + i;
    }
  }
  keccak256_64_many(in, out, n);
  for (size_t k = 0; k < n; ++k) nodes[slot[k]] = out[k];
  for (unsigned width = 32, height = 2; width >= 1; width >>= 1, ++height) {
    uint64_t next_zero = 0;
    n = 0;
    for (unsigned i = 0; i < width; ++i) {
      unsigned node = width + i;
      if (((zero >> (2 * i)) & 3) == 3) {
        next_zero |= uint64_t{1} << i;
        nodes[node] = zero_hash(height);
      } else {
        in[n] = nodes[2 * node].data();  // the two children are adjacent: 64 bytes
        slot[n++] = node;
      }
    }
    keccak256_64_many(in, out, n);
    for (size_t k = 0; k < n; ++k) nodes[slot[k]] = out[k];
    zero = next_zero;
  }
}

namespace {
// out[i] = keccak256(pairs[2i] || pairs[2i+1]) for i < n: many pairs at once (several Keccak
// lanes), in parallel for wide tree levels.
void hash_pairs(const Hash32* pairs, Hash32* out, size_t n) {
  constexpr size_t kGrain = 4096;
  if (n < 2 * kGrain) {
    keccak256_pairs_many(pairs, out, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<size_t>(0, n, kGrain),
                    [&](const tbb::blocked_range<size_t>& r) {
                      keccak256_pairs_many(pairs + 2 * r.begin(), out + r.begin(), r.size());
                    });
}
}  // namespace

Hash32 page_root(const uint8_t* data) {
  Hash32 nodes[128];
  page_tree(data, nodes);
  return nodes[1];
}

const Hash32& Page::root() {
  if (dirty_chunks != 0) {
    root_hash = page_root(data);
    dirty_chunks = 0;
  }
  return root_hash;
}

Page* Page::create(uint64_t index) {
  Page* p = new (pool_alloc(sizeof(Page), true)) Page;  // bytes zero (pool), not re-zeroed
  p->index = index;
  return p;
}

Page* Page::copy_of(const Page& src) {
  Page* p = new (pool_alloc(sizeof(Page), false)) Page;
  std::memcpy(p->data, src.data, kPageSize);
  p->root_hash = src.root_hash;
  p->dirty_chunks = src.dirty_chunks;
  p->index = src.index;
  return p;
}

Memory::Memory() {
  // ~One node per page: at robin-map's default 0.5 a dense 4 GiB memory (2^20 pages and a few
  // nodes more) would take 4 Mi buckets of 56 bytes, copied by every restore; 0.8 halves that.
  m_nodes.max_load_factor(0.8f);
}

void Memory::release(Page* p) {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    p->~Page();
    pool_free(p);
  }
}

void Memory::release_group(PageGroup* g) {
  if (g->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (Page* p : g->page)
    if (p) release(p);
  g->~PageGroup();
  mi_free(g);
}

PageGroup& Memory::group_for_write(uint64_t page_index) const {
  auto it = m_groups.find(page_index >> kGroupShift);
  PageGroup* g = it == m_groups.end() ? nullptr : it->second;
  // acquire: pairs with release_group() in another memory that copied this group and let go
  // of it, so our writes to it cannot race with its reads.
  if (g && g->refs.load(std::memory_order_acquire) == 1) return *g;
  void* raw = mi_malloc(sizeof(PageGroup));
  if (!raw) memory_exhausted("a page group (" + std::to_string(sizeof(PageGroup)) + " bytes)");
  PageGroup* fresh = new (raw) PageGroup;
  if (g) {
    // Copy-on-write of the group: its pages are now held by one more group.
    fresh->count = g->count;
    for (uint64_t i = 0; i < kGroupPages; ++i)
      if ((fresh->page[i] = g->page[i]))
        fresh->page[i]->refs.fetch_add(1, std::memory_order_relaxed);
    it.value() = fresh;
    release_group(g);
  } else {
    m_groups.emplace(page_index >> kGroupShift, fresh);
  }
  return *fresh;
}

void Memory::insert_page(uint64_t page_index, Page* p) const {
  PageGroup& g = group_for_write(page_index);
  g.page[page_index & (kGroupPages - 1)] = p;
  ++g.count;
  ++m_page_count;
  TlbEntry& e = m_tlb[page_index & (kTlbSize - 1)];
  e = TlbEntry{page_index, p, false};
}

Page* Memory::make_writable(uint64_t page_index, bool keep_bytes) {
  // A lazy page is materialised first: its bytes and root are what a copy starts from (and
  // one that is about to be overwritten is read too, which keeps the lazy count right).
  lookup(page_index);
  PageGroup& g = group_for_write(page_index);
  Page*& slot = g.page[page_index & (kGroupPages - 1)];
  Page* p = slot;
  if (!p) {
    p = Page::create(page_index);  // zero bytes: fresh pool slots come zeroed
    slot = p;
    ++g.count;
    ++m_page_count;
    list_dirty(p);
  } else if (p->refs.load(std::memory_order_acquire) > 1) {
    // acquire: pairs with release() in another memory that copied this page and let go of it.
    Page* fresh = keep_bytes ? Page::copy_of(*p) : Page::create(page_index);
    slot = fresh;
    // A page still waiting in the dirty list is replaced there by its copy.
    if (p->listed) {
      for (Page*& d : m_dirty)
        if (d == p) d = fresh;
      fresh->listed = true;
      p->listed = false;
    }
    release(p);
    p = fresh;
    ++m_write_epoch;  // the old page object is no longer ours: cached pointers to it are stale
  }
  m_tlb[page_index & (kTlbSize - 1)] = TlbEntry{page_index, p, true};
  return p;
}

void Memory::forget_writable() {
  for (TlbEntry& e : m_tlb) e.writable = false;
}

Memory::~Memory() {
  for (auto& kv : m_groups) release_group(kv.second);
}

Memory::Memory(Memory&& o) noexcept
    : m_groups(std::move(o.m_groups)),
      m_page_count(o.m_page_count),
      m_nodes(std::move(o.m_nodes)),
      m_dirty(std::move(o.m_dirty)),
      m_write_epoch(o.m_write_epoch + 1),
      m_invalid_hint(o.m_invalid_hint),
      m_lazy(std::move(o.m_lazy)),
      m_lazy_left(o.m_lazy_left),
      m_no_tree(o.m_no_tree),
      m_rebuild(o.m_rebuild) {
  o.m_groups.clear();
  o.m_page_count = 0;
  o.m_dirty.clear();
  o.m_lazy.reset();
  o.m_lazy_left = 0;
  ++o.m_write_epoch;
  o.m_tlb.fill(TlbEntry{});
}

Memory& Memory::operator=(Memory&& o) noexcept {
  if (this != &o) {
    this->~Memory();
    new (this) Memory(std::move(o));
  }
  return *this;
}

std::unique_ptr<Memory> Memory::clone() const {
  auto out = std::make_unique<Memory>();
  out->m_groups.reserve(m_groups.size());
  for (auto& kv : m_groups) {
    PageGroup& g = out->group_for_write(kv.first << kGroupShift);
    for (uint64_t i = 0; i < kGroupPages; ++i) {
      const Page* src = kv.second->page[i];
      if (!src) continue;
      Page* p = Page::copy_of(*src);
      g.page[i] = p;
      ++g.count;
      if (p->dirty_chunks) out->list_dirty(p);
    }
  }
  out->m_page_count = m_page_count;
  out->m_nodes = m_nodes;
  out->m_invalid_hint = m_invalid_hint;
  out->m_rebuild = m_rebuild;
  out->m_lazy = m_lazy;
  out->m_lazy_left = m_lazy_left;
  return out;
}

std::unique_ptr<Memory> Memory::share() {
  merkle_root();  // every page's root() runs: shared pages have dirty_chunks == 0
  ++m_write_epoch;
  forget_writable();
  return share_clean();
}

bool Memory::clean() const {
  if (!m_dirty.empty() || m_rebuild) return false;
  if (m_no_tree) return true;
  if (page_count() == 0) return true;
  auto it = m_nodes.find(1);
  return it != m_nodes.end() && it->second.valid;
}

std::unique_ptr<Memory> Memory::share_pages() const {
  auto out = std::make_unique<Memory>();
  out->m_groups = m_groups;
  for (auto& kv : m_groups) kv.second->refs.fetch_add(1, std::memory_order_relaxed);
  out->m_page_count = m_page_count;
  out->m_lazy = m_lazy;
  out->m_lazy_left = m_lazy_left;
  return out;
}

std::unique_ptr<Memory> Memory::share_clean() const {
  if (!clean()) std::abort();  // sharing a page with pending hash updates would race
  auto out = share_pages();
  if (!m_no_tree) {
    out->m_nodes = m_nodes;
    return out;
  }
  // Rebuilt from the page roots at the next merkle_root() (rebuild_tree).
  out->m_rebuild = true;
  return out;
}

std::unique_ptr<Memory> Memory::share_without_tree() {
  merkle_root();  // every page's root is current before it is shared
  ++m_write_epoch;
  forget_writable();
  auto out = share_pages();
  out->m_no_tree = true;
  return out;
}

std::vector<uint64_t> Memory::page_indices() const {
  std::vector<uint64_t> out;
  out.reserve(page_count());
  for (auto& kv : m_groups)
    for (uint64_t i = 0; i < kGroupPages; ++i)
      if (kv.second->page[i]) out.push_back((kv.first << kGroupShift) | i);
  if (m_lazy_left)
    for (auto& kv : m_lazy->pages)
      if (!table_find(kv.first)) out.push_back(kv.first);
  return out;
}

std::vector<std::pair<uint64_t, const Page*>> Memory::changed_pages(const Memory& base) const {
  if (m_lazy_left) load_all_lazy();
  if (base.m_lazy_left) base.load_all_lazy();
  std::vector<std::pair<uint64_t, const Page*>> out;
  for (auto& kv : m_groups) {
    auto it = base.m_groups.find(kv.first);
    const PageGroup* theirs = it == base.m_groups.end() ? nullptr : it->second;
    if (theirs == kv.second) continue;  // still shared: nothing in it was written
    for (uint64_t i = 0; i < kGroupPages; ++i) {
      const Page* p = kv.second->page[i];
      if (p && !(theirs && theirs->page[i] == p))
        out.emplace_back((kv.first << kGroupShift) | i, p);
    }
  }
  return out;
}

uint32_t Memory::page_owners(uint64_t page_index) const {
  const Page* p = table_find(page_index);
  return p ? p->refs.load() : 0;
}

uint32_t Memory::group_owners(uint64_t page_index) const {
  auto it = m_groups.find(page_index >> kGroupShift);
  return it == m_groups.end() ? 0 : it->second->refs.load();
}

Page* Memory::load_lazy(uint64_t page_index) const {
  auto it = m_lazy->pages.find(page_index);
  if (it == m_lazy->pages.end()) return nullptr;
  Page* p = new (pool_alloc(sizeof(Page), false)) Page;
  m_lazy->source->read_page(it->second.location, p->data);
  p->root_hash = it->second.root;  // the source vouches for the bytes (checksums)
  p->dirty_chunks = 0;
  p->index = page_index;
  insert_page(page_index, p);
  --m_lazy_left;
  return p;
}

void Memory::load_all_lazy() const {
  if (!m_lazy_left) return;
  // In storage order, so that a source reading blocks of pages reads each block once.
  std::vector<std::pair<uint64_t, uint64_t>> todo;  // location, index
  todo.reserve(m_lazy_left);
  for (auto& kv : m_lazy->pages)
    if (!table_find(kv.first)) todo.emplace_back(kv.second.location, kv.first);
  std::sort(todo.begin(), todo.end());
  for (auto& [loc, index] : todo) load_lazy(index);
}

void Memory::attach_lazy(std::shared_ptr<const LazyPages> lazy,
                         const std::vector<uint64_t>& changed) {
  if (!m_groups.empty() || !m_dirty.empty()) std::abort();  // only for memories being loaded
  m_lazy = std::move(lazy);
  m_lazy_left = m_lazy->pages.size();
  // About one inner node per page above contiguous pages: sized once, not grown by doubling.
  if (m_nodes.empty()) {
    m_rebuild = true;  // a fresh memory: the whole tree is built from the roots at once
  } else {
    for (uint64_t index : changed) invalidate_path(index);
    m_invalid_hint += changed.size();
  }
  ++m_write_epoch;
}

void Memory::invalidate_path(uint64_t page_index) {
  // Ancestors of the page: gindex (1<<52 | index) >> 1 up to the root (gindex 1).
  uint64_t g = ((uint64_t{1} << kPageKeySize) | page_index) >> 1;
  for (; g > 0; g >>= 1) {
    auto it = m_nodes.find(g);
    if (it == m_nodes.end()) {
      m_nodes.emplace(g, Node{});
      continue;
    }
    if (!it->second.valid) break;  // its ancestors are invalid already
    it.value().valid = false;
  }
}

void Memory::flush_dirty() {
  if (m_dirty.empty()) return;
  // The dirty marks are consumed: a cached "writable and already marked dirty" page pointer
  // (the JIT's write TLB) must go through mark_dirty again, so this changes the epoch too.
  ++m_write_epoch;
  if (m_dirty.size() >= 16) {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, m_dirty.size(), 8),
                      [&](const tbb::blocked_range<size_t>& r) {
                        for (size_t i = r.begin(); i != r.end(); ++i) m_dirty[i]->root();
                      });
  }
  // No tree yet (a memory just built or loaded): it is built whole from the page roots at the
  // next merkle_root(), which is cheaper than growing it path by path.
  if (m_nodes.empty()) m_rebuild = true;
  for (Page* p : m_dirty) {
    p->listed = false;
    if (!m_rebuild) invalidate_path(p->index);
  }
  if (!m_rebuild) m_invalid_hint += m_dirty.size();
  m_dirty.clear();
}

Hash32 Memory::page_root_of(uint64_t index) {
  if (Page* p = table_find(index)) return p->root();
  if (m_lazy_left) {
    auto l = m_lazy->pages.find(index);
    if (l != m_lazy->pages.end()) return l->second.root;
  }
  return zero_hash(kMemProofLeafCount - 1 - kPageKeySize);
}

void Memory::rehash_levels() {
  // Invalid inner nodes by depth (gindex g has depth 63 - clz(g)); an invalid node has only
  // invalid ancestors, so processing depths from the bottom up finds every child current.
  std::vector<std::vector<uint64_t>> by_depth(kPageKeySize);
  for (auto& kv : m_nodes)
    if (!kv.second.valid) by_depth[63 - __builtin_clzll(kv.first)].push_back(kv.first);
  std::vector<Hash32> pairs, out;
  for (int depth = int(kPageKeySize) - 1; depth >= 0; --depth) {
    const std::vector<uint64_t>& level = by_depth[size_t(depth)];
    if (level.empty()) continue;
    pairs.resize(2 * level.size());
    out.resize(level.size());
    const unsigned child = unsigned(depth) + 1;
    const Hash32& zero = zero_hash(kMemProofLeafCount - 1 - child);
    for (size_t i = 0; i < level.size(); ++i) {
      for (uint64_t side = 0; side < 2; ++side) {
        uint64_t g = (level[i] << 1) | side;
        Hash32& h = pairs[2 * i + side];
        if (child == kPageKeySize) {
          h = page_root_of(g & ((uint64_t{1} << kPageKeySize) - 1));
        } else {
          auto it = m_nodes.find(g);
          h = it == m_nodes.end() ? zero : it->second.hash;
        }
      }
    }
    // Many pairs at once (several Keccak lanes), in parallel for the wide levels.
    hash_pairs(pairs.data(), out.data(), level.size());
    for (size_t i = 0; i < level.size(); ++i) {
      auto it = m_nodes.find(level[i]);
      it.value().hash = out[i];
      it.value().valid = true;
    }
  }
  m_invalid_hint = 0;
}

void Memory::rebuild_tree() {
  // Every page's (gindex, root) in ascending order: the bottom level of the tree above pages.
  struct Item {
    uint64_t g;
    Hash32 h;
  };
  std::vector<Item> leaves;
  leaves.reserve(page_count());
  for (auto& kv : m_groups)
    for (uint64_t i = 0; i < kGroupPages; ++i)
      if (Page* p = kv.second->page[i])
        leaves.push_back(
            {(uint64_t{1} << kPageKeySize) | (kv.first << kGroupShift) | i, p->root()});
  if (m_lazy_left)
    for (auto& kv : m_lazy->pages)
      if (!table_find(kv.first))
        leaves.push_back({(uint64_t{1} << kPageKeySize) | kv.first, kv.second.root});
  std::sort(leaves.begin(), leaves.end(), [](const Item& a, const Item& b) { return a.g < b.g; });
  // Level by level up: siblings present side by side are paired, a lone child gets the zero
  // subtree as its sibling; many pairs at once (several Keccak lanes), in parallel when wide.
  std::vector<std::vector<Item>> parents;
  std::vector<Hash32> pairs;
  size_t total = 0;
  for (unsigned child = kPageKeySize; child >= 1 && !leaves.empty(); --child) {
    const std::vector<Item>& level = parents.empty() ? leaves : parents.back();
    const Hash32& zero = zero_hash(kMemProofLeafCount - 1 - child);
    std::vector<Item> up;
    up.reserve(level.size() / 2 + 1);
    pairs.clear();
    pairs.reserve(2 * (level.size() / 2 + 1));
    for (size_t i = 0; i < level.size();) {
      const uint64_t g = level[i].g;
      if (!(g & 1) && i + 1 < level.size() && level[i + 1].g == (g | 1)) {
        pairs.push_back(level[i].h);
        pairs.push_back(level[i + 1].h);
        i += 2;
      } else if (!(g & 1)) {
        pairs.push_back(level[i].h);
        pairs.push_back(zero);
        ++i;
      } else {
        pairs.push_back(zero);
        pairs.push_back(level[i].h);
        ++i;
      }
      up.push_back({g >> 1, Hash32{}});
    }
    std::vector<Hash32> out(up.size());
    hash_pairs(pairs.data(), out.data(), up.size());
    for (size_t i = 0; i < up.size(); ++i) up[i].h = out[i];
    total += up.size();
    parents.push_back(std::move(up));
  }
  m_nodes.clear();
  m_nodes.reserve(total);
  for (const std::vector<Item>& lv : parents)
    for (const Item& it : lv) m_nodes.emplace(it.g, Node{it.h, true});
  m_invalid_hint = 0;
  m_rebuild = false;
}

Hash32 Memory::node_hash(uint64_t gindex, unsigned depth) {
  if (depth == kPageKeySize) return page_root_of(gindex & ((uint64_t{1} << kPageKeySize) - 1));
  auto it = m_nodes.find(gindex);
  if (it == m_nodes.end()) return zero_hash(kMemProofLeafCount - 1 - depth);
  if (it->second.valid) return it->second.hash;
  Hash32 left = node_hash(gindex << 1, depth + 1);
  Hash32 right = node_hash((gindex << 1) | 1, depth + 1);
  Hash32 h = keccak256_pair(left, right);
  auto it2 = m_nodes.find(gindex);  // recursion may have rehashed the table
  it2.value().hash = h;
  it2.value().valid = true;
  return h;
}

void Memory::forget_hashes() {
  load_all_lazy();
  m_nodes.clear();
  m_dirty.clear();
  for (auto& kv : m_groups) {
    for (Page* p : kv.second->page) {
      if (!p) continue;
      p->dirty_chunks = ~uint64_t{0};
      p->listed = true;
      m_dirty.push_back(p);
    }
  }
  ++m_write_epoch;
}

void Memory::forget_tree(TreeRedo how) {
  flush_dirty();
  m_nodes.clear();
  if (how == TreeRedo::kWhole) {
    m_rebuild = true;
    return;
  }
  std::vector<uint64_t> all = page_indices();
  m_nodes.reserve(all.size() + all.size() / 8 + 64);
  for (uint64_t index : all) invalidate_path(index);
  m_invalid_hint = how == TreeRedo::kLevels ? all.size() + 256 : 0;
}

Hash32 Memory::merkle_root() {
  if (m_no_tree) std::abort();  // a checkpoint's frozen memory: restore it first
  flush_dirty();
  // No tree yet: built whole, level by level. After many changes (a long run), the invalid
  // nodes level by level with the multi-buffer Keccak; after a few, the recursion visits only
  // the invalid paths.
  if (m_rebuild) {
    rebuild_tree();
  } else if (m_invalid_hint >= 256) {
    rehash_levels();
  }
  Hash32 root = node_hash(1, 0);
  m_invalid_hint = 0;  // every node is valid now
  return root;
}

MemProof Memory::proof(uint64_t addr) {
  flush_dirty();
  if (m_rebuild) {
    rebuild_tree();
  } else if (m_invalid_hint >= 256) {
    rehash_levels();
  }
  MemProof out{};
  uint8_t* w = out.data();
  uint64_t page_index = addr >> kPageAddrSize;
  Page* p = lookup(page_index);
  unsigned leaf = (addr & kPageAddrMask) >> 5;  // 0..127
  if (p) {
    Hash32 nodes[128];
    page_tree(p->data, nodes);  // the page's inner nodes are not cached: recompute them
    std::memcpy(w, p->data + 32 * leaf, 32);
    std::memcpy(w + 32, p->data + 32 * (leaf ^ 1), 32);
    unsigned n = 64 + (leaf >> 1);
    for (int i = 2; n > 1; ++i, n >>= 1) std::memcpy(w + 32 * i, nodes[n ^ 1].data(), 32);
  } else {
    for (unsigned i = 0; i < 8; ++i)
      std::memcpy(w + 32 * i, zero_hash(i == 0 ? 0 : i - 1).data(), 32);
  }
  // Siblings above the page: depth 52 (the page's sibling) up to depth 1.
  uint64_t g = (uint64_t{1} << kPageKeySize) | page_index;
  for (unsigned depth = kPageKeySize, i = 8; depth >= 1; --depth, ++i, g >>= 1) {
    Hash32 h = node_hash(g ^ 1, depth);
    std::memcpy(w + 32 * i, h.data(), 32);
  }
  return out;
}

void Memory::set_range(uint64_t addr, const uint8_t* data, size_t len) {
  while (len > 0) {
    Page* p = page_for_write(addr >> kPageAddrSize);
    uint64_t off = addr & kPageAddrMask;
    size_t n = std::min<uint64_t>(len, kPageSize - off);
    std::memcpy(p->data + off, data, n);
    p->dirty_chunks = ~uint64_t{0};
    list_dirty(p);
    addr += n;
    data += n;
    len -= n;
  }
}

Page* Memory::page_for_overwrite(uint64_t page_index) {
  // A shared page is replaced by a fresh one without copying the bytes about to be overwritten.
  Page* p = make_writable(page_index, false);
  p->dirty_chunks = ~uint64_t{0};
  list_dirty(p);
  return p;
}

void Memory::set_range_zero(uint64_t addr, size_t len) {
  std::vector<uint8_t> zeros(std::min<size_t>(len, kPageSize), 0);
  while (len > 0) {
    size_t n = std::min<size_t>(len, zeros.size());
    set_range(addr, zeros.data(), n);
    addr += n;
    len -= n;
  }
}

void Memory::read_range(uint64_t addr, uint64_t len, std::vector<uint8_t>& out) const {
  out.clear();
  out.reserve(std::min<uint64_t>(len, 1 << 20));
  while (len > 0) {
    uint64_t off = addr & kPageAddrMask;
    uint64_t n = std::min<uint64_t>(len, kPageSize - off);
    const Page* p = lookup(addr >> kPageAddrSize);
    if (p)
      out.insert(out.end(), p->data + off, p->data + off + n);
    else
      out.insert(out.end(), n, 0);
    addr += n;
    len -= n;
  }
}

std::vector<uint64_t> Memory::sorted_page_indices() const {
  load_all_lazy();
  std::vector<uint64_t> keys;
  keys.reserve(m_page_count);
  for (auto& kv : m_groups)
    for (uint64_t i = 0; i < kGroupPages; ++i)
      if (kv.second->page[i]) keys.push_back((kv.first << kGroupShift) | i);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void Memory::serialize(std::vector<uint8_t>& out) const {
  auto keys = sorted_page_indices();
  size_t base = out.size();
  out.resize(base + 8 + keys.size() * (8 + kPageSize));
  uint8_t* w = out.data() + base;
  store_be64(w, keys.size());
  w += 8;
  for (uint64_t k : keys) {
    store_be64(w, k);
    std::memcpy(w + 8, table_find(k)->data, kPageSize);
    w += 8 + kPageSize;
  }
}

std::string human_bytes(uint64_t total) {
  char buf[64];
  if (total < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(total));
    return buf;
  }
  uint64_t div = 1024;
  int exp = 0;
  for (uint64_t n = total / 1024; n >= 1024; n /= 1024) {
    div *= 1024;
    ++exp;
  }
  std::snprintf(buf, sizeof buf, "%.1f %ciB", double(total) / double(div), "KMGTPE"[exp]);
  return buf;
}

}  // namespace cb
