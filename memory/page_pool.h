// Storage for guest pages, and the memory budget.
//
// Every Page object (4 KiB of guest bytes + 64 bytes of metadata, see memory.h) lives in a
// slot of a large anonymous mapping ("arena", 64 MiB each, MAP_NORESERVE) instead of one
// aligned heap allocation per page: no allocator size-class rounding (mimalloc would round
// 4,160 bytes up to its 5 KiB bin), no per-allocation header, and fresh slots come from the
// kernel already zeroed, so allocating a page touches nothing until it is written.
// Freed slots go to a free list and are reused (zeroed again on reuse). The pool is shared by
// all Memory objects of the process (checkpoints share pages across them) and thread-safe.
//
// The budget: the bytes of live page slots may not exceed memory_budget(). Asking for more
// (a guest writing new pages, an ELF segment, a state file's page count, a copy-on-write
// copy) is not survivable for the run, so it calls the exhausted handler, which never
// returns: by default it prints one `error:` line and exits with status 1 (the CLI installs
// it with its own wording); tests may install one that throws, where no JIT frame is on the
// stack. Callers that can refuse up front (state and ELF loaders) check budget_allows()
// first and raise their own error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace cb {

// Bytes of page slots a process may hold. Default: default_memory_budget().
uint64_t memory_budget();
void set_memory_budget(uint64_t bytes);
// 7/8 of the machine's physical memory (MemTotal), less 512 MiB for everything else.
uint64_t default_memory_budget();
// True when `pages` more pages fit in the budget now.
bool budget_allows(uint64_t pages);
// Bytes of slots in use (live pages) and at the peak.
uint64_t pool_bytes_in_use();
uint64_t pool_bytes_peak();

// Never returns. `what` says what needed the memory.
[[noreturn]] void memory_exhausted(const std::string& what);
// Never returns: a page the run needs cannot be had for another reason than the budget (a
// lazy page's file is damaged or gone, memory/lazy_pages.h). Goes to the same handler, with
// `message` as it is (one line).
[[noreturn]] void memory_fault(const std::string& message);
using MemoryExhaustedHandler = void (*)(const std::string& message);  // must not return
// Returns the previous handler. nullptr restores the default (print and exit 1).
MemoryExhaustedHandler set_memory_exhausted_handler(MemoryExhaustedHandler h);

// One slot of `size` bytes (every caller passes sizeof(Page)); its first 4,096 bytes are zero
// when `zeroed`. Calls memory_exhausted() past the budget or when the kernel refuses.
void* pool_alloc(size_t size, bool zeroed);
void pool_free(void* slot);

}  // namespace cb
