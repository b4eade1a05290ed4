#include "jit/a64_backend.h"

#include <asmjit/arm/a64assembler.h>
#include <asmjit/core.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "jit/asm_error.h"
#include "memory/memory.h"

namespace cb::jit {

using namespace asmjit;
using a64::Gp;
using a64::Mem;

namespace {

static_assert(kRegsOffset + 8 * 32 < 4096 && kLoOffset < 4096 && kHiOffset < 4096,
              "Thread fields reachable by ldr");

const Gp kThread = a64::x19, kCtx = a64::x20, kBudget = a64::x21, kBr = a64::x22, kAddr = a64::x23;
constexpr unsigned kCacheFirst = 24;  // x24..x28
constexpr unsigned kCacheCount = 5;
// The enter trampoline's frame: [sp, 0..15] scratch, then the callee-saved registers.
constexpr int32_t kFrameSize = 112;
constexpr int32_t kScratchPage = 0;  // a merging store's host address across its helper call

using irdef::bit;  // guest register r as a mask bit ($zero: none), as ir_reads / ir_writes use

Mem reg_mem(unsigned r) { return a64::ptr(kThread, int32_t(kRegsOffset + 8 * r)); }
Mem cpu_mem(size_t off) { return a64::ptr(kThread, int32_t(off)); }

// Emits one block (the structure of X64Backend's BlockEmitter: the same exits, accounting,
// invalidation and profiling rules). Cached guest registers live in callee-saved host
// registers from the entry (all loaded there) to the exits, which store back the ones written
// so far (m_dirty, known at emission time: a block is straight-line code). Helper and slow-path
// calls preserve them, so nothing is spilled around calls: no helper reads guest registers
// from the Thread.
class BlockEmitter {
 public:
  BlockEmitter(a64::Assembler& a, const BlockIr& ir, void** const* slots, bool count,
               ProfileSlot* prof)
      : a(a), m_ir(ir), m_slots(slots), m_count(count), m_prof(prof) {}

  void emit() {
    const uint32_t n = len();
    allocate();
    Label fail = a.newLabel();
    m_body = a.newLabel();
    a.cmp(kBudget, n);
    a.b_lo(fail);
    a.sub(kBudget, kBudget, n);
    if (m_prof) emit_count(n);
    if (m_count) bump_blocks_run();
    for (unsigned r = 1; r < 32; ++r)
      if (cached(r)) a.ldr(host(r), reg_mem(r));
    a.bind(m_body);
    for (uint32_t i = 0; i < n; ++i) emit_insn(i);
    emit_end(true, m_dirty);
    a.bind(fail);
    set_pc(m_ir.start_pc);
    exit_nolink();
    for (size_t i = 0; i < m_deferred.size(); ++i) {
      auto f = std::move(m_deferred[i]);
      f();
    }
  }

 private:
  uint32_t len() const { return uint32_t(m_ir.insns.size()); }

  void allocate() {
    unsigned uses[32] = {};
    for (const IrInsn& in : m_ir.insns) {
      const uint32_t r = ir_reads(in), w = ir_writes(in);  // from jit/ir.def
      for (unsigned g = 1; g < 32; ++g) uses[g] += ((r & bit(g)) ? 1 : 0) + ((w & bit(g)) ? 1 : 0);
    }
    for (unsigned k = 0; k < kCacheCount; ++k) {
      unsigned best = 0;
      for (unsigned g = 1; g < 32; ++g)
        if (m_slot_of[g] < 0 && uses[g] > uses[best]) best = g;
      if (best == 0 || uses[best] < 3) break;
      m_slot_of[best] = int8_t(k);
      m_cached |= bit(best);
    }
  }
  bool cached(unsigned r) const { return (m_cached & bit(r)) != 0; }
  Gp host(unsigned r) const { return a64::GpX(kCacheFirst + unsigned(m_slot_of[r])); }

  // x = value: movz/movn plus movk for the other 16-bit chunks.
  void mov_imm(const Gp& x, uint64_t v) {
    unsigned zeros = 0, ones = 0;
    for (unsigned i = 0; i < 4; ++i) {
      const uint64_t c = (v >> (16 * i)) & 0xffff;
      zeros += c == 0;
      ones += c == 0xffff;
    }
    const bool inv = ones > zeros;
    const uint64_t skip = inv ? 0xffff : 0;
    bool first = true;
    for (unsigned i = 0; i < 4; ++i) {
      const uint64_t c = (v >> (16 * i)) & 0xffff;
      if (c == skip) continue;
      if (first) {
        if (inv)
          a.movn(x, (~c) & 0xffff, a64::lsl(16 * i));
        else
          a.movz(x, c, a64::lsl(16 * i));
        first = false;
      } else {
        a.movk(x, c, a64::lsl(16 * i));
      }
    }
    if (first) {  // all chunks were `skip`
      if (inv)
        a.movn(x, 0);
      else
        a.movz(x, 0);
    }
  }
  // d = s + v (64-bit), through x16 when v does not fit an add/sub immediate.
  // (s may be xzr: add/sub-immediate would read it as sp, so that is a plain constant.)
  void add_imm(const Gp& d, const Gp& s, int64_t v) {
    if (s.isZR()) {
      mov_imm(d, uint64_t(v));
    } else if (v == 0) {
      if (d.id() != s.id()) a.mov(d, s);
    } else if (v > 0 && v < 4096) {
      a.add(d, s, v);
    } else if (v < 0 && v > -4096) {
      a.sub(d, s, -v);
    } else {
      mov_imm(a64::x16, uint64_t(v));
      a.add(d, s, a64::x16);
    }
  }
  // A JitContext field: its offset may exceed the ldr/str immediate range (the TLBs and the
  // lookup table come first), so its address goes through x17.
  Mem ctx_mem(uint32_t off) {
    if (off < 4096) return a64::ptr(kCtx, int32_t(off));
    mov_imm(a64::x17, off & ~uint32_t{0xfff});
    a.add(a64::x17, kCtx, a64::x17);
    return a64::ptr(a64::x17, int32_t(off & 0xfff));
  }

