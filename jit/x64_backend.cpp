#include "jit/x64_backend.h"

#include <asmjit/x86.h>

#include <cstring>
#include <functional>
#include <vector>

#include "jit/asm_error.h"
#include "memory/memory.h"

namespace cb::jit {

using namespace asmjit;
using x86::Gp;
using x86::Mem;

namespace {

// Fixed: rbx = Thread*, r12 = JitContext*, r13 = budget, r14 = branch condition / target.
// Scratch: rax, rsi (page pointer, TLB tag), rcx (the effective address of a load/store,
// saved around the calls of its slow paths; else a scratch, shift counts).
const Gp kThread = x86::rbx, kCtx = x86::r12, kBudget = x86::r13, kBr = x86::r14, kAddr = x86::rcx;
// Host registers that hold guest registers inside a block (see BlockEmitter). rbp and r15
// survive calls; the others are caller-saved, so every helper call is wrapped in
// spill()/reload(), and dmult/dmultu save rdx around their implicit use of it.
const Gp kCacheRegs[] = {x86::rbp, x86::r15, x86::rdi, x86::r8,
                         x86::r9,  x86::r10, x86::r11, x86::rdx};
constexpr unsigned kCacheCount = sizeof kCacheRegs / sizeof kCacheRegs[0];
// The enter trampoline reserves 24 bytes of stack below its saved registers for scratch.
constexpr int32_t kScratchPage = 0;   // [rsp + 0]: host address across a merging store's call
constexpr int32_t kScratchRdx = 8;    // [rsp + 8]: rdx across dmult/dmultu
constexpr int32_t kScratchAddr = 16;  // [rsp + 16]: the effective address across a slow path

Mem mem_q(unsigned r) { return x86::qword_ptr(kThread, int32_t(kRegsOffset + 8 * r)); }
Mem mem_d(unsigned r) { return x86::dword_ptr(kThread, int32_t(kRegsOffset + 8 * r)); }
Mem cpu_q(size_t off) { return x86::qword_ptr(kThread, int32_t(off)); }

using irdef::bit;  // guest register r as a mask bit ($zero: none), as ir_reads / ir_writes use

// Emits one block. Guest registers: the (up to kCacheCount) most used in the block live in
// host registers from the block's entry (all loaded there) to its exits, which store back the
// ones written so far (m_dirty, tracked at emission time: a block is straight-line code).
// Helper calls on the main path (merging loads/stores, divisions) store the written ones, call
// and reload all; the slow paths (TLB misses, on_store) call a per-block stub that stores all,
// calls and reloads. Everything else is read and written in the Thread.
// With a ProfileSlot (profiling only; none: not one instruction of this is emitted), the block
// counts its steps in it after the budget check, takes them back on early exits, and an event
// block reports to the profiler at its exits (see ProfileSlot, jit/context.h).
class BlockEmitter {
 public:
  BlockEmitter(x86::Assembler& a, const BlockIr& ir, void** const* slots, bool count, bool movbe,
               ProfileSlot* prof)
      : a(a), m_ir(ir), m_slots(slots), m_count(count), m_movbe(movbe), m_prof(prof) {}

  void emit() {
    const uint32_t n = uint32_t(m_ir.insns.size());
    allocate();
    Label fail = a.newLabel();
    m_body = a.newLabel();
    a.cmp(kBudget, n);
    a.jb(fail);
    a.sub(kBudget, n);
    if (m_prof) emit_count(n);  // before the loads: its retag call may clobber any scratch
    if (m_count) a.inc(x86::qword_ptr(kCtx, kCtxBlocksRun));
    for (unsigned r = 1; r < 32; ++r)
      if (m_cached & bit(r)) a.mov(host(r), mem_q(r));
    a.bind(m_body);  // self-loops come back here (all cached registers valid and clean)
    for (uint32_t i = 0; i < n; ++i) emit_insn(i);
    emit_end(true, m_dirty);
    // Chained exits do not store pc (the exit stub takes it from the slot), so a block that
    // cannot run in the budget left sets its own.
    a.bind(fail);
    set_pc(m_ir.start_pc);
    exit_nolink();
    // Out-of-line paths may defer more paths of their own: index, and move each out first.
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
      for (unsigned g = 1; g < 32; ++g) {
        if (!((r | w) & bit(g))) continue;
        uses[g] += ((r & bit(g)) ? 1 : 0) + ((w & bit(g)) ? 1 : 0);
      }
    }
    for (unsigned k = 0; k < kCacheCount; ++k) {
      unsigned best = 0;
      for (unsigned g = 1; g < 32; ++g)
        if (m_slot_of[g] < 0 && uses[g] > uses[best]) best = g;
      if (best == 0 || uses[best] < 3)
        break;  // fewer uses gain too little for the loads and stores
      m_slot_of[best] = int8_t(k);
      m_cached |= bit(best);
    }
  }
  Gp host(unsigned r) const { return kCacheRegs[m_slot_of[r]]; }
  bool cached(unsigned r) const { return (m_cached & bit(r)) != 0; }
  Operand q(unsigned r) const { return cached(r) ? Operand(host(r)) : Operand(mem_q(r)); }
  Operand d32(unsigned r) const { return cached(r) ? Operand(host(r).r32()) : Operand(mem_d(r)); }
  void wr(unsigned r, const Gp& v) {
    if (r == 0) return;
    if (cached(r)) {
      a.mov(host(r), v);
      m_dirty |= bit(r);
    } else {
      a.mov(mem_q(r), v);
    }
  }
  // d = sign-extended eax.
  void wr_sx32(unsigned r) {
    if (r == 0) return;
    if (cached(r)) {
      a.movsxd(host(r), x86::eax);
      m_dirty |= bit(r);
    } else {
      a.movsxd(x86::rax, x86::eax);
      a.mov(mem_q(r), x86::rax);
    }
  }
  void wr_zero(unsigned r) {
    if (r == 0) return;
    if (cached(r)) {
      a.xor_(host(r).r32(), host(r).r32());
      m_dirty |= bit(r);
    } else {
      a.mov(mem_q(r), 0);
    }
  }
  void wr_one(unsigned r) {
    a.mov(x86::eax, 1);
    wr(r, x86::rax);
  }
  void writeback(uint32_t mask) {
    for (unsigned r = 1; r < 32; ++r)
      if (mask & bit(r)) a.mov(mem_q(r), host(r));
  }
  void reload() {
    for (unsigned r = 1; r < 32; ++r)
      if (m_cached & bit(r)) a.mov(host(r), mem_q(r));
  }
  // Before a helper call on the main path: the Thread gets every written register (the
  // helper's arguments are then read from there), and the cache is clean afterwards.
  void spill() {
    writeback(m_dirty);
    m_dirty = 0;
  }

