#include "interp/state_extent.h"

#include "interp/constants.h"
#include "interp/state.h"
#include "memory/memory.h"

namespace cb {

namespace {
// The fixed fields between the memory pages and the thread stacks (State::serialize):
// pre-image key 32, offset 8, heap 8, LL status 1, LL address 8, LL owner 8, exit code 1,
// exited 1, step 8, steps since switch 8, traverse right 1, next thread id 8.
constexpr uint64_t kFixedFields = 32 + 8 + 8 + 1 + 8 + 8 + 1 + 1 + 8 + 8 + 1 + 8;
constexpr uint64_t kPageRecord = 8 + kPageSize;
// Anything larger cannot be a state we would read (far beyond kMaxStateFileBytes).
constexpr uint64_t kHuge = uint64_t{1} << 62;
}  // namespace

uint64_t state_extent(std::span<const uint8_t> b, uint64_t max_bytes) {
  if (b.empty()) return 0;
  if (b[0] != kStateVersion) (void)State::deserialize(b.first(1));  // throws its own message
  uint64_t pos = 1;
  auto u64_at = [&](uint64_t at, uint64_t* v) {
    if (b.size() < at + 8) return false;
    *v = load_be64(b.data() + at);
    return true;
  };
  uint64_t pages;
  if (!u64_at(pos, &pages)) return 0;
  pos += 8;
  if (pages > kHuge / kPageRecord) return kHuge;  // refused by the caller's limit
  pos += pages * kPageRecord + kFixedFields;
  for (int stack = 0; stack < 2; ++stack) {
    // What is known already exceeds the limit: say so now, before reading on.
    if (pos > max_bytes) return pos;
    uint64_t n;
    if (!u64_at(pos, &n)) return 0;
    pos += 8;
    if (n > kHuge / kThreadSize) return kHuge;
    pos += n * kThreadSize;
    if (pos > kHuge) return kHuge;
  }
  if (b.size() < pos + 4) return 0;
  const uint8_t* h = b.data() + pos;
  const uint64_t hint = uint64_t(h[0]) << 24 | uint64_t(h[1]) << 16 | uint64_t(h[2]) << 8 | h[3];
  return pos + 4 + hint;
}

ReadLimits state_read_limits(std::function<bool()> should_abort, uint64_t max_bytes) {
  ReadLimits l;
  l.max_bytes = max_bytes;
  l.should_abort = std::move(should_abort);
  l.extent = [max_bytes](std::span<const uint8_t> b) { return state_extent(b, max_bytes); };
  return l;
}

}  // namespace cb