  // The value of guest register r: its host register, xzr, or loaded into tmp.
  Gp src(unsigned r, const Gp& tmp) {
    if (r == 0) return a64::xzr;
    if (cached(r)) return host(r);
    a.ldr(tmp, reg_mem(r));
    return tmp;
  }
  // Where a result for r is computed: its host register, else tmp (then commit stores it).
  Gp dst(unsigned r, const Gp& tmp) const { return cached(r) ? host(r) : tmp; }
  void commit(unsigned r, const Gp& v) {
    if (r == 0) return;
    if (cached(r)) {
      if (v.id() != host(r).id()) a.mov(host(r), v);
      m_dirty |= bit(r);
    } else {
      a.str(v, reg_mem(r));
    }
  }
  void wr_imm(unsigned r, uint64_t v) {
    if (r == 0) return;
    const Gp d = dst(r, a64::x0);
    mov_imm(d, v);
    commit(r, d);
  }
  void writeback(uint32_t mask) {
    for (unsigned r = 1; r < 32; ++r)
      if (mask & bit(r)) a.str(host(r), reg_mem(r));
  }

  void call(const void* fn) {
    mov_imm(a64::x16, reinterpret_cast<uint64_t>(fn));
    a.blr(a64::x16);
  }
  void bump_blocks_run() {
    const Mem m = ctx_mem(kCtxBlocksRun);
    a.ldr(a64::x0, m);
    a.add(a64::x0, a64::x0, 1);
    a.str(a64::x0, m);
  }

  // Profiling: slot.steps += n under the current tag (retagging first when it differs).
  void emit_count(uint32_t n) {
    Label retag = a.newLabel(), counted = a.newLabel();
    mov_imm(a64::x0, reinterpret_cast<uint64_t>(m_prof));
    a.ldr(a64::w1, ctx_mem(kCtxProfileTag));
    a.ldr(a64::w2, a64::ptr(a64::x0, kProfTag));
    a.cmp(a64::w2, a64::w1);
    a.b_ne(retag);
    a.bind(counted);
    a.ldr(a64::x1, a64::ptr(a64::x0, kProfSteps));
    a.add(a64::x1, a64::x1, n);
    a.str(a64::x1, a64::ptr(a64::x0, kProfSteps));
    m_deferred.push_back([this, retag, counted] {
      a.bind(retag);
      a.mov(a64::x1, a64::x0);
      a.mov(a64::x0, kCtx);
      call(reinterpret_cast<const void*>(&jit_profile_retag));
      mov_imm(a64::x0, reinterpret_cast<uint64_t>(m_prof));
      a.b(counted);
    });
  }
  bool event() const { return m_prof && m_prof->event; }
  void emit_event() {
    a.mov(a64::x0, kCtx);
    a.mov(a64::x1, kThread);
    mov_imm(a64::x2, reinterpret_cast<uint64_t>(m_prof));
    call(reinterpret_cast<const void*>(&jit_profile_event));
  }
  void exit_nolink() {
    a.ldr(a64::x16, ctx_mem(kCtxExitNolink));
    a.br(a64::x16);
  }
  void set_pc(uint64_t pc) {
    mov_imm(a64::x0, pc);
    a.str(a64::x0, cpu_mem(kPcOffset));
    a.add(a64::x0, a64::x0, 4);
    a.str(a64::x0, cpu_mem(kNextPcOffset));
  }
  void exit_to(uint64_t pc, uint32_t steps_not_run, uint32_t dirty) {
    writeback(dirty);
    if (steps_not_run) a.add(kBudget, kBudget, steps_not_run);
    if (m_prof) {
      mov_imm(a64::x0, reinterpret_cast<uint64_t>(m_prof));
      a.ldr(a64::x1, a64::ptr(a64::x0, kProfSteps));
      a.sub(a64::x1, a64::x1, len());
      a.str(a64::x1, a64::ptr(a64::x0, kProfSteps));
      a.str(a64::x0, ctx_mem(kCtxProfilePartial));
      mov_imm(a64::x1, len() - steps_not_run);
      a.str(a64::x1, ctx_mem(kCtxProfilePartialRun));
    }
    set_pc(pc);
    exit_nolink();
  }
  void exit_slot(uint64_t pc, int slot, bool chain) {
    if (!chain || event()) set_pc(pc);
    if (event()) emit_event();
    if (!chain) return exit_nolink();
    if (pc == m_ir.start_pc && !event()) {
      Label out = a.newLabel();
      a.cmp(kBudget, len());
      a.b_lo(out);
      a.sub(kBudget, kBudget, len());
      if (m_count) bump_blocks_run();
      if (m_prof) {
        mov_imm(a64::x0, reinterpret_cast<uint64_t>(m_prof));
        a.ldr(a64::x1, a64::ptr(a64::x0, kProfSteps));
        a.add(a64::x1, a64::x1, len());
        a.str(a64::x1, a64::ptr(a64::x0, kProfSteps));
      }
      a.b(m_body);
      a.bind(out);
    }
    // The exit stub reads the slot from x0.
    mov_imm(a64::x0, reinterpret_cast<uint64_t>(m_slots[slot]));
    a.ldr(a64::x16, a64::ptr(a64::x0));
    a.br(a64::x16);
  }

