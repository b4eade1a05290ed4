#include "memory/page_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <vector>

#include "memory/memory.h"

namespace cb {
namespace {

constexpr size_t kArenaBytes = size_t{64} << 20;

uint64_t read_mem_total() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") return kib * 1024;
    in.ignore(256, '\n');
  }
  return uint64_t{8} << 30;  // no /proc: assume a small machine
}

std::atomic<uint64_t> g_budget{0};  // 0 = not set yet: default_memory_budget()
std::atomic<MemoryExhaustedHandler> g_handler{nullptr};

class Pool {
 public:
  void* alloc(size_t size, bool zeroed) {
    std::unique_lock lock(m_mutex);
    if (m_slot == 0) m_slot = size;
    if (size != m_slot) std::abort();  // one slot size per process (sizeof(Page))
    if (m_used + m_slot > memory_budget()) {
      lock.unlock();
      memory_exhausted("a new guest page");
    }
    void* p;
    if (!m_free.empty()) {
      p = m_free.back();
      m_free.pop_back();
      if (zeroed) std::memset(p, 0, kPageSize);
    } else {
      if (m_next == nullptr || m_next + m_slot > m_end) {
        void* a = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (a == MAP_FAILED) {
          lock.unlock();
          memory_exhausted("a new 64 MiB page arena (the kernel refused the mapping)");
        }
        // Transparent huge pages where the kernel offers them (madvise mode): a 1 GiB guest
        // then costs 512 page faults instead of 262,144 (the sys time of loading a state).
        (void)madvise(a, kArenaBytes, MADV_HUGEPAGE);
        m_next = static_cast<uint8_t*>(a);
        m_end = m_next + kArenaBytes;
      }
      p = m_next;  // fresh from the kernel: already zero
      m_next += m_slot;
    }
    m_used += m_slot;
    if (m_used > m_peak) m_peak = m_used;
    return p;
  }
  void free(void* p) {
    std::lock_guard lock(m_mutex);
    m_free.push_back(p);
    m_used -= m_slot;
  }
  uint64_t used() {
    std::lock_guard lock(m_mutex);
    return m_used;
  }
  uint64_t peak() {
    std::lock_guard lock(m_mutex);
    return m_peak;
  }
  uint64_t slot() {
    std::lock_guard lock(m_mutex);
    return m_slot ? m_slot : sizeof(Page);
  }

 private:
  std::mutex m_mutex;
  size_t m_slot = 0;
  uint8_t* m_next = nullptr;
  uint8_t* m_end = nullptr;
  std::vector<void*> m_free;
  uint64_t m_used = 0, m_peak = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: pages may outlive static destructors
  return *p;
}

[[noreturn]] void default_handler(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  _exit(1);
}

}  // namespace

uint64_t default_memory_budget() {
  uint64_t total = read_mem_total();
  uint64_t b = total / 8 * 7;
  return b > (uint64_t{1} << 30) ? b - (uint64_t{512} << 20) : b / 2;
}

uint64_t memory_budget() {
  uint64_t b = g_budget.load(std::memory_order_relaxed);
  if (b == 0) {
    b = default_memory_budget();
    g_budget.store(b, std::memory_order_relaxed);
  }
  return b;
}

void set_memory_budget(uint64_t bytes) {
  g_budget.store(bytes ? bytes : 1, std::memory_order_relaxed);
}

bool budget_allows(uint64_t pages) {
  uint64_t slot = pool().slot();
  uint64_t used = pool().used();
  uint64_t budget = memory_budget();
  return used <= budget && pages <= (budget - used) / slot;
}

uint64_t pool_bytes_in_use() { return pool().used(); }
uint64_t pool_bytes_peak() { return pool().peak(); }

void memory_exhausted(const std::string& what) {
  std::string msg = "out of memory: " + what + " would exceed the memory budget of " +
                    human_bytes(memory_budget()) + " (" + human_bytes(pool_bytes_in_use()) +
                    " of guest pages in use; raise it with --max-memory)";
  MemoryExhaustedHandler h = g_handler.load();
  if (h) h(msg);
  default_handler(msg);
}

void memory_fault(const std::string& message) {
  MemoryExhaustedHandler h = g_handler.load();
  if (h) h(message);
  default_handler(message);
}

MemoryExhaustedHandler set_memory_exhausted_handler(MemoryExhaustedHandler h) {
  return g_handler.exchange(h);
}

void* pool_alloc(size_t size, bool zeroed) { return pool().alloc(size, zeroed); }
void pool_free(void* slot) { pool().free(slot); }

}  // namespace cb