  void call(const void* fn) {
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(fn)));
    a.call(x86::rax);
  }

  // Profiling: slot.steps += n under the current tag (retagging first when it differs).
  // At the block's entry, before any guest register is loaded into a host register.
  void emit_count(uint32_t n) {
    Label retag = a.newLabel(), counted = a.newLabel();
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
    a.mov(x86::ecx, x86::dword_ptr(kCtx, kCtxProfileTag));
    a.cmp(x86::dword_ptr(x86::rax, kProfTag), x86::ecx);
    a.jne(retag);
    a.bind(counted);
    a.add(x86::qword_ptr(x86::rax, kProfSteps), n);
    m_deferred.push_back([this, retag, counted] {
      a.bind(retag);
      a.mov(x86::rdi, kCtx);
      a.mov(x86::rsi, x86::rax);
      call(reinterpret_cast<const void*>(&jit_profile_retag));
      a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
      a.jmp(counted);
    });
  }
  bool event() const { return m_prof && m_prof->event; }
  // Profiling: an event block (a call or return) reports itself once its pc is stored and
  // every written register is in the Thread (the profiler reads pc, and g in R30); the call
  // clobbers the caller-saved cache registers, so only exits (which leave the cache) do this.
  void emit_event() {
    a.mov(x86::rdi, kCtx);
    a.mov(x86::rsi, kThread);
    a.mov(x86::rdx, imm(reinterpret_cast<uint64_t>(m_prof)));
    call(reinterpret_cast<const void*>(&jit_profile_event));
  }
  void exit_nolink() {
    a.xor_(x86::eax, x86::eax);
    a.jmp(x86::qword_ptr(kCtx, kCtxExitNolink));
  }
  void set_pc(uint64_t pc) {
    a.mov(x86::rax, imm(pc));
    a.mov(cpu_q(kPcOffset), x86::rax);
    a.add(x86::rax, 4);
    a.mov(cpu_q(kNextPcOffset), x86::rax);
  }
  // Leaves with `steps_not_run` steps given back and pc at `pc`.
  void exit_to(uint64_t pc, uint32_t steps_not_run, uint32_t dirty) {
    writeback(dirty);
    if (steps_not_run) a.add(kBudget, steps_not_run);
    if (m_prof) {  // take this run's count back; the dispatcher attributes the steps that ran
      a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
      a.sub(x86::qword_ptr(x86::rax, kProfSteps), len());
      a.mov(x86::qword_ptr(kCtx, kCtxProfilePartial), x86::rax);
      a.mov(x86::qword_ptr(kCtx, kCtxProfilePartialRun), len() - steps_not_run);
    }
    set_pc(pc);
    exit_nolink();
  }
  // A direct exit. Chained, it jumps through the slot: to the target block, or to the exit
  // stub, which stores pc from the slot (kSlotPcOffset); compiled code never reads pc
  // (except the profiler's event: an event block stores pc first).
  void exit_slot(uint64_t pc, int slot, bool chain) {
    if (!chain || event()) set_pc(pc);
    if (event()) emit_event();
    if (!chain) return exit_nolink();
    if (pc == m_ir.start_pc && !event()) {
      // A self-loop: stay in this code while the budget allows, registers still cached.
      // (Not for an event block: its event call above clobbers them.)
      Label out = a.newLabel();
      a.cmp(kBudget, len());
      a.jb(out);
      a.sub(kBudget, len());
      if (m_count) a.inc(x86::qword_ptr(kCtx, kCtxBlocksRun));
      if (m_prof) {
        // Counted again; no tag check: only an event changes ctx.profile_tag, and the entry's
        // count made slot.tag equal to it.
        a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
        a.add(x86::qword_ptr(x86::rax, kProfSteps), len());
      }
      a.jmp(m_body);
      a.bind(out);
    }
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_slots[slot])));
    a.jmp(x86::qword_ptr(x86::rax));
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
        a.test(x86::r14d, x86::r14d);
        a.jnz(taken);
        exit_slot(m_ir.next_pc, 1, chain);
        a.bind(taken);
        exit_slot(m_ir.taken_pc, 0, chain);
        break;
      }
      case EndKind::kJumpReg: {
        Label miss = a.newLabel();
        if (event()) {
          a.mov(cpu_q(kPcOffset), kBr);
          a.lea(x86::rax, x86::ptr(kBr, 4));
          a.mov(cpu_q(kNextPcOffset), x86::rax);
          emit_event();  // r14 (the target) survives the call
        }
        if (chain) {
          // Inline lookup of the target in the pc -> entry table.
          a.mov(x86::eax, x86::r14d);
          a.shl(x86::eax, 2);
          a.and_(x86::eax, uint32_t((kLookupEntries - 1) << 4));
          a.cmp(kBr, x86::qword_ptr(kCtx, x86::rax, 0, kCtxLookup));
          a.jne(miss);
          a.jmp(x86::qword_ptr(kCtx, x86::rax, 0, kCtxLookup + 8));
        }
        a.bind(miss);
        if (!event()) {
          a.mov(cpu_q(kPcOffset), kBr);
          a.lea(x86::rax, x86::ptr(kBr, 4));
          a.mov(cpu_q(kNextPcOffset), x86::rax);
        }
        exit_nolink();
        break;
      }
    }
  }

  // Leaves the page data pointer for the address in rcx in rsi.
  void tlb_lookup(bool write, Label slow) {
    int32_t base = write ? kCtxWriteTlb : kCtxReadTlb;
    a.mov(x86::eax, kAddr.r32());
    a.shr(x86::eax, 8);
    a.and_(x86::eax, uint32_t((kTlbEntries - 1) << 4));
    a.mov(x86::rsi, kAddr);
    a.and_(x86::rsi, -4096);
    a.cmp(x86::rsi, x86::qword_ptr(kCtx, x86::rax, 0, base));
    a.jne(slow);
    a.mov(x86::rsi, x86::qword_ptr(kCtx, x86::rax, 0, base + 8));
  }
  // A slow-path call fn(ctx, rsi) that keeps rcx, through the block's shared stub for fn.
  void call_stub(const void* fn) {
    for (auto& [f, label] : m_stubs) {
      if (f == fn) {
        a.call(label);
        return;
      }
    }
    Label l = a.newLabel();
    m_stubs.emplace_back(fn, l);
    m_deferred.push_back([this, fn, l] {
      // Every cached register holds its guest value (all are loaded at entry), so all are
      // stored; entered by `call`, so rsp is 8 below the block's.
      a.bind(l);
      writeback(m_cached);
      a.mov(x86::qword_ptr(x86::rsp, 8 + kScratchAddr), kAddr);
      a.mov(x86::rdi, kCtx);
      a.sub(x86::rsp, 8);
      call(fn);
      a.add(x86::rsp, 8);
      reload();
      a.mov(kAddr, x86::qword_ptr(x86::rsp, 8 + kScratchAddr));
      a.ret();
    });
    a.call(l);
  }
  void call_with_address(const void* fn) {
    a.mov(x86::rsi, kAddr);
    call_stub(fn);
  }

  void emit_address(const IrInsn& in) {
    if (cached(in.s) && in.imm) {
      a.lea(kAddr, x86::ptr(host(in.s), int32_t(in.imm)));
      return;
    }
    a.emit(x86::Inst::kIdMov, kAddr, q(in.s));
    if (in.imm) a.add(kAddr, int32_t(in.imm));
  }

  // A big-endian load of `bits` from [rsi + rax] into eax/rax (movbe when the CPU has it).
  void load_be(unsigned bits) {
    if (bits == 32) {
      if (m_movbe)
        a.movbe(x86::eax, x86::dword_ptr(x86::rsi, x86::rax));
      else
        a.mov(x86::eax, x86::dword_ptr(x86::rsi, x86::rax)), a.bswap(x86::eax);
    } else {
      if (m_movbe)
        a.movbe(x86::rax, x86::qword_ptr(x86::rsi, x86::rax));
      else
        a.mov(x86::rax, x86::qword_ptr(x86::rsi, x86::rax)), a.bswap(x86::rax);
    }
  }

  void emit_load(const IrInsn& in) {
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(false, slow);
    a.bind(resume);
    a.mov(x86::eax, kAddr.r32());
    Mem b = x86::byte_ptr(x86::rsi, x86::rax);
    switch (in.mem) {
      case MemKind::kS8:
        a.and_(x86::eax, 0xfff);
        a.movsx(x86::rax, b);
        break;
      case MemKind::kU8:
        a.and_(x86::eax, 0xfff);
        a.movzx(x86::eax, b);
        break;
      case MemKind::kS16:
      case MemKind::kU16:
        a.and_(x86::eax, 0xffe);
        a.movzx(x86::eax, x86::word_ptr(x86::rsi, x86::rax));
        a.rol(x86::ax, 8);
        if (in.mem == MemKind::kS16)
          a.movsx(x86::rax, x86::ax);
        else
          a.movzx(x86::eax, x86::ax);
        break;
      case MemKind::kS32:
      case MemKind::kU32:
        a.and_(x86::eax, 0xffc);
        if (in.mem == MemKind::kU32 && m_movbe && cached(in.d)) {
          a.movbe(host(in.d).r32(), x86::dword_ptr(x86::rsi, x86::rax));  // zero-extends
          m_dirty |= bit(in.d);
          return defer_load_slow(slow, resume);
        }
        load_be(32);
        if (in.mem == MemKind::kS32) {
          wr_sx32(in.d);
          return defer_load_slow(slow, resume);
        }
        break;
      case MemKind::k64:
        a.and_(x86::eax, 0xff8);
        if (m_movbe && cached(in.d)) {
          a.movbe(host(in.d), x86::qword_ptr(x86::rsi, x86::rax));
          m_dirty |= bit(in.d);
          return defer_load_slow(slow, resume);
        }
        load_be(64);
        break;
      default:  // merging loads: helper(kind, addr, mem word, old rt)
        a.and_(x86::eax, 0xff8);
        load_be(64);
        spill();  // before rdx (a cache register) is overwritten
        a.mov(x86::rdx, x86::rax);
        a.mov(x86::edi, unsigned(in.mem));
        a.mov(x86::rsi, kAddr);
        a.mov(x86::rcx, mem_q(in.d));
        call(reinterpret_cast<const void*>(&jit_merge));
        reload();
        break;
    }
    wr(in.d, x86::rax);
    defer_load_slow(slow, resume);
  }
  // A load's TLB miss: the page (or the zero page) into rsi, back to `resume`.
  void defer_load_slow(Label slow, Label resume) {
    m_deferred.push_back([this, slow, resume] {
      a.bind(slow);
      call_with_address(reinterpret_cast<const void*>(&jit_read_page));
      a.mov(x86::rsi, x86::rax);
      a.jmp(resume);
    });
  }

  // A big-endian store of v (clobbered without movbe).
  void store_be(const Gp& v, const Mem& m) {
    if (m_movbe) {
      a.movbe(m, v);
    } else {
      a.bswap(v);
      a.mov(m, v);
    }
  }

  // The write itself and the LL/SC check; page data in rsi, address in rcx. (The write TLB
  // only holds pages already marked dirty as a whole, see JitEngine::write_page.)
  void store_body(const IrInsn& in) {
    a.mov(x86::eax, kAddr.r32());
    const Mem b = x86::byte_ptr(x86::rsi), w = x86::word_ptr(x86::rsi),
              d = x86::dword_ptr(x86::rsi), qw = x86::qword_ptr(x86::rsi);
    switch (in.mem) {
      case MemKind::kU8:
        a.and_(x86::eax, 0xfff);
        a.add(x86::rsi, x86::rax);
        a.emit(x86::Inst::kIdMov, x86::rax, q(in.t));
        a.mov(b, x86::al);
        break;
      case MemKind::kU16:
        a.and_(x86::eax, 0xffe);
        a.add(x86::rsi, x86::rax);
        a.emit(x86::Inst::kIdMov, x86::rax, q(in.t));
        a.rol(x86::ax, 8);
        a.mov(w, x86::ax);
        break;
      case MemKind::kU32:
        a.and_(x86::eax, 0xffc);
        a.add(x86::rsi, x86::rax);
        a.emit(x86::Inst::kIdMov, x86::eax, d32(in.t));
        store_be(x86::eax, d);
        break;
      case MemKind::k64:
        a.and_(x86::eax, 0xff8);
        a.add(x86::rsi, x86::rax);
        a.emit(x86::Inst::kIdMov, x86::rax, q(in.t));
        store_be(x86::rax, qw);
        break;
      default:  // merging stores: new word = helper(kind, addr, mem word, rt)
        a.and_(x86::eax, 0xff8);
        a.add(x86::rsi, x86::rax);
        a.mov(x86::qword_ptr(x86::rsp, kScratchPage), x86::rsi);
        a.mov(x86::qword_ptr(x86::rsp, kScratchAddr), kAddr);
        spill();  // before rdx (a cache register) is overwritten
        a.mov(x86::rdx, qw);
        a.bswap(x86::rdx);
        a.mov(x86::edi, unsigned(in.mem));
        a.mov(x86::rsi, kAddr);
        a.mov(x86::rcx, mem_q(in.t));
        call(reinterpret_cast<const void*>(&jit_merge));
        reload();
        a.bswap(x86::rax);
        a.mov(x86::rsi, x86::qword_ptr(x86::rsp, kScratchPage));
        a.mov(qw, x86::rax);
        a.mov(kAddr, x86::qword_ptr(x86::rsp, kScratchAddr));
        break;
    }
    // Vm::on_store: a store to the reserved word clears the reservation.
    Label ll_slow = a.newLabel(), ll_done = a.newLabel();
    a.mov(x86::rax, x86::qword_ptr(kCtx, kCtxLl));
    a.mov(x86::rax, x86::qword_ptr(x86::rax));
    a.xor_(x86::rax, kAddr);
    a.test(x86::rax, -8);
    a.jz(ll_slow);
    a.bind(ll_done);
    m_deferred.push_back([this, ll_slow, ll_done] {
      a.bind(ll_slow);
      a.mov(x86::rsi, kAddr);
      a.and_(x86::rsi, -8);
      call_stub(reinterpret_cast<const void*>(&jit_on_store));
      a.jmp(ll_done);
    });
  }

  // sc: the store of a successful sc/scd, which then sets t = 1 (also on the way out when the
  // store hit compiled code).
  void emit_store(const IrInsn& in, uint32_t idx, bool sc = false) {
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(true, slow);
    a.bind(resume);
    store_body(in);
    if (sc) wr_one(in.t);
    m_deferred.push_back([this, in, idx, slow, resume, sc] {
      Label inval = a.newLabel();
      a.bind(slow);
      call_with_address(reinterpret_cast<const void*>(&jit_write_page));
      a.mov(x86::rsi, x86::rax);
      a.cmp(x86::byte_ptr(kCtx, kCtxInvalidated), 0);
      a.jne(inval);
      a.jmp(resume);
      // The store hit compiled code (maybe this very block): do it, then leave compiled code
      // right after it so the next instruction is fetched anew. Registers are all in the
      // Thread already.
      a.bind(inval);
      const uint32_t saved = m_dirty;
      m_dirty = 0;
      store_body(in);
      if (sc) wr_one(in.t);
      exit_after(idx, m_dirty);
      m_dirty = saved;
    });
  }

  // Leaves compiled code right after instruction idx (it changed compiled code).
  void exit_after(uint32_t idx, uint32_t dirty) {
    if (idx + 1 == len()) {
      emit_end(false, dirty);  // the last instruction (maybe a delay slot): the block's own end
    } else {
      exit_to(m_ir.insns[idx + 1].pc, len() - idx - 1, dirty);
    }
  }

  // ll/lld/sc/scd inline, with the reservation rules of ll_reserve/sc_consume (interp/vm.h):
  // ll is a load plus a reservation (status, address as computed, owner = thread id); sc
  // checks all three, clears them and stores like sw/sd, else only sets t = 0.
  void emit_atomic(const IrInsn& in, uint32_t idx) {
    const bool is64 = in.mem == MemKind::kLld || in.mem == MemKind::kScd;
    const uint8_t active = is64 ? kLLActive64 : kLLActive32;
    if (in.mem == MemKind::kLl || in.mem == MemKind::kLld) {
      IrInsn ld = in;
      ld.op = IrOp::kLoad;
      ld.mem = is64 ? MemKind::k64 : MemKind::kS32;
      ld.d = in.t;
      emit_load(ld);  // leaves the address in rcx
      a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlStatus));
      a.mov(x86::byte_ptr(x86::rsi), active);
      a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLl));
      a.mov(x86::qword_ptr(x86::rsi), kAddr);
      a.mov(x86::rax, cpu_q(kIdOffset));
      a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlOwner));
      a.mov(x86::qword_ptr(x86::rsi), x86::rax);
      return;
    }
    Label fail = a.newLabel(), done = a.newLabel();
    emit_address(in);
    a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlStatus));
    a.cmp(x86::byte_ptr(x86::rsi), active);
    a.jne(fail);
    a.mov(x86::rax, cpu_q(kIdOffset));
    a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlOwner));
    a.cmp(x86::qword_ptr(x86::rsi), x86::rax);
    a.jne(fail);
    a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLl));
    a.cmp(x86::qword_ptr(x86::rsi), kAddr);
    a.jne(fail);
    a.mov(x86::qword_ptr(x86::rsi), 0);
    a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlStatus));
    a.mov(x86::byte_ptr(x86::rsi), uint8_t(kLLNone));
    a.mov(x86::rsi, x86::qword_ptr(kCtx, kCtxLlOwner));
    a.mov(x86::qword_ptr(x86::rsi), 0);
    IrInsn st = in;
    st.op = IrOp::kStore;
    st.mem = is64 ? MemKind::k64 : MemKind::kU32;
    emit_store(st, idx, true);
    a.jmp(done);
    a.bind(fail);
    wr_zero(in.t);
    a.bind(done);
  }

  // d = s (op) t, 64-bit (add, sub, and, or, xor): in d's host register when it has one
  // (in place when d == s), else through rax. t == $zero leaves s unchanged (not for and).
  void alu64(InstId id, const IrInsn& in) {
    const bool identity = in.t == 0 && id != x86::Inst::kIdAnd;
    if (cached(in.d) && in.d == in.t && in.d != in.s && id != x86::Inst::kIdSub) {
      a.emit(id, host(in.d), q(in.s));  // commutative: d = t (op) s in place
      m_dirty |= bit(in.d);
      return;
    }
    if (cached(in.d) && (in.d == in.s || in.d != in.t)) {
      const Gp d = host(in.d);
      if (in.d != in.s) a.emit(x86::Inst::kIdMov, d, q(in.s));
      if (!identity) a.emit(id, d, q(in.t));
      m_dirty |= bit(in.d);
      return;
    }
    a.emit(x86::Inst::kIdMov, x86::rax, q(in.s));
    if (!identity) a.emit(id, x86::rax, q(in.t));
    wr(in.d, x86::rax);
  }
  // d = s (op) imm, 64-bit (add, and, or, xor); imm == 0 leaves s unchanged (not for and).
  void alu64i(InstId id, const IrInsn& in) {
    const bool identity = in.imm == 0 && id != x86::Inst::kIdAnd;
    if (cached(in.d)) {
      const Gp d = host(in.d);
      if (in.d != in.s) a.emit(x86::Inst::kIdMov, d, q(in.s));
      if (!identity) a.emit(id, d, imm(int32_t(in.imm)));
      m_dirty |= bit(in.d);
      return;
    }
    a.emit(x86::Inst::kIdMov, x86::rax, q(in.s));
    if (!identity) a.emit(id, x86::rax, imm(int32_t(in.imm)));
    wr(in.d, x86::rax);
  }
  // d = t shifted by sa, 64-bit.
  void shift64i(InstId id, const IrInsn& in) {
    if (cached(in.d)) {
      const Gp d = host(in.d);
      if (in.d != in.t) a.emit(x86::Inst::kIdMov, d, q(in.t));
      if (in.sa) a.emit(id, d, imm(in.sa));
      m_dirty |= bit(in.d);
      return;
    }
    a.emit(x86::Inst::kIdMov, x86::rax, q(in.t));
    if (in.sa) a.emit(id, x86::rax, imm(in.sa));
    wr(in.d, x86::rax);
  }
  // eax = s (op) t, sign-extended, into d.
  void alu32(InstId id, const IrInsn& in) {
    a.emit(x86::Inst::kIdMov, x86::eax, d32(in.s));
    a.emit(id, x86::eax, d32(in.t));
    wr_sx32(in.d);
  }

  void emit_insn(uint32_t idx) {
    const IrInsn& in = m_ir.insns[idx];
    using namespace x86;
    switch (in.op) {
      case IrOp::kNop:
        break;
      case IrOp::kAdd32:
        alu32(Inst::kIdAdd, in);
        break;
      case IrOp::kSub32:
        alu32(Inst::kIdSub, in);
        break;
      case IrOp::kMul32:
        alu32(Inst::kIdImul, in);
        break;
      case IrOp::kAdd64:
        alu64(Inst::kIdAdd, in);
        break;
      case IrOp::kSub64:
        alu64(Inst::kIdSub, in);
        break;
      case IrOp::kAnd:
        alu64(Inst::kIdAnd, in);
        break;
      case IrOp::kOr:
        alu64(Inst::kIdOr, in);
        break;
      case IrOp::kXor:
        alu64(Inst::kIdXor, in);
        break;
      case IrOp::kNor:
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.emit(Inst::kIdOr, rax, q(in.t));
        a.not_(rax);
        wr(in.d, rax);
        break;
      case IrOp::kSlt:
      case IrOp::kSltu:
        a.xor_(ecx, ecx);
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.emit(Inst::kIdCmp, rax, q(in.t));
        if (in.op == IrOp::kSlt)
          a.setl(cl);
        else
          a.setb(cl);
        wr(in.d, rcx);
        break;
      case IrOp::kAddImm32:
        a.emit(Inst::kIdMov, eax, d32(in.s));
        a.add(eax, int32_t(in.imm));
        wr_sx32(in.d);
        break;
      case IrOp::kAddImm64:
        alu64i(Inst::kIdAdd, in);
        break;
      case IrOp::kSltImm:
      case IrOp::kSltuImm:
        a.xor_(ecx, ecx);
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.cmp(rax, int32_t(in.imm));
        if (in.op == IrOp::kSltImm)
          a.setl(cl);
        else
          a.setb(cl);
        wr(in.d, rcx);
        break;
      case IrOp::kAndImm:
        alu64i(Inst::kIdAnd, in);
        break;
      case IrOp::kOrImm:
        alu64i(Inst::kIdOr, in);
        break;
      case IrOp::kXorImm:
        alu64i(Inst::kIdXor, in);
        break;
      case IrOp::kConst:
        a.mov(rax, imm(in.imm));
        wr(in.d, rax);
        break;
      case IrOp::kSll32:
        a.emit(Inst::kIdMov, eax, d32(in.t));
        a.shl(eax, in.sa);
        wr_sx32(in.d);
        break;
      case IrOp::kSrl32:
        a.emit(Inst::kIdMov, eax, d32(in.t));
        a.shr(eax, in.sa);
        wr_sx32(in.d);
        break;
      case IrOp::kSra32:
        a.emit(Inst::kIdMovsxd, rax, d32(in.t));
        a.sar(rax, in.sa);
        wr(in.d, rax);
        break;
      case IrOp::kSll64:
        shift64i(Inst::kIdShl, in);
        break;
      case IrOp::kSrl64:
        shift64i(Inst::kIdShr, in);
        break;
      case IrOp::kSra64:
        shift64i(Inst::kIdSar, in);
        break;
      case IrOp::kSllv32:
      case IrOp::kSrlv32:
        a.emit(Inst::kIdMov, ecx, d32(in.s));
        a.emit(Inst::kIdMov, eax, d32(in.t));
        if (in.op == IrOp::kSllv32)
          a.shl(eax, cl);
        else
          a.shr(eax, cl);
        wr_sx32(in.d);
        break;
      case IrOp::kSrav32:
        a.emit(Inst::kIdMov, ecx, d32(in.s));
        a.and_(ecx, 31);
        a.emit(Inst::kIdMovsxd, rax, d32(in.t));
        a.sar(rax, cl);
        wr(in.d, rax);
        break;
      case IrOp::kSllv64:
      case IrOp::kSrlv64:
      case IrOp::kSrav64:
        a.emit(Inst::kIdMov, ecx, d32(in.s));
        a.emit(Inst::kIdMov, rax, q(in.t));
        if (in.op == IrOp::kSllv64)
          a.shl(rax, cl);
        else if (in.op == IrOp::kSrlv64)
          a.shr(rax, cl);
        else
          a.sar(rax, cl);
        wr(in.d, rax);
        break;
      case IrOp::kMovz:
      case IrOp::kMovn: {
        Label skip = a.newLabel();
        a.emit(Inst::kIdCmp, q(in.t), imm(0));
        if (in.op == IrOp::kMovz)
          a.jne(skip);
        else
          a.je(skip);
        a.emit(Inst::kIdMov, rax, q(in.s));
        wr(in.d, rax);  // d was loaded at entry (a read), so it is right on both paths
        a.bind(skip);
        break;
      }
      case IrOp::kClz32:
      case IrOp::kClo32:
        a.emit(Inst::kIdMov, eax, d32(in.s));
        if (in.op == IrOp::kClo32) a.not_(eax);
        a.mov(esi, -1);
        a.bsr(eax, eax);
        a.cmovz(eax, esi);
        a.mov(ecx, 31);
        a.sub(ecx, eax);
        wr(in.d, rcx);
        break;
      case IrOp::kClz64:
      case IrOp::kClo64:
        a.emit(Inst::kIdMov, rax, q(in.s));
        if (in.op == IrOp::kClo64) a.not_(rax);
        a.mov(rsi, -1);
        a.bsr(rax, rax);
        a.cmovz(rax, rsi);
        a.mov(ecx, 63);
        a.sub(rcx, rax);
        wr(in.d, rcx);
        break;
      case IrOp::kMfhi:
        a.mov(rax, cpu_q(kHiOffset));
        wr(in.d, rax);
        break;
      case IrOp::kMflo:
        a.mov(rax, cpu_q(kLoOffset));
        wr(in.d, rax);
        break;
      case IrOp::kMthi:
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.mov(cpu_q(kHiOffset), rax);
        break;
      case IrOp::kMtlo:
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.mov(cpu_q(kLoOffset), rax);
        break;
      case IrOp::kMult:
      case IrOp::kMultu:
        if (in.op == IrOp::kMult) {
          a.emit(Inst::kIdMovsxd, rax, d32(in.s));
          a.emit(Inst::kIdMovsxd, rcx, d32(in.t));
        } else {
          a.emit(Inst::kIdMov, eax, d32(in.s));
          a.emit(Inst::kIdMov, ecx, d32(in.t));
        }
        a.imul(rax, rcx);
        a.mov(rcx, rax);
        a.sar(rcx, 32);  // = sext32(product >> 32)
        a.mov(cpu_q(kHiOffset), rcx);
        a.movsxd(rax, eax);
        a.mov(cpu_q(kLoOffset), rax);
        break;
      case IrOp::kDmult:
      case IrOp::kDmultu:
        a.mov(qword_ptr(rsp, kScratchRdx), rdx);  // rdx may hold a guest register
        a.emit(Inst::kIdMov, rax, q(in.s));
        a.emit(in.op == IrOp::kDmult ? Inst::kIdImul : Inst::kIdMul, q(in.t));
        a.mov(cpu_q(kHiOffset), rdx);
        a.mov(cpu_q(kLoOffset), rax);
        a.mov(rdx, qword_ptr(rsp, kScratchRdx));
        break;
      case IrOp::kDiv:
      case IrOp::kDivu:
      case IrOp::kDdiv:
      case IrOp::kDdivu: {
        // A zero divisor panics in the interpreter: leave before this instruction.
        Label zero = a.newLabel();
        if (in.op == IrOp::kDiv || in.op == IrOp::kDivu)
          a.emit(Inst::kIdCmp, d32(in.t), imm(0));
        else
          a.emit(Inst::kIdCmp, q(in.t), imm(0));
        a.je(zero);
        const uint32_t dirty = m_dirty;
        spill();
        a.mov(edi, unsigned(in.op));
        a.mov(rsi, mem_q(in.s));
        a.mov(rdx, mem_q(in.t));
        a.lea(rcx, ptr(kThread, int32_t(kCpuOffset)));
        call(reinterpret_cast<const void*>(&jit_divide));
        reload();
        uint64_t pc = in.pc;
        uint32_t left = len() - idx;
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
        a.xor_(r14d, r14d);
        a.emit(Inst::kIdMov, rax, q(in.s));
        switch (in.cond) {
          case Cond::kEq:
            a.emit(Inst::kIdCmp, rax, q(in.t));
            a.sete(r14b);
            break;
          case Cond::kNe:
            a.emit(Inst::kIdCmp, rax, q(in.t));
            a.setne(r14b);
            break;
          case Cond::kLez:
            a.test(rax, rax);
            a.setle(r14b);
            break;
          case Cond::kGtz:
            a.test(rax, rax);
            a.setg(r14b);
            break;
          case Cond::kLtz:
            a.test(rax, rax);
            a.setl(r14b);
            break;
          case Cond::kGez:
            a.test(rax, rax);
            a.setge(r14b);
            break;
          case Cond::kNever:
            break;
        }
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          wr(in.d, rax);
        }
        break;
      }
      case IrOp::kJump:
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          wr(in.d, rax);
        }
        break;
      case IrOp::kJumpReg:
        a.emit(Inst::kIdMov, kBr, q(in.s));  // read before the link (jalr rd == rs)
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          wr(in.d, rax);
        }
        break;
    }
    if (in.zero_d) wr_zero(in.zero_d);
  }

  x86::Assembler& a;
  const BlockIr& m_ir;
  void** const* m_slots;
  bool m_count;
  bool m_movbe;
  ProfileSlot* m_prof;  // profiling only, else null
  Label m_body;         // after the entry's loads: where a self-loop jumps back to
  int8_t m_slot_of[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                          -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  uint32_t m_cached = 0;                               // guest registers held in host registers
  std::vector<std::pair<const void*, Label>> m_stubs;  // shared slow-path call stubs
  uint32_t m_dirty = 0;  // written in host registers since entry or the last spill
  std::vector<std::function<void()>> m_deferred;
};

}  // namespace