  void store_jr_pc() {
    a.str(kBr, cpu_mem(kPcOffset));
    a.add(a64::x0, kBr, 4);
    a.str(a64::x0, cpu_mem(kNextPcOffset));
  }
  void emit_end(bool chain, uint32_t dirty) {
    writeback(dirty);
    switch (m_ir.end) {
      case EndKind::kFallthrough:
        exit_slot(m_ir.next_pc, 1, chain);
        break;
      case EndKind::kJump:
        exit_slot(m_ir.taken_pc, 0, chain);
        break;
      case EndKind::kBranch: {
        Label taken = a.newLabel();
        a.cbnz(kBr, taken);
        exit_slot(m_ir.next_pc, 1, chain);
        a.bind(taken);
        exit_slot(m_ir.taken_pc, 0, chain);
        break;
      }
      case EndKind::kJumpReg: {
        Label miss = a.newLabel();
        if (event()) {
          store_jr_pc();
          emit_event();  // x22 (the target) survives the call
        }
        if (chain) {
          // entry = lookup[(target >> 2) & (kLookupEntries - 1)]
          a.ubfx(a64::x0, kBr, 2, kLookupBits);
          mov_imm(a64::x1, kCtxLookup);
          a.add(a64::x1, kCtx, a64::x1);
          a.add(a64::x1, a64::x1, a64::x0, a64::lsl(4));
          a.ldp(a64::x2, a64::x3, a64::ptr(a64::x1));
          a.cmp(a64::x2, kBr);
          a.b_ne(miss);
          a.br(a64::x3);
        }
        a.bind(miss);
        if (!event()) store_jr_pc();
        exit_nolink();
        break;
      }
    }
  }

  // Page data for the address in x23 into x1 (x0, x2 clobbered); `slow` on a miss.
  void tlb_lookup(bool write, Label slow) {
    a.ubfx(a64::x0, kAddr, 12, kTlbBits);
    if (write) {
      mov_imm(a64::x1, kCtxWriteTlb);
      a.add(a64::x1, kCtx, a64::x1);
      a.add(a64::x1, a64::x1, a64::x0, a64::lsl(4));
    } else {
      static_assert(kCtxReadTlb == 0);
      a.add(a64::x1, kCtx, a64::x0, a64::lsl(4));
    }
    a.ldp(a64::x2, a64::x1, a64::ptr(a64::x1));
    a.and_(a64::x0, kAddr, ~uint64_t{0xfff});
    a.cmp(a64::x0, a64::x2);
    a.b_ne(slow);
  }
  // fn(ctx, x23) -> x1 (the page), x23 and every cached register preserved (callee-saved).
  void call_page_fn(const void* fn) {
    a.mov(a64::x0, kCtx);
    a.mov(a64::x1, kAddr);
    call(fn);
    a.mov(a64::x1, a64::x0);
  }

  void emit_address(const IrInsn& in) {
    const Gp s = src(in.s, kAddr);
    add_imm(kAddr, s, in.imm);
  }

  void emit_load(const IrInsn& in) {
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(false, slow);
    a.bind(resume);
    const Gp d = dst(in.d, a64::x2);
    switch (in.mem) {
      case MemKind::kS8:
        a.and_(a64::x0, kAddr, 0xfff);
        a.ldrsb(d, a64::ptr(a64::x1, a64::x0));
        break;
      case MemKind::kU8:
        a.and_(a64::x0, kAddr, 0xfff);
        a.ldrb(d.w(), a64::ptr(a64::x1, a64::x0));
        break;
      case MemKind::kS16:
      case MemKind::kU16:
        a.and_(a64::x0, kAddr, 0xffe);
        a.ldrh(d.w(), a64::ptr(a64::x1, a64::x0));
        a.rev16(d.w(), d.w());
        if (in.mem == MemKind::kS16) a.sxth(d, d.w());
        break;
      case MemKind::kS32:
      case MemKind::kU32:
        a.and_(a64::x0, kAddr, 0xffc);
        a.ldr(d.w(), a64::ptr(a64::x1, a64::x0));
        a.rev(d.w(), d.w());
        if (in.mem == MemKind::kS32) a.sxtw(d, d.w());
        break;
      case MemKind::k64:
        a.and_(a64::x0, kAddr, 0xff8);
        a.ldr(d, a64::ptr(a64::x1, a64::x0));
        a.rev(d, d);
        break;
      default: {  // merging loads: jit_merge(kind, addr, mem word, old rt)
        a.and_(a64::x0, kAddr, 0xff8);
        a.ldr(a64::x2, a64::ptr(a64::x1, a64::x0));
        a.rev(a64::x2, a64::x2);
        const Gp old = src(in.d, a64::x3);
        if (old.id() != a64::x3.id()) a.mov(a64::x3, old);
        a.mov(a64::w0, unsigned(in.mem));
        a.mov(a64::x1, kAddr);
        call(reinterpret_cast<const void*>(&jit_merge));
        commit(in.d, a64::x0);
        defer_load_slow(slow, resume);
        return;
      }
    }
    commit(in.d, d);  // a load into $zero loads (and refills the TLB) but writes nothing
    defer_load_slow(slow, resume);
  }
  void defer_load_slow(Label slow, Label resume) {
    m_deferred.push_back([this, slow, resume] {
      a.bind(slow);
      call_page_fn(reinterpret_cast<const void*>(&jit_read_page));
      a.b(resume);
    });
  }

