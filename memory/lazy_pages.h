// Lazy pages: guest pages known by their Merkle root and by where their bytes are stored, read
// only when needed (memory.h: Memory::attach_lazy, Memory::lookup). A checkpoint loaded from a
// trace directory (scheduler/checkpoint_store.h) is one: its index gives every page's root, so
// the memory root needs no page bytes, and `prove` reads only the pages its replay touches.
//
// Cost per lazy page: one LazyPages entry (index, root, location: 48 bytes, ~64 B with the
// table's load factor), shared by every copy of the memory (restores of a checkpoint).
#pragma once
#include <mimalloc.h>
#include <tsl/robin_map.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "memory/keccak.h"

namespace cb {

// Keys of the page table and of the inner-node cache are highly regular (contiguous page
// indices; an inner node's gindex shares its low bits with its descendants'), so the
// identity hash that robin-map uses by default piles them into a few buckets and the table
// keeps doubling (seen: GiBs of node table for a 256 MiB guest). A 64-bit finalizer spreads them.
struct MixHash {
  size_t operator()(uint64_t x) const noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return size_t(x);
  }
};
// The tables grow to tens of MiB at 1 GiB of guest memory and are copied at every
// checkpoint: mimalloc serves those large, short-lived buffers (the pages themselves come from
// the page pool).
template <class V>
using MiMap = tsl::robin_map<uint64_t, V, MixHash, std::equal_to<uint64_t>,
                             mi_stl_allocator<std::pair<uint64_t, V>>>;

// Where the bytes of lazy pages come from. Thread-safe: copies of one memory in several
// threads read through the same source.
class PageSource {
 public:
  virtual ~PageSource() = default;
  // Writes the 4,096 bytes stored at `location` (a value the source gave out) to `out`.
  // Failure (a damaged, truncated or vanished file) is not survivable for the run that needed
  // the page: it calls memory_fault() (memory/page_pool.h), which does not return.
  virtual void read_page(uint64_t location, uint8_t* out) const = 0;
};

struct LazyPage {
  Hash32 root{};  // Merkle root of the page's bytes (recorded beside them)
  uint64_t location = 0;
};

// An immutable set of lazy pages (page index -> root and location) and their source.
struct LazyPages {
  MiMap<LazyPage> pages;
  std::shared_ptr<const PageSource> source;
};

}  // namespace cb
