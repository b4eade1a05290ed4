#include "jit/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "interp/decoder.h"
#include "interp/semantics.h"
#include "jit/frontend.h"

namespace cb {

namespace jit {

namespace {
alignas(64) const uint8_t kZeroPage[kPageSize] = {};
}

uint8_t* jit_read_page(JitContext* ctx, uint64_t addr) {
  return static_cast<JitEngine*>(ctx->engine)->read_page(addr);
}
uint8_t* jit_write_page(JitContext* ctx, uint64_t addr) {
  return static_cast<JitEngine*>(ctx->engine)->write_page(addr);
}
void jit_on_store(JitContext* ctx, uint64_t word_addr) {
  static_cast<JitEngine*>(ctx->engine)->on_store(word_addr);
}
// The interpreter's own helpers (interp/semantics.h), so both compute with the same code.
uint64_t jit_merge(unsigned kind, uint64_t addr, uint64_t mem, uint64_t rt) {
  switch (MemKind(kind)) {
    case MemKind::kLwl:
      return sem::lwl(addr, mem, rt);
    case MemKind::kLwr:
      return sem::lwr(addr, mem, rt);
    case MemKind::kLdl:
      return sem::ldl(addr, mem, rt);
    case MemKind::kLdr:
      return sem::ldr(addr, mem, rt);
    case MemKind::kSwl:
      return sem::swl(addr, mem, rt);
    case MemKind::kSwr:
      return sem::swr(addr, mem, rt);
    case MemKind::kSdl:
      return sem::sdl(addr, mem, rt);
    case MemKind::kSdr:
      return sem::sdr(addr, mem, rt);
    default:
      std::abort();  // the backend only calls this for merging accesses
  }
}
void jit_profile_retag(JitContext* ctx, ProfileSlot* slot) {
  static_cast<JitEngine*>(ctx->engine)->profile_retag(slot);
}
void jit_profile_event(JitContext* ctx, Thread* t, ProfileSlot* slot) {
  static_cast<JitEngine*>(ctx->engine)->profile_event(t, slot);
}
void jit_divide(unsigned op, uint64_t rs, uint64_t rt, Cpu* c) {
  switch (IrOp(op)) {
    case IrOp::kDiv:
      sem::div32(rs, rt, c->hi, c->lo);
      break;
    case IrOp::kDivu:
      sem::divu32(rs, rt, c->hi, c->lo);
      break;
    case IrOp::kDdiv:
      sem::ddiv(rs, rt, c->hi, c->lo);
      break;
    case IrOp::kDdivu:
      sem::ddivu(rs, rt, c->hi, c->lo);
      break;
    default:
      std::abort();
  }
}

}  // namespace jit

using namespace jit;

namespace {
inline size_t tlb_index(uint64_t addr) { return (addr >> kPageAddrSize) & (kTlbEntries - 1); }
inline size_t lookup_index(uint64_t pc) { return (pc >> 2) & (kLookupEntries - 1); }
constexpr size_t kFastEntries = 4096;  // the dispatcher's pc -> Block* cache
inline size_t fast_index(uint64_t pc) { return (pc >> 2) & (kFastEntries - 1); }
}  // namespace

JitEngine::JitEngine(Vm& vm)
    : m_vm(vm), m_state(vm.state()), m_ctx(std::make_unique<JitContext>()) {
  if (!m_backend.ok()) {
    std::fprintf(stderr, "cannonball: JIT unavailable (%s); interpreting\n",
                 m_backend.error().c_str());
  }
  m_ctx->engine = this;
  m_ctx->exit_nolink = m_backend.exit_nolink();
  for (auto& e : m_ctx->lookup) e = LookupEntry{kTlbEmpty, m_backend.exit_jr()};
  m_fast.assign(kFastEntries, nullptr);
  flush_tlbs();
}

JitEngine::~JitEngine() = default;

void JitEngine::flush_tlbs() {
  ++m_stats.tlb_flushes;
  for (auto& e : m_ctx->read_tlb) e = TlbEntry{kTlbEmpty, nullptr};
  for (auto& e : m_ctx->write_tlb) e = TlbEntry{kTlbEmpty, nullptr};
}

void JitEngine::drop_tlb_entries(uint64_t addr) {
  const uint64_t tag = addr & ~kPageAddrMask;
  TlbEntry& r = m_ctx->read_tlb[tlb_index(addr)];
  if (r.tag == tag) r = TlbEntry{kTlbEmpty, nullptr};
  TlbEntry& w = m_ctx->write_tlb[tlb_index(addr)];
  if (w.tag == tag) w = TlbEntry{kTlbEmpty, nullptr};
}

uint8_t* JitEngine::read_page(uint64_t addr) {
  Page* p = m_state.memory->lookup(addr >> kPageAddrSize);
  if (!p) return const_cast<uint8_t*>(kZeroPage);  // absent pages read as zero, unallocated
  m_ctx->read_tlb[tlb_index(addr)] = TlbEntry{addr & ~kPageAddrMask, p->data};
  return p->data;
}

uint8_t* JitEngine::write_page(uint64_t addr) {
  uint64_t index = addr >> kPageAddrSize;
  if (is_code_page(index)) invalidate_word(addr);  // sets m_ctx->invalidated when it hits
  Memory& mem = *m_state.memory;
  Page* p = mem.page_for_write(index);
  TlbEntry e{addr & ~kPageAddrMask, p->data};
  m_ctx->read_tlb[tlb_index(addr)] = e;  // the page may be new or a fresh private copy
  // Writable in place only while private to this memory (copy-on-write checkpoints) and
  // holding no compiled code (those stores must come here to invalidate). Compiled stores
  // touch page bytes only: the whole page is marked dirty once here, and the entry lives
  // until the next Merkle flush consumes the marks (it bumps write_epoch(), which flushes
  // the TLBs, so the next store comes back here and marks again).
  if (!is_code_page(index) && p->refs.load(std::memory_order_relaxed) == 1) {
    for (uint64_t off = 0; off < kPageSize; off += 64) mem.mark_dirty(p, off);
    m_ctx->write_tlb[tlb_index(addr)] = e;
  } else {
    mem.mark_dirty(p, addr & kPageAddrMask & kAddressMask);
  }
  return p->data;
}

std::pair<uint64_t, uint64_t> JitEngine::block_range(uint64_t pc) const {
  auto it = m_blocks.find(pc);
  if (it == m_blocks.end() || !it->second->code.entry) return {0, 0};
  return {it->second->start, it->second->end};
}

bool JitEngine::compile_at(uint64_t pc) {
  if (!m_backend.ok()) return false;
  sync_with_state();
  auto it = m_blocks.find(pc);
  Block* b = it != m_blocks.end() ? it->second.get() : compile(pc);
  return b && b->code.entry;
}

JitEngine::Block* JitEngine::compile(uint64_t pc) {
  const auto t0 = std::chrono::steady_clock::now();
  auto b = std::make_unique<Block>();
  b->start = pc;
  BlockIr ir;
  // With --debug-info statistics on, the interpreter executes (and counts, interp/stats.h)
  // LL/LLD/SC/SCD and fetches at or above kICacheEnd (the reference's instruction-cache
  // misses): no block contains those. Without statistics the blocks are JIT v2's own.
  const bool vm_stats = m_vm.stats() != nullptr;
  if (build_block(*m_state.memory, pc, ir, !vm_stats) &&
      !(vm_stats && ir.end_addr() > kICacheEnd)) {
    for (int i = 0; i < 2; ++i) {
      b->slots[i].target = const_cast<void*>(m_backend.exit_link());
      b->slots[i].owner = b.get();
      b->slots[i].index = i;
    }
    b->slots[0].used = ir.end == EndKind::kBranch || ir.end == EndKind::kJump;
    b->slots[0].pc = ir.taken_pc;
    b->slots[1].used = ir.end == EndKind::kBranch || ir.end == EndKind::kFallthrough;
    b->slots[1].pc = ir.next_pc;
    void** const slots[2] = {&b->slots[0].target, &b->slots[1].target};
    if (m_observer) {
      const uint32_t n = uint32_t(ir.insns.size());
      b->profile = ProfileSlot{};
      b->profile.len = n;
      b->profile.start = pc;
      b->profile.event = m_observer->is_event(ir.words.data(), n);
    }
    if (m_backend.compile(ir, slots, b->code, m_observer ? &b->profile : nullptr)) {
      b->len = uint32_t(ir.insns.size());
      b->end = ir.end_addr();
      b->words = std::move(ir.words);
      b->profile.words = b->words.data();
    } else {
      std::fprintf(stderr, "cannonball: JIT could not compile the block at 0x%llx: %s\n",
                   static_cast<unsigned long long>(pc), m_backend.error().c_str());
      b->code = CompiledBlock{};
    }
  }
  if (!b->code.entry) {  // a marker: the interpreter runs this pc (until its word changes)
    b->len = 0;
    b->end = pc + 4;
    b->words = {fetch_insn(*m_state.memory, pc)};
  }
  Block* raw = b.get();
  m_blocks[pc] = std::move(b);
  m_counts.erase(pc);
  register_pages(raw);
  if (raw->code.entry && m_chaining) {
    m_ctx->lookup[lookup_index(pc)] = LookupEntry{pc, raw->code.entry};
    for (Slot& s : raw->slots) {
      if (!s.used) continue;
      auto t = m_blocks.find(s.pc);
      if (t != m_blocks.end() && t->second->code.entry) link(&s, t->second.get());
    }
  }
  if (m_stats_on) {
    ++m_stats.compiles;
    m_stats.code_bytes += raw->code.size;
    m_stats.compile_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return raw;
}

void JitEngine::register_pages(Block* b) {
  for (uint64_t page = b->start >> kPageAddrSize; page <= (b->end - 1) >> kPageAddrSize; ++page) {
    m_code_pages[page].push_back(b);
    // Stores to a code page must take the slow path (which invalidates).
    TlbEntry& e = m_ctx->write_tlb[page & (kTlbEntries - 1)];
    if (e.tag == page << kPageAddrSize) e = TlbEntry{kTlbEmpty, nullptr};
  }
}

void JitEngine::link(Slot* slot, Block* target) {
  if (slot->linked || !slot->used || !m_chaining) return;
  slot->target = target->code.entry;
  slot->linked = target;
  target->incoming.emplace_back(slot->owner, slot->index);
}

void JitEngine::invalidate(Block* b) {
  ++m_invalidations;
  m_ctx->invalidated = 1;
  for (auto [src, i] : b->incoming) {
    Slot& s = src->slots[i];
    s.target = const_cast<void*>(m_backend.exit_link());
    s.linked = nullptr;
  }
  b->incoming.clear();
  for (Slot& s : b->slots) {
    if (!s.linked) continue;
    auto& in = s.linked->incoming;
    in.erase(std::remove(in.begin(), in.end(), std::make_pair(b, s.index)), in.end());
    s.linked = nullptr;
  }
  Block*& fast = m_fast[fast_index(b->start)];
  if (fast == b) fast = nullptr;
  LookupEntry& le = m_ctx->lookup[lookup_index(b->start)];
  if (le.pc == b->start) le = LookupEntry{kTlbEmpty, m_backend.exit_jr()};
  for (uint64_t page = b->start >> kPageAddrSize; page <= (b->end - 1) >> kPageAddrSize; ++page) {
    auto it = m_code_pages.find(page);
    if (it == m_code_pages.end()) continue;
    auto& v = it.value();
    v.erase(std::remove(v.begin(), v.end(), b), v.end());
    if (v.empty()) m_code_pages.erase(it);
  }
  if (m_pending_link && m_pending_link->owner == b) m_pending_link = nullptr;
  // Compiled code may still be running this block (a store into itself): free it only once
  // back in the dispatcher.
  auto it = m_blocks.find(b->start);
  m_graveyard.push_back(std::move(it.value()));
  m_blocks.erase(it);
}

void JitEngine::invalidate_range(uint64_t lo, uint64_t hi) {
  std::vector<Block*> hit;
  for (uint64_t page = lo >> kPageAddrSize; page <= (hi - 1) >> kPageAddrSize; ++page) {
    auto it = m_code_pages.find(page);
    if (it == m_code_pages.end()) continue;
    // Inclusive ends: a range or block ending at 2^64 has end == 0.
    for (Block* b : it->second)
      if (b->start <= hi - 1 && lo <= b->end - 1 &&
          std::find(hit.begin(), hit.end(), b) == hit.end())
        hit.push_back(b);
  }
  for (Block* b : hit) invalidate(b);
}

void JitEngine::profile_retag(ProfileSlot* slot) {
  if (slot->steps) m_observer->flush(*slot);
  slot->steps = 0;
  slot->tag = m_ctx->profile_tag;
}

void JitEngine::flush_profile() {
  if (!m_observer) return;
  for (auto& kv : m_blocks)
    if (kv.second->code.entry && kv.second->profile.steps) m_observer->flush(kv.second->profile);
  free_graveyard();  // flushes the invalidated ones
}

void JitEngine::free_graveyard() {
  for (auto& b : m_graveyard) {
    if (m_observer && b->code.entry && b->profile.steps) m_observer->flush(b->profile);
    m_backend.release(b->code);
  }
  m_graveyard.clear();
}

void JitEngine::verify_blocks() {
  ++m_stats.verifies;
  std::vector<Block*> stale;
  const Memory& mem = *m_state.memory;
  for (auto& [pc, b] : m_blocks) {
    for (size_t i = 0; i < b->words.size(); ++i) {
      if (fetch_insn(mem, b->start + 4 * i) != b->words[i]) {
        stale.push_back(b.get());
        break;
      }
    }
  }
  for (Block* b : stale) invalidate(b);
  free_graveyard();
}

void JitEngine::sync_with_state() {
  Memory* mem = m_state.memory.get();
  // Steps taken, memory swapped (a restored checkpoint) or shared (a new checkpoint: pages
  // are no longer writable in place) outside run(): TLBs and compiled code may be stale.
  const bool moved = mem != m_memory || m_state.step != m_last_step;
  if (moved || mem->write_epoch() != m_epoch) {
    flush_tlbs();
    m_memory = mem;
    m_epoch = mem->write_epoch();
  }
  if (mem != m_memory_seen) {
    // Another memory (a restored checkpoint, a new program): start afresh rather than
    // re-checking every block against it.
    std::vector<Block*> all;
    for (auto& kv : m_blocks) all.push_back(kv.second.get());
    for (Block* b : all) invalidate(b);
    free_graveyard();
    m_counts.clear();
    m_memory_seen = mem;
  } else if (moved) {
    verify_blocks();
  }
  m_last_step = m_state.step;
  m_ctx->ll_address = &m_state.ll_address;
  m_ctx->ll_status = &m_state.ll_status;
  m_ctx->ll_owner = &m_state.ll_owner;
  m_pending_link = nullptr;
}

void JitEngine::collect_interp_writes(const Thread& t, std::vector<uint64_t>& out) const {
  const State& s = m_state;
  if (s.exited || t.exited || s.steps_since_switch >= kSchedQuantum || (t.cpu.pc & 3)) return;
  uint32_t word = fetch_insn(*s.memory, t.cpu.pc);
  Op op = decode(word);
  if (op == Op::invalid) return;
  InsnClass cls = insn_info(op).cls;
  if (cls == InsnClass::STORE || cls == InsnClass::RMW) {
    out.push_back(t.regs[(word >> 21) & 31] + sem::simm(word));
  } else if (cls == InsnClass::SYSCALL) {
    const uint64_t* r = t.regs;
    switch (r[kRegV0]) {
      case sys::kRead:
        out.push_back(r[kRegA1]);
        break;
      case sys::kClockGetTime:
        out.push_back(r[kRegA1]);
        out.push_back((r[kRegA1] & kAddressMask) + 8);
        break;
      case sys::kGetRandom:
        out.push_back(r[kRegA0]);
        break;
      default:
        break;
    }
  }
}

JitEngine::Block* JitEngine::find_block(uint64_t pc) {
  Block*& fast = m_fast[fast_index(pc)];
  if (fast && fast->start == pc) return fast;
  auto it = m_blocks.find(pc);
  if (it == m_blocks.end()) return nullptr;
  fast = it->second.get();
  return fast;
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// JitStats::syscalls buckets.
constexpr const char* kSyscallBuckets[8] = {"futex",         "sched_yield", "nanosleep",
                                            "clock_gettime", "read/write",  "mmap/brk",
                                            "clone/exit",    "other"};
unsigned syscall_bucket(uint64_t v0) {
  switch (v0) {
    case sys::kFutex:
      return 0;
    case sys::kSchedYield:
      return 1;
    case sys::kNanosleep:
      return 2;
    case sys::kClockGetTime:
      return 3;
    case sys::kRead:
    case sys::kWrite:
      return 4;
    case sys::kMmap:
    case sys::kBrk:
      return 5;
    case sys::kClone:
    case sys::kExit:
    case sys::kExitGroup:
      return 6;
    default:
      return 7;
  }
}
}  // namespace

void JitEngine::set_stats(bool on) {
  m_stats_on = on;
  m_backend.set_count_blocks(on);
}

std::string JitEngine::stats_report() const {
  const JitStats& st = m_stats;
  const uint64_t interp = st.interp_syscall + st.interp_preempt + st.interp_budget +
                          st.interp_cold + st.interp_uncompilable + st.interp_other;
  const uint64_t blocks = m_ctx->blocks_run;
  std::string out;
  char line[256];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  using ull = unsigned long long;
  const double total = double(st.compiled_steps + interp);
  add("jit-stats: steps %llu: compiled %llu (%.2f%%), interpreted %llu\n",
      ull(st.compiled_steps + interp), ull(st.compiled_steps),
      total > 0 ? 100.0 * double(st.compiled_steps) / total : 0.0, ull(interp));
  add("jit-stats: entries %llu, blocks run %llu (chained %llu), %.1f steps/entry, %.1f "
      "steps/block\n",
      ull(st.entries), ull(blocks), ull(blocks > st.entries ? blocks - st.entries : 0),
      st.entries ? double(st.compiled_steps) / double(st.entries) : 0.0,
      blocks ? double(st.compiled_steps) / double(blocks) : 0.0);
  add("jit-stats: exits to the dispatcher: unchained direct %llu, other %llu (budget, jr miss, "
      "early)\n",
      ull(st.exits_linkable), ull(st.exits_other));
  add("jit-stats: interpreted: syscall %llu, preemption %llu, budget %llu, cold %llu, uncompilable "
      "%llu, other %llu\n",
      ull(st.interp_syscall), ull(st.interp_preempt), ull(st.interp_budget), ull(st.interp_cold),
      ull(st.interp_uncompilable), ull(st.interp_other));
  out += "jit-stats: syscalls:";
  for (unsigned i = 0; i < 8; ++i) add(" %s %llu", kSyscallBuckets[i], ull(st.syscalls[i]));
  out += "\n";
  // Every isa.def row the JIT cannot compile, counted or not, so a new one shows up here.
  out += "jit-stats: interpreted for want of a JIT lowering (isa.def NONE):";
  for (size_t i = 0; i < kOpCount; ++i)
    if (!has_lowering(Op(i))) add(" %s %llu", mnemonic(Op(i)).c_str(), ull(st.no_lowering[i]));
  out += "\n";
  add("jit-stats: compiles %llu (%zu live blocks, %llu KiB of code), invalidations %llu, TLB "
      "flushes %llu, "
      "block re-checks %llu\n",
      ull(st.compiles), m_blocks.size(), ull(st.code_bytes >> 10), ull(m_invalidations),
      ull(st.tlb_flushes), ull(st.verifies));
  add("jit-stats: time: compiled code %.3f s, interpreter %.3f s, compiling %.3f s\n",
      st.compiled_s, st.interp_s, st.compile_s);
  return out;
}

StepStatus JitEngine::run(uint64_t target) {
  State& s = m_state;
  sync_with_state();
  StepStatus st = StepStatus::kOk;
  uint64_t entries = 0;
  bool boundary = true;  // at a block start (after a jump or a block exit)?
  const bool jit_on = m_backend.ok();
  const bool stats = m_stats_on;
  while (!s.exited && s.step < target) {
    Thread* t = s.active().empty() ? nullptr : &s.current();
    uint64_t pc = t ? t->cpu.pc : 0;
    bool marker = false;  // pc holds an instruction no block may contain
    uint64_t* cause = stats ? &m_stats.interp_other : nullptr;
    if (jit_on && t && !t->exited && s.steps_since_switch < kSchedQuantum && (pc & 3) == 0 &&
        t->cpu.next_pc == pc + 4) {
      const uint64_t budget = std::min(target - s.step, kSchedQuantum - s.steps_since_switch);
      Block* b = find_block(pc);
      if (!b && boundary) {
        uint32_t& c = m_counts[pc];
        if (++c >= m_hot_threshold) b = compile(pc);
      }
      marker = b && !b->code.entry;
      if (m_pending_link) {
        if (b && b->code.entry && m_pending_link->pc == pc) link(m_pending_link, b);
        m_pending_link = nullptr;
      }
      if (b && b->code.entry && b->len <= budget) {
        // Entered from here, so worth finding from jr/jalr too (a colliding block may have
        // taken its lookup entry).
        if (m_chaining) m_ctx->lookup[lookup_index(pc)] = LookupEntry{pc, b->code.entry};
        m_ctx->last_slot = nullptr;
        m_ctx->invalidated = 0;
        if (m_observer) {
          m_ctx->profile_tag = m_observer->tag(*t);
          m_ctx->profile_partial = nullptr;
        }
        Clock::time_point t0;
        if (stats) t0 = Clock::now();
        uint64_t left = m_backend.enter(m_ctx.get(), t, b->code.entry, budget);
        uint64_t done = budget - left;
        if (stats) {
          m_stats.compiled_s += seconds_since(t0);
          ++m_stats.entries;
          m_stats.compiled_steps += done;
          ++(m_ctx->last_slot ? m_stats.exits_linkable : m_stats.exits_other);
        }
        if (m_observer)
          m_observer->after_enter(*t, m_ctx->profile_partial, m_ctx->profile_partial_run);
        s.step += done;
        s.steps_since_switch += done;
        m_compiled_steps += done;
        if (m_ctx->invalidated) {
          free_graveyard();
        } else if (m_ctx->last_slot) {
          m_pending_link = reinterpret_cast<Slot*>(m_ctx->last_slot);
        }
        boundary = true;
        // No step taken: the block left before its first instruction (a zero divisor), which
        // the interpreter must now execute (and panic on).
        if (done != 0) {
          if (m_max_entries && ++entries >= m_max_entries) break;
          continue;
        }
        t = &s.current();
      } else if (stats) {
        cause = b && b->code.entry ? &m_stats.interp_budget
                : marker           ? &m_stats.interp_uncompilable
                                   : &m_stats.interp_cold;
      }
    } else if (stats && t && !t->exited && s.steps_since_switch >= kSchedQuantum) {
      cause = &m_stats.interp_preempt;
    }
    // The interpreter takes this step; if it may write compiled code, invalidate after.
    m_pending_link = nullptr;
    m_pending_writes.clear();
    if (t) collect_interp_writes(*t, m_pending_writes);
    if (m_observer) m_observer->on_interp_step(s);
    Clock::time_point t0;
    if (stats) {
      const Op op = t && !t->exited && s.steps_since_switch < kSchedQuantum && (pc & 3) == 0
                        ? decode(fetch_insn(*s.memory, pc))
                        : Op::invalid;
      if (op != Op::invalid && insn_info(op).cls == InsnClass::SYSCALL) {
        cause = &m_stats.interp_syscall;
        ++m_stats.syscalls[syscall_bucket(t->regs[kRegV0])];
      }
      if (op != Op::invalid && !has_lowering(op)) ++m_stats.no_lowering[static_cast<size_t>(op)];
      ++*cause;
      t0 = Clock::now();
    }
    st = m_vm.step();
    if (stats) m_stats.interp_s += seconds_since(t0);
    // A step may flush the Merkle caches (the memory proof a clock_gettime takes inside the
    // second-proof window): the dirty marks the write TLB stands for are gone.
    if (s.memory->write_epoch() != m_epoch) {
      flush_tlbs();
      m_epoch = s.memory->write_epoch();
    }
    for (uint64_t w : m_pending_writes) {
      // The interpreter may have allocated or unshared (copy-on-write) that page: drop
      // what the TLBs say about it.
      drop_tlb_entries(w);
      if (is_code_page(w >> kPageAddrSize)) invalidate_word(w);
    }
    if (!m_graveyard.empty()) free_graveyard();
    if (st != StepStatus::kOk) break;
    // A block may start after a jump, and right after an instruction that ends blocks
    // (syscall, LL/SC with statistics on, an invalid word), not in the middle of a block that
    // merely did not fit the budget.
    boundary = marker || s.active().empty() || s.current().cpu.pc != pc + 4;
  }
  m_last_step = s.step;
  return st;
}

}  // namespace cb