  // The write itself and the LL/SC check; page data in x1, address in x23.
  void store_body(const IrInsn& in) {
    switch (in.mem) {
      case MemKind::kU8: {
        a.and_(a64::x0, kAddr, 0xfff);
        const Gp v = src(in.t, a64::x2);
        a.strb(v.w(), a64::ptr(a64::x1, a64::x0));
        break;
      }
      case MemKind::kU16: {
        a.and_(a64::x0, kAddr, 0xffe);
        const Gp v = src(in.t, a64::x2);
        a.rev16(a64::w2, v.w());
        a.strh(a64::w2, a64::ptr(a64::x1, a64::x0));
        break;
      }
      case MemKind::kU32: {
        a.and_(a64::x0, kAddr, 0xffc);
        const Gp v = src(in.t, a64::x2);
        a.rev(a64::w2, v.w());
        a.str(a64::w2, a64::ptr(a64::x1, a64::x0));
        break;
      }
      case MemKind::k64: {
        a.and_(a64::x0, kAddr, 0xff8);
        const Gp v = src(in.t, a64::x2);
        a.rev(a64::x2, v);
        a.str(a64::x2, a64::ptr(a64::x1, a64::x0));
        break;
      }
      default: {  // merging stores: new word = jit_merge(kind, addr, mem word, rt)
        a.and_(a64::x0, kAddr, 0xff8);
        a.add(a64::x1, a64::x1, a64::x0);
        a.str(a64::x1, a64::ptr(a64::sp, kScratchPage));
        a.ldr(a64::x2, a64::ptr(a64::x1));
        a.rev(a64::x2, a64::x2);
        const Gp v = src(in.t, a64::x3);
        if (v.id() != a64::x3.id()) a.mov(a64::x3, v);
        a.mov(a64::w0, unsigned(in.mem));
        a.mov(a64::x1, kAddr);
        call(reinterpret_cast<const void*>(&jit_merge));
        a.rev(a64::x0, a64::x0);
        a.ldr(a64::x1, a64::ptr(a64::sp, kScratchPage));
        a.str(a64::x0, a64::ptr(a64::x1));
        break;
      }
    }
    // Vm::on_store: a store to the reserved word clears the reservation.
    Label ll_slow = a.newLabel(), ll_done = a.newLabel();
    a.ldr(a64::x0, ctx_mem(kCtxLl));
    a.ldr(a64::x0, a64::ptr(a64::x0));
    a.eor(a64::x0, a64::x0, kAddr);
    a.tst(a64::x0, ~uint64_t{7});
    a.b_eq(ll_slow);
    a.bind(ll_done);
    m_deferred.push_back([this, ll_slow, ll_done] {
      a.bind(ll_slow);
      a.mov(a64::x0, kCtx);
      a.and_(a64::x1, kAddr, ~uint64_t{7});
      call(reinterpret_cast<const void*>(&jit_on_store));
      a.b(ll_done);
    });
  }

  void emit_store(const IrInsn& in, uint32_t idx, bool sc = false) {
    const uint32_t dirty_before = m_dirty;
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(true, slow);
    a.bind(resume);
    store_body(in);
    if (sc) wr_imm(in.t, 1);
    m_deferred.push_back([this, in, idx, slow, resume, sc, dirty_before] {
      Label inval = a.newLabel();
      a.bind(slow);
      call_page_fn(reinterpret_cast<const void*>(&jit_write_page));
      a.ldrb(a64::w2, ctx_mem(kCtxInvalidated));
      a.cbnz(a64::w2, inval);
      a.b(resume);
      // The store hit compiled code (maybe this very block): do it, then leave compiled code
      // right after it so the next instruction is fetched anew.
      a.bind(inval);
      const uint32_t saved = m_dirty;
      m_dirty = dirty_before;
      store_body(in);
      if (sc) wr_imm(in.t, 1);
      exit_after(idx, m_dirty);
      m_dirty = saved;
    });
  }

  void exit_after(uint32_t idx, uint32_t dirty) {
    if (idx + 1 == len()) {
      emit_end(false, dirty);
    } else {
      exit_to(m_ir.insns[idx + 1].pc, len() - idx - 1, dirty);
    }
  }