struct X64Backend::Impl {
  JitAllocator allocator;
  explicit Impl(const JitAllocator::CreateParams* p) : allocator(p) {}
};

namespace {
JitAllocator::CreateParams dual_mapping_params() {
  JitAllocator::CreateParams p{};
  p.options = JitAllocatorOptions::kUseDualMapping;
  return p;
}

// Emits with `body`, copies the result into fresh RX memory through its RW view.
// `after(code)` runs once the code is laid out (to read label offsets).
template <typename Body, typename After>
bool assemble(JitAllocator& alloc, Body&& body, After&& after, CompiledBlock& out,
              std::string& err) {
  CodeHolder code;
  ErrorRecorder rec;
  Error e = code.init(Environment::host());
  if (e != kErrorOk) {
    err = DebugUtils::errorAsString(e);
    return false;
  }
  code.setErrorHandler(&rec);
  x86::Assembler a(&code);
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
  size_t size = code.codeSize();
  void* rx = nullptr;
  void* rw = nullptr;
  e = alloc.alloc(&rx, &rw, size);
  if (e != kErrorOk) {
    err = std::string("JitAllocator: ") + DebugUtils::errorAsString(e);
    return false;
  }
  e = code.relocateToBase(reinterpret_cast<uint64_t>(rx));
  if (e == kErrorOk) e = code.copyFlattenedData(rw, size, CopySectionFlags::kPadTargetBuffer);
  if (e != kErrorOk) {
    alloc.release(rx);
    err = DebugUtils::errorAsString(e);
    return false;
  }
  out.entry = rx;
  out.size = size;
  return true;
}
}  // namespace

