#include "interp/state.h"

#include <algorithm>
#include <cstring>

#include "interp/state_version.h"
#include "memory/page_pool.h"

namespace cb {

namespace {
void put64(uint8_t*& w, uint64_t v) {
  store_be64(w, v);
  w += 8;
}
}  // namespace

std::array<uint8_t, kThreadSize> Thread::encode() const {
  std::array<uint8_t, kThreadSize> out{};
  uint8_t* w = out.data();
  put64(w, id);
  *w++ = exit_code;
  *w++ = exited ? 1 : 0;
  put64(w, cpu.pc);
  put64(w, cpu.next_pc);
  put64(w, cpu.lo);
  put64(w, cpu.hi);
  for (uint64_t r : regs) put64(w, r);
  return out;
}

Hash32 Thread::hash() const {
  auto e = encode();
  return keccak256(e.data(), e.size());
}

Hash32 thread_stack_root(std::span<const Thread> stack) {
  Hash32 root = zero_hash(1);  // the empty-stack root
  for (const Thread& t : stack) root = keccak256_pair(root, t.hash());
  return root;
}

uint8_t vm_status(bool exited, uint8_t exit_code) {
  if (!exited) return kVmUnfinished;
  switch (exit_code) {
    case 0:
      return kVmValid;
    case 1:
      return kVmInvalid;
    default:
      return kVmPanic;
  }
}

Hash32 state_hash_from_witness(std::span<const uint8_t, kStateWitnessSize> w) {
  Hash32 h = keccak256(w.data(), w.size());
  h[0] = vm_status(w[kWitnessExitedOffset] == 1, w[kWitnessExitCodeOffset]);
  return h;
}

State::State() {
  Thread t;
  left.push_back(t);
}

State State::clone() const {
  State s;
  s.memory = memory->clone();
  s.preimage_key = preimage_key;
  s.preimage_offset = preimage_offset;
  s.heap = heap;
  s.ll_status = ll_status;
  s.ll_address = ll_address;
  s.ll_owner = ll_owner;
  s.exit_code = exit_code;
  s.exited = exited;
  s.step = step;
  s.steps_since_switch = steps_since_switch;
  s.traverse_right = traverse_right;
  s.left = left;
  s.right = right;
  s.next_thread_id = next_thread_id;
  s.last_hint = last_hint;
  return s;
}

uint8_t State::vm_status() const { return cb::vm_status(exited, exit_code); }

std::array<uint8_t, kStateWitnessSize> State::encode_witness() {
  std::array<uint8_t, kStateWitnessSize> out{};
  uint8_t* w = out.data();
  Hash32 root = memory->merkle_root();
  std::memcpy(w, root.data(), 32);
  w += 32;
  std::memcpy(w, preimage_key.data(), 32);
  w += 32;
  put64(w, preimage_offset);
  put64(w, heap);
  *w++ = ll_status;
  put64(w, ll_address);
  put64(w, ll_owner);
  *w++ = exit_code;  // kWitnessExitCodeOffset
  *w++ = exited ? 1 : 0;
  put64(w, step);
  put64(w, steps_since_switch);
  *w++ = traverse_right ? 1 : 0;
  Hash32 l = thread_stack_root(left), r = thread_stack_root(right);
  std::memcpy(w, l.data(), 32);
  w += 32;
  std::memcpy(w, r.data(), 32);
  w += 32;
  put64(w, next_thread_id);
  return out;
}

Hash32 State::hash() {
  auto w = encode_witness();
  return state_hash_from_witness(w);
}

std::array<uint8_t, kThreadWitnessSize> State::encode_thread_proof() const {
  std::array<uint8_t, kThreadWitnessSize> out{};
  const auto& stack = active();
  auto t = stack.back().encode();
  std::memcpy(out.data(), t.data(), t.size());
  Hash32 rest = thread_stack_root(std::span<const Thread>(stack.data(), stack.size() - 1));
  std::memcpy(out.data() + kThreadSize, rest.data(), 32);
  return out;
}

std::vector<uint8_t> State::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(1 + 8 + memory->page_count() * (8 + kPageSize) + 256 + thread_count() * kThreadSize);
  out.push_back(kStateVersion);
  memory->serialize(out);
  std::vector<uint8_t> tail = serialize_tail();
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::vector<uint8_t> State::serialize_tail() const {
  std::vector<uint8_t> out;
  auto put = [&](uint64_t v) {
    uint8_t b[8];
    store_be64(b, v);
    out.insert(out.end(), b, b + 8);
  };
  out.insert(out.end(), preimage_key.begin(), preimage_key.end());
  put(preimage_offset);
  put(heap);
  out.push_back(ll_status);
  put(ll_address);
  put(ll_owner);
  out.push_back(exit_code);
  out.push_back(exited ? 1 : 0);
  put(step);
  put(steps_since_switch);
  out.push_back(traverse_right ? 1 : 0);
  put(next_thread_id);
  for (const auto* stack : {&left, &right}) {
    put(stack->size());
    for (const Thread& t : *stack) {
      auto e = t.encode();
      out.insert(out.end(), e.begin(), e.end());
    }
  }
  uint32_t n = static_cast<uint32_t>(last_hint.size());
  out.push_back(uint8_t(n >> 24));
  out.push_back(uint8_t(n >> 16));
  out.push_back(uint8_t(n >> 8));
  out.push_back(uint8_t(n));
  out.insert(out.end(), last_hint.begin(), last_hint.end());
  return out;
}

namespace {
struct SpanSource : StateSource {
  std::span<const uint8_t> b;
  size_t pos = 0;
  explicit SpanSource(std::span<const uint8_t> bytes) : b(bytes) {}
  size_t read(uint8_t* dst, size_t n) override {
    size_t k = std::min(n, b.size() - pos);
    if (k) std::memcpy(dst, b.data() + pos, k);
    pos += k;
    return k;
  }
  uint64_t remaining_hint() const override { return b.size() - pos; }
};

struct Reader {
  StateSource& src;
  uint8_t buf[32];
  void take_into(uint8_t* dst, size_t n, const char* what) {
    if (src.read(dst, n) != n)
      throw StateFormatError(std::string("state file truncated while reading ") + what);
  }
  const uint8_t* take(size_t n, const char* what) {  // n <= sizeof buf
    take_into(buf, n, what);
    return buf;
  }
  uint64_t u64(const char* what) { return load_be64(take(8, what)); }
  uint8_t u8(const char* what) { return *take(1, what); }
  bool boolean(const char* what) {
    uint8_t v = u8(what);
    if (v > 1) throw StateFormatError(std::string("invalid boolean value in state file: ") + what);
    return v == 1;
  }
};
}  // namespace

State State::deserialize(std::span<const uint8_t> bytes) {
  SpanSource src(bytes);
  return deserialize(src);
}

State State::deserialize(StateSource& src) {
  Reader r{src, {}};
  uint8_t version = r.u8("version");
  if (version != kStateVersion) throw StateFormatError(unsupported_state_version(version));
  State s;
  s.left.clear();
  uint64_t pages = r.u64("page count");
  if (pages > src.remaining_hint() / (8 + kPageSize))
    throw StateFormatError("state file truncated: it claims " + std::to_string(pages) +
                           " memory pages");
  if (pages >= (uint64_t{1} << kPageKeySize) || !budget_allows(pages))
    throw StateFormatError("state file claims " + std::to_string(pages) + " memory pages (" +
                           human_bytes(pages * kPageSize) + "), more than the memory budget of " +
                           human_bytes(memory_budget()) + " (raise it with --max-memory)");
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t index = r.u64("page index");
    if (index >= (uint64_t{1} << kPageKeySize))
      throw StateFormatError("invalid page index in state file");
    Page* p = s.memory->page_for_overwrite(index);
    r.take_into(p->data, kPageSize, "page data");
  }
  r.take_into(s.preimage_key.data(), 32, "pre-image key");
  s.preimage_offset = r.u64("pre-image offset");
  s.heap = r.u64("heap");
  s.ll_status = r.u8("LL status");
  s.ll_address = r.u64("LL address");
  s.ll_owner = r.u64("LL owner");
  s.exit_code = r.u8("exit code");
  s.exited = r.boolean("exited");
  s.step = r.u64("step");
  s.steps_since_switch = r.u64("steps since context switch");
  s.traverse_right = r.boolean("traverse right");
  s.next_thread_id = r.u64("next thread id");
  for (auto* stack : {&s.left, &s.right}) {
    uint64_t n = r.u64("thread count");
    if (n > src.remaining_hint() / kThreadSize)
      throw StateFormatError("state file truncated: it claims " + std::to_string(n) + " threads");
    for (uint64_t i = 0; i < n; ++i) {  // grows with the data actually read, not the claim
      Thread& t = stack->emplace_back();
      t.id = r.u64("thread id");
      t.exit_code = r.u8("thread exit code");
      // The reference reads a thread's exited flag as any non-zero byte.
      t.exited = r.u8("thread exited") != 0;
      t.cpu.pc = r.u64("pc");
      t.cpu.next_pc = r.u64("next pc");
      t.cpu.lo = r.u64("lo");
      t.cpu.hi = r.u64("hi");
      for (auto& reg : t.regs) reg = r.u64("registers");
    }
  }
  const uint8_t* hl = r.take(4, "last hint length");
  uint64_t hint_len = uint64_t(hl[0]) << 24 | uint64_t(hl[1]) << 16 | uint64_t(hl[2]) << 8 | hl[3];
  if (hint_len > src.remaining_hint())
    throw StateFormatError("state file truncated while reading last hint");
  for (uint64_t done = 0; done < hint_len;) {  // in 1 MiB pieces: bounded by the data read
    size_t piece = static_cast<size_t>(std::min<uint64_t>(hint_len - done, 1 << 20));
    s.last_hint.resize(done + piece);
    r.take_into(s.last_hint.data() + done, piece, "last hint");
    done += piece;
  }
  if (s.active().empty()) throw StateFormatError("state has no thread on its active thread stack");
  return s;
}

}  // namespace cb