  // ll/lld/sc/scd inline with the reservation rules of ll_reserve/sc_consume (interp/vm.h).
  void emit_atomic(const IrInsn& in, uint32_t idx) {
    const bool is64 = in.mem == MemKind::kLld || in.mem == MemKind::kScd;
    const uint8_t active = is64 ? kLLActive64 : kLLActive32;
    if (in.mem == MemKind::kLl || in.mem == MemKind::kLld) {
      IrInsn ld = in;
      ld.op = IrOp::kLoad;
      ld.mem = is64 ? MemKind::k64 : MemKind::kS32;
      ld.d = in.t;
      emit_load(ld);  // leaves the address in x23
      a.ldr(a64::x0, ctx_mem(kCtxLlStatus));
      a.mov(a64::w1, active);
      a.strb(a64::w1, a64::ptr(a64::x0));
      a.ldr(a64::x0, ctx_mem(kCtxLl));
      a.str(kAddr, a64::ptr(a64::x0));
      a.ldr(a64::x1, cpu_mem(size_t(kIdOffset)));
      a.ldr(a64::x0, ctx_mem(kCtxLlOwner));
      a.str(a64::x1, a64::ptr(a64::x0));
      return;
    }
    Label fail = a.newLabel(), done = a.newLabel();
    emit_address(in);
    a.ldr(a64::x0, ctx_mem(kCtxLlStatus));
    a.ldrb(a64::w1, a64::ptr(a64::x0));
    a.cmp(a64::w1, active);
    a.b_ne(fail);
    a.ldr(a64::x1, cpu_mem(size_t(kIdOffset)));
    a.ldr(a64::x0, ctx_mem(kCtxLlOwner));
    a.ldr(a64::x2, a64::ptr(a64::x0));
    a.cmp(a64::x2, a64::x1);
    a.b_ne(fail);
    a.ldr(a64::x0, ctx_mem(kCtxLl));
    a.ldr(a64::x2, a64::ptr(a64::x0));
    a.cmp(a64::x2, kAddr);
    a.b_ne(fail);
    a.str(a64::xzr, a64::ptr(a64::x0));
    a.ldr(a64::x0, ctx_mem(kCtxLlStatus));
    a.strb(a64::wzr, a64::ptr(a64::x0));
    a.ldr(a64::x0, ctx_mem(kCtxLlOwner));
    a.str(a64::xzr, a64::ptr(a64::x0));
    IrInsn st = in;
    st.op = IrOp::kStore;
    st.mem = is64 ? MemKind::k64 : MemKind::kU32;
    emit_store(st, idx, true);
    a.b(done);
    a.bind(fail);
    wr_imm(in.t, 0);
    a.bind(done);
  }

  // d = s (op) t on 64 bits.
  template <typename F>
  void alu64(const IrInsn& in, F op) {
    const Gp s = src(in.s, a64::x1), t = src(in.t, a64::x2), d = dst(in.d, a64::x0);
    op(d, s, t);
    commit(in.d, d);
  }
  // d = sext32(s (op) t) on the low 32 bits.
  template <typename F>
  void alu32(const IrInsn& in, F op) {
    const Gp s = src(in.s, a64::x1), t = src(in.t, a64::x2), d = dst(in.d, a64::x0);
    op(d.w(), s.w(), t.w());
    a.sxtw(d, d.w());
    commit(in.d, d);
  }
  // d = s (op) imm on 64 bits, the immediate in x2.
  template <typename F>
  void alu64i(const IrInsn& in, F op) {
    const Gp s = src(in.s, a64::x1), d = dst(in.d, a64::x0);
    mov_imm(a64::x2, uint64_t(in.imm));
    op(d, s, a64::x2);
    commit(in.d, d);
  }
  // d = t shifted by sa.
  template <typename F>
  void shift_imm(const IrInsn& in, F op) {
    const Gp t = src(in.t, a64::x2), d = dst(in.d, a64::x0);
    op(d, t);
    commit(in.d, d);
  }

