#include "memory/memory.h"

#include <algorithm>
#include <cstdio>

#include <mimalloc.h>
#include <tbb/parallel_for.h>

namespace cb {

const Hash32& zero_hash(unsigned height) {
  static const std::array<Hash32, 64> table = [] {
    std::array<Hash32, 64> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = keccak256_pair(t[i - 1], t[i - 1]);
    return t;
  }();
  return table[height];
}

const Hash32& Page::root() {
  uint64_t d = dirty_chunks;
  if (d == 0) return cache[1];
  for (uint64_t m = d; m; m &= m - 1) {
    unsigned i = __builtin_ctzll(m);
    cache[64 + i] = keccak256_64(data + 64 * i);
  }
  // Level by level: node n at level with `width` nodes covers chunks [k*span, (k+1)*span).
  for (unsigned width = 32, span = 2; width >= 1; width >>= 1, span <<= 1) {
    uint64_t span_mask = span == 64 ? ~uint64_t{0} : ((uint64_t{1} << span) - 1);
    for (unsigned k = 0; k < width; ++k) {
      if (d & (span_mask << (k * span))) {
        unsigned n = width + k;
        cache[n] = keccak256_pair(cache[2 * n], cache[2 * n + 1]);
      }
    }
  }
  dirty_chunks = 0;
  return cache[1];
}

Memory::Memory() = default;

void Memory::release(Page* p) {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    p->~Page();
    mi_free(p);
  }
}

Page* Memory::unshare(Page* old) {
  void* mem = mi_malloc_aligned(sizeof(Page), alignof(Page));
  Page* p = new (mem) Page(*old);
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
    void* mem = mi_malloc_aligned(sizeof(Page), alignof(Page));
    Page* p = new (mem) Page(*kv.second);
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
  void* mem = mi_malloc_aligned(sizeof(Page), alignof(Page));
  Page* p = new (mem) Page();
  std::memset(p->data, 0, sizeof(p->data));
  p->index = page_index;
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
  if (m_dirty.size() >= 64) {
    tbb::parallel_for(size_t{0}, m_dirty.size(), [&](size_t i) { m_dirty[i]->root(); });
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
    p->root();
    std::memcpy(w, p->data + 32 * leaf, 32);
    std::memcpy(w + 32, p->data + 32 * (leaf ^ 1), 32);
    unsigned n = 64 + (leaf >> 1);
    for (int i = 2; n > 1; ++i, n >>= 1) std::memcpy(w + 32 * i, p->cache[n ^ 1].data(), 32);
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
