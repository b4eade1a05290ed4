#include "memory/memory.h"

#include <algorithm>
#include <cstdio>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

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

Memory::Memory() = default;

void Memory::release(Page* p) {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    p->~Page();
    pool_free(p);
  }
}

Page* Memory::unshare(Page* old) { return replace_page(old, Page::copy_of(*old)); }

Page* Memory::replace_page(Page* old, Page* p) {
  m_pages[old->index] = p;
  TlbEntry& e = m_tlb[old->index & (kTlbSize - 1)];
  if (e.index == old->index) e.page = p;
  // A page still waiting in the dirty list is replaced there by its copy.
  if (old->listed) {
    for (Page*& d : m_dirty)
      if (d == old) d = p;
    p->listed = true;
    old->listed = false;
  }
  release(old);
  ++m_write_epoch;  // the old page object is no longer ours: cached pointers to it are stale
  return p;
}

Memory::~Memory() {
  for (auto& kv : m_pages) release(kv.second);
}

Memory::Memory(Memory&& o) noexcept
    : m_pages(std::move(o.m_pages)),
      m_nodes(std::move(o.m_nodes)),
      m_dirty(std::move(o.m_dirty)),
      m_write_epoch(o.m_write_epoch + 1) {
  o.m_pages.clear();
  o.m_dirty.clear();
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
  out->m_pages.reserve(m_pages.size());
  for (auto& kv : m_pages) {
    Page* p = Page::copy_of(*kv.second);
    out->m_pages.emplace(kv.first, p);
    if (p->dirty_chunks) {
      p->listed = true;
      out->m_dirty.push_back(p);
    }
  }
  out->m_nodes = m_nodes;
  return out;
}

std::unique_ptr<Memory> Memory::share() {
  merkle_root();  // every page's root() runs: shared pages have dirty_chunks == 0
  ++m_write_epoch;
  return share_clean();
}

bool Memory::clean() const {
  if (!m_dirty.empty()) return false;
  if (m_pages.empty()) return true;
  auto it = m_nodes.find(1);
  return it != m_nodes.end() && it->second.valid;
}

std::unique_ptr<Memory> Memory::share_clean() const {
  if (!clean()) std::abort();  // sharing a page with pending hash updates would race
  auto out = std::make_unique<Memory>();
  out->m_pages.reserve(m_pages.size());
  for (auto& kv : m_pages) {
    kv.second->refs.fetch_add(1, std::memory_order_relaxed);
    out->m_pages.emplace(kv.first, kv.second);
  }
  out->m_nodes = m_nodes;
  return out;
}

Page* Memory::alloc_page(uint64_t page_index) {
  Page* p = Page::create(page_index);
  m_pages.emplace(page_index, p);
  p->listed = true;
  m_dirty.push_back(p);
  TlbEntry& e = m_tlb[page_index & (kTlbSize - 1)];
  e.index = page_index;
  e.page = p;
  return p;
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
  for (Page* p : m_dirty) {
    p->listed = false;
    invalidate_path(p->index);
  }
  m_dirty.clear();
}

Hash32 Memory::node_hash(uint64_t gindex, unsigned depth) {
  if (depth == kPageKeySize) {
    Page* p = lookup(gindex & ((uint64_t{1} << kPageKeySize) - 1));
    return p ? p->root() : zero_hash(kMemProofLeafCount - 1 - depth);
  }
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
  m_nodes.clear();
  m_dirty.clear();
  for (auto& kv : m_pages) {
    Page* p = kv.second;
    p->dirty_chunks = ~uint64_t{0};
    p->listed = true;
    m_dirty.push_back(p);
  }
  ++m_write_epoch;
}

Hash32 Memory::merkle_root() {
  flush_dirty();
  return node_hash(1, 0);
}

MemProof Memory::proof(uint64_t addr) {
  flush_dirty();
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
    for (unsigned i = 0; i < 8; ++i) std::memcpy(w + 32 * i, zero_hash(i == 0 ? 0 : i - 1).data(), 32);
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
    if (!p->listed) {
      p->listed = true;
      m_dirty.push_back(p);
    }
    addr += n;
    data += n;
    len -= n;
  }
}

Page* Memory::page_for_overwrite(uint64_t page_index) {
  Page* p = lookup(page_index);
  // A shared page is replaced by a fresh one without copying the bytes about to be overwritten.
  if (p && p->refs.load(std::memory_order_acquire) > 1) p = replace_page(p, Page::create(page_index));
  if (!p) {
    p = Page::create(page_index);  // zero bytes the caller overwrites: fresh pool slots are free
    m_pages.emplace(page_index, p);
    TlbEntry& e = m_tlb[page_index & (kTlbSize - 1)];
    e.index = page_index;
    e.page = p;
  }
  p->dirty_chunks = ~uint64_t{0};
  if (!p->listed) {
    p->listed = true;
    m_dirty.push_back(p);
  }
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
  std::vector<uint64_t> keys;
  keys.reserve(m_pages.size());
  for (auto& kv : m_pages) keys.push_back(kv.first);
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
    std::memcpy(w + 8, m_pages.find(k)->second->data, kPageSize);
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