  void emit_insn(uint32_t idx) {
    const IrInsn& in = m_ir.insns[idx];
    using namespace a64;
    switch (in.op) {
      case IrOp::kNop:
        break;
      case IrOp::kAdd32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.add(d, s, t); });
        break;
      case IrOp::kSub32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.sub(d, s, t); });
        break;
      case IrOp::kMul32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.mul(d, s, t); });
        break;
      case IrOp::kAdd64:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.add(d, s, t); });
        break;
      case IrOp::kSub64:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.sub(d, s, t); });
        break;
      case IrOp::kAnd:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.and_(d, s, t); });
        break;
      case IrOp::kOr:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.orr(d, s, t); });
        break;
      case IrOp::kXor:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.eor(d, s, t); });
        break;
      case IrOp::kNor:
        alu64(in, [&](Gp d, Gp s, Gp t) {
          a.orr(d, s, t);
          a.mvn(d, d);
        });
        break;
      case IrOp::kSlt:
        alu64(in, [&](Gp d, Gp s, Gp t) {
          a.cmp(s, t);
          a.cset(d, Imm(CondCode::kLT));
        });
        break;
      case IrOp::kSltu:
        alu64(in, [&](Gp d, Gp s, Gp t) {
          a.cmp(s, t);
          a.cset(d, Imm(CondCode::kLO));
        });
        break;
      case IrOp::kAddImm32: {
        const Gp s = src(in.s, x1), d = dst(in.d, x0);
        mov_imm(x2, uint64_t(in.imm));
        a.add(d.w(), s.w(), w2);
        a.sxtw(d, d.w());
        commit(in.d, d);
        break;
      }
      case IrOp::kAddImm64: {
        const Gp s = src(in.s, x1), d = dst(in.d, x0);
        add_imm(d, s, in.imm);
        commit(in.d, d);
        break;
      }
      case IrOp::kSltImm:
        alu64i(in, [&](Gp d, Gp s, Gp t) {
          a.cmp(s, t);
          a.cset(d, Imm(CondCode::kLT));
        });
        break;
      case IrOp::kSltuImm:
        alu64i(in, [&](Gp d, Gp s, Gp t) {
          a.cmp(s, t);
          a.cset(d, Imm(CondCode::kLO));
        });
        break;
      case IrOp::kAndImm:
        alu64i(in, [&](Gp d, Gp s, Gp t) { a.and_(d, s, t); });
        break;
      case IrOp::kOrImm:
        alu64i(in, [&](Gp d, Gp s, Gp t) { a.orr(d, s, t); });
        break;
      case IrOp::kXorImm:
        alu64i(in, [&](Gp d, Gp s, Gp t) { a.eor(d, s, t); });
        break;
      case IrOp::kConst:
        wr_imm(in.d, uint64_t(in.imm));
        break;
      case IrOp::kSll32:
        shift_imm(in, [&](Gp d, Gp t) {
          a.lsl(d.w(), t.w(), in.sa);
          a.sxtw(d, d.w());
        });
        break;
      case IrOp::kSrl32:
        shift_imm(in, [&](Gp d, Gp t) {
          a.lsr(d.w(), t.w(), in.sa);
          a.sxtw(d, d.w());
        });
        break;
      case IrOp::kSra32:
        shift_imm(in, [&](Gp d, Gp t) {
          a.asr(d.w(), t.w(), in.sa);
          a.sxtw(d, d.w());
        });
        break;
      case IrOp::kSll64:
        shift_imm(in, [&](Gp d, Gp t) { a.lsl(d, t, in.sa); });
        break;
      case IrOp::kSrl64:
        shift_imm(in, [&](Gp d, Gp t) { a.lsr(d, t, in.sa); });
        break;
      case IrOp::kSra64:
        shift_imm(in, [&](Gp d, Gp t) { a.asr(d, t, in.sa); });
        break;
      // Variable shifts: AArch64 takes the count modulo the width, as MIPS does.
      case IrOp::kSllv32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.lslv(d, t, s); });
        break;
      case IrOp::kSrlv32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.lsrv(d, t, s); });
        break;
      case IrOp::kSrav32:
        alu32(in, [&](Gp d, Gp s, Gp t) { a.asrv(d, t, s); });
        break;
      case IrOp::kSllv64:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.lslv(d, t, s); });
        break;
      case IrOp::kSrlv64:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.lsrv(d, t, s); });
        break;
      case IrOp::kSrav64:
        alu64(in, [&](Gp d, Gp s, Gp t) { a.asrv(d, t, s); });
        break;
      case IrOp::kMovz:
      case IrOp::kMovn: {
        const Gp s = src(in.s, x1), t = src(in.t, x2), old = src(in.d, x3), d = dst(in.d, x0);
        a.cmp(t, xzr);
        a.csel(d, s, old, Imm(in.op == IrOp::kMovz ? CondCode::kEQ : CondCode::kNE));
        commit(in.d, d);
        break;
      }
      case IrOp::kClz32:
      case IrOp::kClo32: {
        const Gp s = src(in.s, x1), d = dst(in.d, x0);
        if (in.op == IrOp::kClo32) {
          a.mvn(w1, s.w());
          a.clz(d.w(), w1);
        } else {
          a.clz(d.w(), s.w());
        }
        commit(in.d, d);
        break;
      }
      case IrOp::kClz64:
      case IrOp::kClo64: {
        const Gp s = src(in.s, x1), d = dst(in.d, x0);
        if (in.op == IrOp::kClo64) {
          a.mvn(x1, s);
          a.clz(d, x1);
        } else {
          a.clz(d, s);
        }
        commit(in.d, d);
        break;
      }
      case IrOp::kMfhi:
      case IrOp::kMflo: {
        const Gp d = dst(in.d, x0);
        if (in.d == 0) break;
        a.ldr(d, cpu_mem(in.op == IrOp::kMfhi ? kHiOffset : kLoOffset));
        commit(in.d, d);
        break;
      }
      case IrOp::kMthi:
      case IrOp::kMtlo: {
        const Gp s = src(in.s, x1);
        a.str(s, cpu_mem(in.op == IrOp::kMthi ? kHiOffset : kLoOffset));
        break;
      }
      case IrOp::kMult:
      case IrOp::kMultu: {
        const Gp s = src(in.s, x1), t = src(in.t, x2);
        if (in.op == IrOp::kMult)
          a.smull(x0, s.w(), t.w());
        else
          a.umull(x0, s.w(), t.w());
        a.asr(x1, x0, 32);  // hi = sext32(product >> 32)
        a.str(x1, cpu_mem(kHiOffset));
        a.sxtw(x0, w0);
        a.str(x0, cpu_mem(kLoOffset));
        break;
      }
      case IrOp::kDmult:
      case IrOp::kDmultu: {
        const Gp s = src(in.s, x1), t = src(in.t, x2);
        a.mul(x0, s, t);
        if (in.op == IrOp::kDmult)
          a.smulh(x3, s, t);
        else
          a.umulh(x3, s, t);
        a.str(x3, cpu_mem(kHiOffset));
        a.str(x0, cpu_mem(kLoOffset));
        break;
      }
      case IrOp::kDiv:
      case IrOp::kDivu:
      case IrOp::kDdiv:
      case IrOp::kDdivu: {
        // A zero divisor panics in the interpreter: leave before this instruction.
        Label zero = a.newLabel();
        const Gp t = src(in.t, x2);
        if (in.op == IrOp::kDiv || in.op == IrOp::kDivu)
          a.cbz(t.w(), zero);
        else
          a.cbz(t, zero);
        if (t.id() != x2.id()) a.mov(x2, t);
        const Gp s = src(in.s, x1);
        if (s.id() != x1.id()) a.mov(x1, s);
        a.mov(w0, unsigned(in.op));
        a.add(x3, kThread, uint32_t(kCpuOffset));
        call(reinterpret_cast<const void*>(&jit_divide));
        const uint64_t pc = in.pc;
        const uint32_t left = len() - idx, dirty = m_dirty;
        m_deferred.push_back([this, zero, pc, left, dirty] {
          a.bind(zero);
          exit_to(pc, left, dirty);
        });
        break;
      }
      case IrOp::kLoad:
        emit_load(in);
        break;
      case IrOp::kStore:
        emit_store(in, idx);
        break;
      case IrOp::kAtomic:
        emit_atomic(in, idx);
        break;
      case IrOp::kBranch: {
        const Gp s = src(in.s, x1);
        switch (in.cond) {
          case Cond::kEq:
            a.cmp(s, src(in.t, x2));
            a.cset(kBr, Imm(CondCode::kEQ));
            break;
          case Cond::kNe:
            a.cmp(s, src(in.t, x2));
            a.cset(kBr, Imm(CondCode::kNE));
            break;
          case Cond::kLez:
            a.cmp(s, xzr);
            a.cset(kBr, Imm(CondCode::kLE));
            break;
          case Cond::kGtz:
            a.cmp(s, xzr);
            a.cset(kBr, Imm(CondCode::kGT));
            break;
          case Cond::kLtz:
            a.cmp(s, xzr);
            a.cset(kBr, Imm(CondCode::kLT));
            break;
          case Cond::kGez:
            a.cmp(s, xzr);
            a.cset(kBr, Imm(CondCode::kGE));
            break;
          case Cond::kNever:
            a.mov(kBr, xzr);
            break;
        }
        if (in.d) wr_imm(in.d, in.pc + 8);
        break;
      }
      case IrOp::kJump:
        if (in.d) wr_imm(in.d, in.pc + 8);
        break;
      case IrOp::kJumpReg: {
        const Gp s = src(in.s, x1);
        a.mov(kBr, s);  // read before the link (jalr rd == rs)
        if (in.d) wr_imm(in.d, in.pc + 8);
        break;
      }
    }
    if (in.zero_d) wr_imm(in.zero_d, 0);
  }

  a64::Assembler& a;
  const BlockIr& m_ir;
  void** const* m_slots;
  bool m_count;
  ProfileSlot* m_prof;
  Label m_body;
  int8_t m_slot_of[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                          -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  uint32_t m_cached = 0;
  uint32_t m_dirty = 0;
  std::vector<std::function<void()>> m_deferred;
};