X64Backend::X64Backend() {
  m_movbe = CpuInfo::host().hasFeature(CpuFeatures::X86::kMOVBE);
  auto params = dual_mapping_params();
  m_impl = std::make_unique<Impl>(&params);
  CompiledBlock tramp;
  Label link, nolink, jr;
  uint64_t off_link = 0, off_nolink = 0, off_jr = 0;
  bool ok = assemble(
      m_impl->allocator,
      [&](x86::Assembler& a) {
        using namespace x86;
        link = a.newLabel();
        nolink = a.newLabel();
        jr = a.newLabel();
        // enter(ctx, thread, entry, budget) -> budget left
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.sub(rsp, 24);  // scratch (kScratchPage), and rsp stays 16-aligned at helper calls
        a.mov(kCtx, rdi);
        a.mov(kThread, rsi);
        a.mov(kBudget, rcx);
        a.jmp(rdx);
        a.align(AlignMode::kCode, 16);
        Label common = a.newLabel();
        a.align(AlignMode::kCode, 16);
        a.bind(jr);  // a free lookup entry: pc is the jr/jalr target in r14
        a.mov(qword_ptr(kThread, int32_t(kPcOffset)), kBr);
        a.lea(rax, ptr(kBr, 4));
        a.mov(qword_ptr(kThread, int32_t(kNextPcOffset)), rax);
        a.align(AlignMode::kCode, 16);
        a.bind(nolink);
        a.xor_(eax, eax);
        a.jmp(common);
        a.align(AlignMode::kCode, 16);
        a.bind(link);  // rax = address of the exit slot taken; pc from the slot
        a.mov(rcx, qword_ptr(rax, int32_t(kSlotPcOffset)));
        a.mov(qword_ptr(kThread, int32_t(kPcOffset)), rcx);
        a.add(rcx, 4);
        a.mov(qword_ptr(kThread, int32_t(kNextPcOffset)), rcx);
        a.bind(common);
        a.mov(qword_ptr(kCtx, kCtxLastSlot), rax);
        a.mov(qword_ptr(kCtx, kCtxBudget), kBudget);
        a.mov(rax, kBudget);
        a.add(rsp, 24);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
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

X64Backend::~X64Backend() = default;

bool X64Backend::compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out,
                         ProfileSlot* profile) {
  if (!m_ok) return false;
  return assemble(
      m_impl->allocator,
      [&](x86::Assembler& a) {
        BlockEmitter(a, ir, slots, m_count_blocks, m_movbe, profile).emit();
      },
      [](CodeHolder&) {}, out, m_error);
}

void X64Backend::release(const CompiledBlock& b) {
  if (b.entry) m_impl->allocator.release(b.entry);
}

uint64_t X64Backend::enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const {
  return m_enter(ctx, t, entry, budget);
}

}  // namespace cb::jit