// Executable memory: chunks mapped RX; a block is written by making its pages RW, copying,
// making them RX again and flushing the instruction cache (never W+X). Freed ranges are
// reused first-fit, neighbours merged.
class CodeArena {
 public:
  CodeArena() : m_page(size_t(sysconf(_SC_PAGESIZE))) {}
  ~CodeArena() {
    for (auto& [p, n] : m_chunks) munmap(p, n);
  }
  CodeArena(const CodeArena&) = delete;
  CodeArena& operator=(const CodeArena&) = delete;

  uint8_t* alloc(size_t n) {
    n = (n + 15) & ~size_t{15};
    for (auto it = m_free.begin(); it != m_free.end(); ++it) {
      if (it->second < n) continue;
      uint8_t* p = it->first;
      const size_t rest = it->second - n;
      m_free.erase(it);
      if (rest) m_free.emplace(p + n, rest);
      m_used.emplace(p, n);
      return p;
    }
    const size_t chunk = std::max(kChunk, (n + m_page - 1) / m_page * m_page);
    void* m = mmap(nullptr, chunk, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    m_chunks.emplace_back(static_cast<uint8_t*>(m), chunk);
    m_free.emplace(static_cast<uint8_t*>(m), chunk);
    return alloc(n);
  }
  bool write(uint8_t* p, const uint8_t* code, size_t n) {
    uint8_t* lo = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) & ~(m_page - 1));
    const size_t span = size_t(p + n - lo + m_page - 1) & ~(m_page - 1);
    if (mprotect(lo, span, PROT_READ | PROT_WRITE) != 0) return false;
    std::memcpy(p, code, n);
    if (mprotect(lo, span, PROT_READ | PROT_EXEC) != 0) return false;
    VirtMem::flushInstructionCache(p, n);
    return true;
  }
  void release(void* ptr) {
    auto it = m_used.find(static_cast<uint8_t*>(ptr));
    if (it == m_used.end()) return;
    uint8_t* p = it->first;
    size_t n = it->second;
    m_used.erase(it);
    auto next = m_free.lower_bound(p);
    if (next != m_free.end() && p + n == next->first) {
      n += next->second;
      next = m_free.erase(next);
    }
    if (next != m_free.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == p) {
        prev->second += n;
        return;
      }
    }
    m_free.emplace(p, n);
  }

 private:
  static constexpr size_t kChunk = size_t{1} << 20;
  size_t m_page;
  std::vector<std::pair<uint8_t*, size_t>> m_chunks;
  std::map<uint8_t*, size_t> m_free, m_used;
};

}  // namespace

struct A64Backend::Impl {
  CodeArena arena;
};

namespace {
template <typename Body, typename After>
bool assemble(CodeArena& arena, Body&& body, After&& after, CompiledBlock& out, std::string& err) {
  CodeHolder code;
  ErrorRecorder rec;
  Environment env = Environment::host();
  Error e = code.init(env);
  if (e != kErrorOk) {
    err = DebugUtils::errorAsString(e);
    return false;
  }
  code.setErrorHandler(&rec);
  a64::Assembler a(&code);
#ifdef CB_JIT_VALIDATE
  a.addDiagnosticOptions(DiagnosticOptions::kValidateAssembler);
#endif
  body(a);
  if (rec.m_err == kErrorOk) rec.m_err = code.flatten();
  if (rec.m_err == kErrorOk) rec.m_err = code.resolveUnresolvedLinks();
  if (rec.m_err != kErrorOk) {
    err = rec.m_msg.empty() ? DebugUtils::errorAsString(rec.m_err) : rec.m_msg;
    return false;
  }
  after(code);
  const size_t size = code.codeSize();
  uint8_t* rx = arena.alloc(size);
  if (!rx) {
    err = "out of executable memory";
    return false;
  }
  std::vector<uint8_t> buf(size);
  e = code.relocateToBase(reinterpret_cast<uint64_t>(rx));
  if (e == kErrorOk)
    e = code.copyFlattenedData(buf.data(), size, CopySectionFlags::kPadTargetBuffer);
  if (e != kErrorOk || !arena.write(rx, buf.data(), size)) {
    arena.release(rx);
    err = e != kErrorOk ? DebugUtils::errorAsString(e) : "mprotect failed on JIT memory";
    return false;
  }
  out.entry = rx;
  out.size = size;
  return true;
}
}  // namespace

A64Backend::A64Backend() : m_impl(std::make_unique<Impl>()) {
  CompiledBlock tramp;
  Label link, nolink, jr;
  uint64_t off_link = 0, off_nolink = 0, off_jr = 0;
  bool ok = assemble(
      m_impl->arena,
      [&](a64::Assembler& a) {
        using namespace a64;
        link = a.newLabel();
        nolink = a.newLabel();
        jr = a.newLabel();
        // enter(ctx = x0, thread = x1, entry = x2, budget = x3) -> budget left
        a.sub(sp, sp, kFrameSize);
        a.stp(x19, x20, ptr(sp, 16));
        a.stp(x21, x22, ptr(sp, 32));
        a.stp(x23, x24, ptr(sp, 48));
        a.stp(x25, x26, ptr(sp, 64));
        a.stp(x27, x28, ptr(sp, 80));
        a.stp(x29, x30, ptr(sp, 96));
        a.mov(kCtx, x0);
        a.mov(kThread, x1);
        a.mov(kBudget, x3);
        a.br(x2);
        Label common = a.newLabel();
        a.bind(jr);  // a free lookup entry: pc is the jr/jalr target in x22
        a.str(kBr, ptr(kThread, int32_t(kPcOffset)));
        a.add(x0, kBr, 4);
        a.str(x0, ptr(kThread, int32_t(kNextPcOffset)));
        a.bind(nolink);
        a.mov(x0, xzr);
        a.b(common);
        a.bind(link);  // x0 = the exit slot taken; pc from the slot
        a.ldr(x1, ptr(x0, int32_t(kSlotPcOffset)));
        a.str(x1, ptr(kThread, int32_t(kPcOffset)));
        a.add(x1, x1, 4);
        a.str(x1, ptr(kThread, int32_t(kNextPcOffset)));
        a.bind(common);
        // ctx fields beyond the ldr/str immediate range: address through x17.
        a.mov(x17, uint64_t(kCtxLastSlot & ~0xfffu));
        a.add(x17, kCtx, x17);
        a.str(x0, ptr(x17, int32_t(kCtxLastSlot & 0xfff)));
        a.mov(x17, uint64_t(kCtxBudget & ~0xfffu));
        a.add(x17, kCtx, x17);
        a.str(kBudget, ptr(x17, int32_t(kCtxBudget & 0xfff)));
        a.mov(x0, kBudget);
        a.ldp(x19, x20, ptr(sp, 16));
        a.ldp(x21, x22, ptr(sp, 32));
        a.ldp(x23, x24, ptr(sp, 48));
        a.ldp(x25, x26, ptr(sp, 64));
        a.ldp(x27, x28, ptr(sp, 80));
        a.ldp(x29, x30, ptr(sp, 96));
        a.add(sp, sp, kFrameSize);
        a.ret(x30);
      },
      [&](CodeHolder& code) {
        off_link = code.labelOffsetFromBase(link);
        off_nolink = code.labelOffsetFromBase(nolink);
        off_jr = code.labelOffsetFromBase(jr);
      },
      tramp, m_error);
  if (!ok) return;
  m_ok = true;
  m_enter = reinterpret_cast<EnterFn>(tramp.entry);
  m_exit_link = static_cast<const uint8_t*>(tramp.entry) + off_link;
  m_exit_nolink = static_cast<const uint8_t*>(tramp.entry) + off_nolink;
  m_exit_jr = static_cast<const uint8_t*>(tramp.entry) + off_jr;
}

A64Backend::~A64Backend() = default;

bool A64Backend::compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out,
                         ProfileSlot* profile) {
  if (!m_ok) return false;
  return assemble(
      m_impl->arena,
      [&](a64::Assembler& a) { BlockEmitter(a, ir, slots, m_count_blocks, profile).emit(); },
      [](CodeHolder&) {}, out, m_error);
}

void A64Backend::release(const CompiledBlock& b) {
  if (b.entry) m_impl->arena.release(b.entry);
}

uint64_t A64Backend::enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const {
  return m_enter(ctx, t, entry, budget);
}

}  // namespace cb::jit
