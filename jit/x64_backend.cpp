#include "jit/x64_backend.h"

#include <asmjit/x86.h>

#include <cstring>
#include <functional>
#include <vector>

#include "memory/memory.h"

namespace cb::jit {

using namespace asmjit;
using x86::Gp;
using x86::Mem;

namespace {

constexpr int32_t kPageDirty = int32_t(offsetof(Page, dirty_chunks));
constexpr int32_t kPageListed = int32_t(offsetof(Page, listed));
static_assert(offsetof(Page, data) == 0, "compiled code addresses page bytes from the Page*");
constexpr int32_t kCtxReadTlb = int32_t(offsetof(JitContext, read_tlb));
constexpr int32_t kCtxWriteTlb = int32_t(offsetof(JitContext, write_tlb));
constexpr int32_t kCtxLookup = int32_t(offsetof(JitContext, lookup));
constexpr int32_t kCtxExitNolink = int32_t(offsetof(JitContext, exit_nolink));
constexpr int32_t kCtxLl = int32_t(offsetof(JitContext, ll_address));
constexpr int32_t kCtxBudget = int32_t(offsetof(JitContext, budget_out));
constexpr int32_t kCtxLastSlot = int32_t(offsetof(JitContext, last_slot));
constexpr int32_t kCtxInvalidated = int32_t(offsetof(JitContext, invalidated));
constexpr int32_t kCtxProfileTag = int32_t(offsetof(JitContext, profile_tag));
constexpr int32_t kCtxProfilePartial = int32_t(offsetof(JitContext, profile_partial));
constexpr int32_t kCtxProfilePartialRun = int32_t(offsetof(JitContext, profile_partial_run));
constexpr int32_t kSlotSteps = int32_t(offsetof(ProfileSlot, steps));
constexpr int32_t kSlotTag = int32_t(offsetof(ProfileSlot, tag));

// Records the first AsmJit error of an emission (every Assembler call reports through it).
class ErrorRecorder : public ErrorHandler {
public:
  void handleError(Error err, const char* message, BaseEmitter*) override {
    if (m_err == kErrorOk) {
      m_err = err;
      m_msg = message;
    }
  }
  Error m_err = kErrorOk;
  std::string m_msg;
};

const Gp kThread = x86::rbx, kCtx = x86::r12, kBudget = x86::r13, kBr = x86::r14, kAddr = x86::r15;

Mem reg_q(unsigned r) { return x86::qword_ptr(kThread, int32_t(kRegsOffset + 8 * r)); }
Mem reg_d(unsigned r) { return x86::dword_ptr(kThread, int32_t(kRegsOffset + 8 * r)); }
Mem cpu_q(size_t off) { return x86::qword_ptr(kThread, int32_t(off)); }

class BlockEmitter {
public:
  BlockEmitter(x86::Assembler& a, const BlockIr& ir, void** const* slots, ProfileSlot* prof)
      : a(a), m_ir(ir), m_slots(slots), m_prof(prof) {}

  void emit() {
    const uint32_t n = uint32_t(m_ir.insns.size());
    Label fail = a.newLabel();
    a.cmp(kBudget, n);
    a.jb(fail);
    a.sub(kBudget, n);
    if (m_prof) emit_count(n);
    for (uint32_t i = 0; i < n; ++i) emit_insn(i);
    emit_end(true);
    a.bind(fail);
    exit_nolink();
    // Out-of-line paths may defer more paths of their own: index, and move each out first.
    for (size_t i = 0; i < m_deferred.size(); ++i) {
      auto f = std::move(m_deferred[i]);
      f();
    }
  }

private:
  uint32_t len() const { return uint32_t(m_ir.insns.size()); }

  // Profiling: slot->steps += n under the current tag (retagging first when it differs).
  void emit_count(uint32_t n) {
    Label retag = a.newLabel(), counted = a.newLabel();
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
    a.mov(x86::ecx, x86::dword_ptr(kCtx, kCtxProfileTag));
    a.cmp(x86::dword_ptr(x86::rax, kSlotTag), x86::ecx);
    a.jne(retag);
    a.bind(counted);
    a.add(x86::qword_ptr(x86::rax, kSlotSteps), n);
    m_deferred.push_back([this, retag, counted] {
      a.bind(retag);
      a.mov(x86::rdi, kCtx);
      a.mov(x86::rsi, x86::rax);
      call(reinterpret_cast<const void*>(&jit_profile_retag));
      a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
      a.jmp(counted);
    });
  }

  void call(const void* fn) {
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(fn)));
    a.call(x86::rax);
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
  void exit_to(uint64_t pc, uint32_t steps_not_run) {
    if (steps_not_run) a.add(kBudget, steps_not_run);
    if (m_prof) {  // take the count back; the dispatcher attributes the steps that ran
      a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_prof)));
      a.sub(x86::qword_ptr(x86::rax, kSlotSteps), len());
      a.mov(x86::qword_ptr(kCtx, kCtxProfilePartial), x86::rax);
      a.mov(x86::qword_ptr(kCtx, kCtxProfilePartialRun), len() - steps_not_run);
    }
    set_pc(pc);
    exit_nolink();
  }
  // Profiling: a call/return block reports itself once its pc is stored (then chains on).
  void emit_event() {
    if (!m_prof || !m_prof->event) return;
    a.mov(x86::rdi, kCtx);
    a.mov(x86::rsi, kThread);
    a.mov(x86::rdx, imm(reinterpret_cast<uint64_t>(m_prof)));
    call(reinterpret_cast<const void*>(&jit_profile_event));
  }
  void exit_slot(uint64_t pc, int slot, bool chain) {
    set_pc(pc);
    emit_event();
    if (!chain) return exit_nolink();
    a.mov(x86::rax, imm(reinterpret_cast<uint64_t>(m_slots[slot])));
    a.jmp(x86::qword_ptr(x86::rax));
  }

  void emit_end(bool chain) {
    switch (m_ir.end) {
      case EndKind::kFallthrough: exit_slot(m_ir.next_pc, 1, chain); break;
      case EndKind::kJump: exit_slot(m_ir.taken_pc, 0, chain); break;
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
        a.mov(cpu_q(kPcOffset), kBr);
        a.lea(x86::rax, x86::ptr(kBr, 4));
        a.mov(cpu_q(kNextPcOffset), x86::rax);
        emit_event();
        if (!chain) return exit_nolink();
        // Inline lookup of the target in the pc -> entry table.
        a.mov(x86::eax, x86::r14d);
        a.shl(x86::eax, 2);
        a.and_(x86::eax, uint32_t((kLookupEntries - 1) << 4));
        Label miss = a.newLabel();
        a.cmp(kBr, x86::qword_ptr(kCtx, x86::rax, 0, kCtxLookup));
        a.jne(miss);
        a.jmp(x86::qword_ptr(kCtx, x86::rax, 0, kCtxLookup + 8));
        a.bind(miss);
        exit_nolink();
        break;
      }
    }
  }

  // Leaves the page data pointer for the address in r15 in rsi.
  void tlb_lookup(bool write, Label slow) {
    int32_t base = write ? kCtxWriteTlb : kCtxReadTlb;
    a.mov(x86::eax, x86::r15d);
    a.shr(x86::eax, 8);
    a.and_(x86::eax, uint32_t((kTlbEntries - 1) << 4));
    a.mov(x86::rcx, kAddr);
    a.and_(x86::rcx, -4096);
    a.cmp(x86::rcx, x86::qword_ptr(kCtx, x86::rax, 0, base));
    a.jne(slow);
    a.mov(x86::rsi, x86::qword_ptr(kCtx, x86::rax, 0, base + 8));
  }

  void emit_address(const IrInsn& in) {
    a.mov(kAddr, reg_q(in.s));
    if (in.imm) a.add(kAddr, int32_t(in.imm));
  }

  void emit_load(const IrInsn& in) {
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(false, slow);
    a.bind(resume);
    a.mov(x86::eax, x86::r15d);
    Mem b = x86::byte_ptr(x86::rsi, x86::rax);
    switch (in.mem) {
      case MemKind::kS8: a.and_(x86::eax, 0xfff); a.movsx(x86::rax, b); break;
      case MemKind::kU8: a.and_(x86::eax, 0xfff); a.movzx(x86::eax, b); break;
      case MemKind::kS16:
      case MemKind::kU16:
        a.and_(x86::eax, 0xffe);
        a.movzx(x86::eax, x86::word_ptr(x86::rsi, x86::rax));
        a.rol(x86::ax, 8);
        if (in.mem == MemKind::kS16) a.movsx(x86::rax, x86::ax);
        else a.movzx(x86::eax, x86::ax);
        break;
      case MemKind::kS32:
      case MemKind::kU32:
        a.and_(x86::eax, 0xffc);
        a.mov(x86::eax, x86::dword_ptr(x86::rsi, x86::rax));
        a.bswap(x86::eax);
        if (in.mem == MemKind::kS32) a.movsxd(x86::rax, x86::eax);
        break;
      case MemKind::k64:
        a.and_(x86::eax, 0xff8);
        a.mov(x86::rax, x86::qword_ptr(x86::rsi, x86::rax));
        a.bswap(x86::rax);
        break;
      default:  // merging loads: helper(kind, addr, mem word, old rt)
        a.and_(x86::eax, 0xff8);
        a.mov(x86::rdx, x86::qword_ptr(x86::rsi, x86::rax));
        a.bswap(x86::rdx);
        a.mov(x86::edi, unsigned(in.mem));
        a.mov(x86::rsi, kAddr);
        a.mov(x86::rcx, reg_q(in.d));
        call(reinterpret_cast<const void*>(&jit_merge));
        break;
    }
    a.mov(reg_q(in.d), x86::rax);
    m_deferred.push_back([this, slow, resume] {
      a.bind(slow);
      a.mov(x86::rdi, kCtx);
      a.mov(x86::rsi, kAddr);
      call(reinterpret_cast<const void*>(&jit_read_page));
      a.mov(x86::rsi, x86::rax);
      a.jmp(resume);
    });
  }

  // The write itself, the dirty-chunk bit and the LL/SC check; page data in rsi.
  void store_body(const IrInsn& in) {
    a.mov(x86::eax, x86::r15d);
    switch (in.mem) {
      case MemKind::kU8:
        a.and_(x86::eax, 0xfff);
        a.mov(x86::rcx, reg_q(in.t));
        a.mov(x86::byte_ptr(x86::rsi, x86::rax), x86::cl);
        break;
      case MemKind::kU16:
        a.and_(x86::eax, 0xffe);
        a.mov(x86::rcx, reg_q(in.t));
        a.rol(x86::cx, 8);
        a.mov(x86::word_ptr(x86::rsi, x86::rax), x86::cx);
        break;
      case MemKind::kU32:
        a.and_(x86::eax, 0xffc);
        a.mov(x86::ecx, reg_d(in.t));
        a.bswap(x86::ecx);
        a.mov(x86::dword_ptr(x86::rsi, x86::rax), x86::ecx);
        break;
      case MemKind::k64:
        a.and_(x86::eax, 0xff8);
        a.mov(x86::rcx, reg_q(in.t));
        a.bswap(x86::rcx);
        a.mov(x86::qword_ptr(x86::rsi, x86::rax), x86::rcx);
        break;
      default:  // merging stores: new word = helper(kind, addr, mem word, rt)
        a.mov(x86::rbp, x86::rsi);
        a.and_(x86::eax, 0xff8);
        a.mov(x86::rdx, x86::qword_ptr(x86::rsi, x86::rax));
        a.bswap(x86::rdx);
        a.mov(x86::edi, unsigned(in.mem));
        a.mov(x86::rsi, kAddr);
        a.mov(x86::rcx, reg_q(in.t));
        call(reinterpret_cast<const void*>(&jit_merge));
        a.bswap(x86::rax);
        a.mov(x86::ecx, x86::r15d);
        a.and_(x86::ecx, 0xff8);
        a.mov(x86::qword_ptr(x86::rbp, x86::rcx), x86::rax);
        a.mov(x86::rsi, x86::rbp);
        a.mov(x86::eax, x86::ecx);
        break;
    }
    // Memory::mark_dirty: chunk bit (the page is already in the dirty list).
    a.mov(x86::ecx, x86::eax);
    a.shr(x86::ecx, 6);
    a.xor_(x86::edx, x86::edx);
    a.bts(x86::rdx, x86::rcx);
    a.or_(x86::qword_ptr(x86::rsi, kPageDirty), x86::rdx);
    // Vm::on_store: a store to the reserved word clears the reservation.
    Label ll_slow = a.newLabel(), ll_done = a.newLabel();
    a.mov(x86::rcx, x86::qword_ptr(kCtx, kCtxLl));
    a.mov(x86::rcx, x86::qword_ptr(x86::rcx));
    a.and_(x86::rcx, -8);
    a.mov(x86::rdx, kAddr);
    a.and_(x86::rdx, -8);
    a.cmp(x86::rcx, x86::rdx);
    a.je(ll_slow);
    a.bind(ll_done);
    m_deferred.push_back([this, ll_slow, ll_done] {
      a.bind(ll_slow);
      a.mov(x86::rdi, kCtx);
      a.mov(x86::rsi, x86::rdx);
      call(reinterpret_cast<const void*>(&jit_on_store));
      a.jmp(ll_done);
    });
  }

  void emit_store(const IrInsn& in, uint32_t idx) {
    emit_address(in);
    Label slow = a.newLabel(), resume = a.newLabel();
    tlb_lookup(true, slow);
    a.cmp(x86::byte_ptr(x86::rsi, kPageListed), 0);
    a.je(slow);
    a.bind(resume);
    store_body(in);
    m_deferred.push_back([this, in, idx, slow, resume] {
      Label inval = a.newLabel();
      a.bind(slow);
      a.mov(x86::rdi, kCtx);
      a.mov(x86::rsi, kAddr);
      call(reinterpret_cast<const void*>(&jit_write_page));
      a.mov(x86::rsi, x86::rax);
      a.cmp(x86::byte_ptr(kCtx, kCtxInvalidated), 0);
      a.jne(inval);
      a.jmp(resume);
      // The store hit compiled code (maybe this very block): do it, then leave compiled code
      // right after it so the next instruction is fetched anew.
      a.bind(inval);
      store_body(in);
      exit_after(idx);
    });
  }

  // Leaves compiled code right after instruction idx (it changed compiled code).
  void exit_after(uint32_t idx) {
    if (idx + 1 == len()) {
      emit_end(false);  // the last instruction (maybe a delay slot): the block's own end
    } else {
      exit_to(m_ir.insns[idx + 1].pc, len() - idx - 1);
    }
  }

  void emit_atomic(const IrInsn& in, uint32_t idx) {
    a.mov(x86::rdi, kCtx);
    a.mov(x86::rsi, kThread);
    a.mov(x86::rdx, reg_q(in.s));
    if (in.imm) a.add(x86::rdx, int32_t(in.imm));
    a.mov(x86::ecx, unsigned(in.mem));
    a.mov(x86::r8, reg_q(in.t));
    call(reinterpret_cast<const void*>(&jit_rmw));
    if (in.t) a.mov(reg_q(in.t), x86::rax);
    if (in.mem == MemKind::kSc || in.mem == MemKind::kScd) {
      Label inval = a.newLabel();
      a.cmp(x86::byte_ptr(kCtx, kCtxInvalidated), 0);
      a.jne(inval);
      m_deferred.push_back([this, inval, idx] {
        a.bind(inval);
        exit_after(idx);
      });
    }
  }

  void write_d(const IrInsn& in, Gp r) { a.mov(reg_q(in.d), r); }

  void emit_insn(uint32_t idx) {
    const IrInsn& in = m_ir.insns[idx];
    using namespace x86;
    switch (in.op) {
      case IrOp::kNop: break;
      case IrOp::kAdd32:
      case IrOp::kSub32:
      case IrOp::kMul32:
        a.mov(eax, reg_d(in.s));
        if (in.op == IrOp::kAdd32) a.add(eax, reg_d(in.t));
        else if (in.op == IrOp::kSub32) a.sub(eax, reg_d(in.t));
        else a.imul(eax, reg_d(in.t));
        a.movsxd(rax, eax);
        write_d(in, rax);
        break;
      case IrOp::kAdd64: a.mov(rax, reg_q(in.s)); a.add(rax, reg_q(in.t)); write_d(in, rax); break;
      case IrOp::kSub64: a.mov(rax, reg_q(in.s)); a.sub(rax, reg_q(in.t)); write_d(in, rax); break;
      case IrOp::kAnd: a.mov(rax, reg_q(in.s)); a.and_(rax, reg_q(in.t)); write_d(in, rax); break;
      case IrOp::kOr: a.mov(rax, reg_q(in.s)); a.or_(rax, reg_q(in.t)); write_d(in, rax); break;
      case IrOp::kXor: a.mov(rax, reg_q(in.s)); a.xor_(rax, reg_q(in.t)); write_d(in, rax); break;
      case IrOp::kNor: a.mov(rax, reg_q(in.s)); a.or_(rax, reg_q(in.t)); a.not_(rax); write_d(in, rax); break;
      case IrOp::kSlt:
      case IrOp::kSltu:
        a.xor_(ecx, ecx);
        a.mov(rax, reg_q(in.s));
        a.cmp(rax, reg_q(in.t));
        if (in.op == IrOp::kSlt) a.setl(cl); else a.setb(cl);
        write_d(in, rcx);
        break;
      case IrOp::kAddImm32:
        a.mov(eax, reg_d(in.s));
        a.add(eax, int32_t(in.imm));
        a.movsxd(rax, eax);
        write_d(in, rax);
        break;
      case IrOp::kAddImm64: a.mov(rax, reg_q(in.s)); a.add(rax, int32_t(in.imm)); write_d(in, rax); break;
      case IrOp::kSltImm:
      case IrOp::kSltuImm:
        a.xor_(ecx, ecx);
        a.mov(rax, reg_q(in.s));
        a.cmp(rax, int32_t(in.imm));
        if (in.op == IrOp::kSltImm) a.setl(cl); else a.setb(cl);
        write_d(in, rcx);
        break;
      case IrOp::kAndImm: a.mov(rax, reg_q(in.s)); a.and_(rax, int32_t(in.imm)); write_d(in, rax); break;
      case IrOp::kOrImm: a.mov(rax, reg_q(in.s)); if (in.imm) a.or_(rax, int32_t(in.imm)); write_d(in, rax); break;
      case IrOp::kXorImm: a.mov(rax, reg_q(in.s)); a.xor_(rax, int32_t(in.imm)); write_d(in, rax); break;
      case IrOp::kConst: a.mov(rax, imm(in.imm)); write_d(in, rax); break;
      case IrOp::kSll32: a.mov(eax, reg_d(in.t)); a.shl(eax, in.sa); a.movsxd(rax, eax); write_d(in, rax); break;
      case IrOp::kSrl32: a.mov(eax, reg_d(in.t)); a.shr(eax, in.sa); a.movsxd(rax, eax); write_d(in, rax); break;
      case IrOp::kSra32: a.movsxd(rax, reg_d(in.t)); a.sar(rax, in.sa); write_d(in, rax); break;
      case IrOp::kSll64: a.mov(rax, reg_q(in.t)); a.shl(rax, in.sa); write_d(in, rax); break;
      case IrOp::kSrl64: a.mov(rax, reg_q(in.t)); a.shr(rax, in.sa); write_d(in, rax); break;
      case IrOp::kSra64: a.mov(rax, reg_q(in.t)); a.sar(rax, in.sa); write_d(in, rax); break;
      case IrOp::kSllv32: a.mov(ecx, reg_d(in.s)); a.mov(eax, reg_d(in.t)); a.shl(eax, cl); a.movsxd(rax, eax); write_d(in, rax); break;
      case IrOp::kSrlv32: a.mov(ecx, reg_d(in.s)); a.mov(eax, reg_d(in.t)); a.shr(eax, cl); a.movsxd(rax, eax); write_d(in, rax); break;
      case IrOp::kSrav32:
        a.mov(ecx, reg_d(in.s));
        a.and_(ecx, 31);
        a.movsxd(rax, reg_d(in.t));
        a.sar(rax, cl);
        write_d(in, rax);
        break;
      case IrOp::kSllv64: a.mov(ecx, reg_d(in.s)); a.mov(rax, reg_q(in.t)); a.shl(rax, cl); write_d(in, rax); break;
      case IrOp::kSrlv64: a.mov(ecx, reg_d(in.s)); a.mov(rax, reg_q(in.t)); a.shr(rax, cl); write_d(in, rax); break;
      case IrOp::kSrav64: a.mov(ecx, reg_d(in.s)); a.mov(rax, reg_q(in.t)); a.sar(rax, cl); write_d(in, rax); break;
      case IrOp::kMovz:
      case IrOp::kMovn: {
        Label skip = a.newLabel();
        a.cmp(reg_q(in.t), 0);
        if (in.op == IrOp::kMovz) a.jne(skip); else a.je(skip);
        a.mov(rax, reg_q(in.s));
        write_d(in, rax);
        a.bind(skip);
        break;
      }
      case IrOp::kClz32:
      case IrOp::kClo32:
        a.mov(eax, reg_d(in.s));
        if (in.op == IrOp::kClo32) a.not_(eax);
        a.mov(edx, -1);
        a.bsr(eax, eax);
        a.cmovz(eax, edx);
        a.mov(ecx, 31);
        a.sub(ecx, eax);
        write_d(in, rcx);
        break;
      case IrOp::kClz64:
      case IrOp::kClo64:
        a.mov(rax, reg_q(in.s));
        if (in.op == IrOp::kClo64) a.not_(rax);
        a.mov(rdx, -1);
        a.bsr(rax, rax);
        a.cmovz(rax, rdx);
        a.mov(ecx, 63);
        a.sub(rcx, rax);
        write_d(in, rcx);
        break;
      case IrOp::kMfhi: a.mov(rax, cpu_q(kHiOffset)); write_d(in, rax); break;
      case IrOp::kMflo: a.mov(rax, cpu_q(kLoOffset)); write_d(in, rax); break;
      case IrOp::kMthi: a.mov(rax, reg_q(in.s)); a.mov(cpu_q(kHiOffset), rax); break;
      case IrOp::kMtlo: a.mov(rax, reg_q(in.s)); a.mov(cpu_q(kLoOffset), rax); break;
      case IrOp::kMult:
      case IrOp::kMultu:
        if (in.op == IrOp::kMult) {
          a.movsxd(rax, reg_d(in.s));
          a.movsxd(rcx, reg_d(in.t));
        } else {
          a.mov(eax, reg_d(in.s));
          a.mov(ecx, reg_d(in.t));
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
        a.mov(rax, reg_q(in.s));
        if (in.op == IrOp::kDmult) a.imul(reg_q(in.t)); else a.mul(reg_q(in.t));
        a.mov(cpu_q(kHiOffset), rdx);
        a.mov(cpu_q(kLoOffset), rax);
        break;
      case IrOp::kDiv:
      case IrOp::kDivu:
      case IrOp::kDdiv:
      case IrOp::kDdivu: {
        // A zero divisor panics in the interpreter: leave before this instruction.
        Label zero = a.newLabel();
        if (in.op == IrOp::kDiv || in.op == IrOp::kDivu) a.cmp(reg_d(in.t), 0);
        else a.cmp(reg_q(in.t), 0);
        a.je(zero);
        a.mov(edi, unsigned(in.op));
        a.mov(rsi, reg_q(in.s));
        a.mov(rdx, reg_q(in.t));
        a.lea(rcx, ptr(kThread, int32_t(kCpuOffset)));
        call(reinterpret_cast<const void*>(&jit_divide));
        uint64_t pc = in.pc;
        uint32_t left = len() - idx;
        m_deferred.push_back([this, zero, pc, left] {
          a.bind(zero);
          exit_to(pc, left);
        });
        break;
      }
      case IrOp::kLoad: emit_load(in); break;
      case IrOp::kStore: emit_store(in, idx); break;
      case IrOp::kAtomic: emit_atomic(in, idx); break;
      case IrOp::kBranch: {
        a.xor_(r14d, r14d);
        a.mov(rax, reg_q(in.s));
        switch (in.cond) {
          case Cond::kEq: a.cmp(rax, reg_q(in.t)); a.sete(r14b); break;
          case Cond::kNe: a.cmp(rax, reg_q(in.t)); a.setne(r14b); break;
          case Cond::kLez: a.test(rax, rax); a.setle(r14b); break;
          case Cond::kGtz: a.test(rax, rax); a.setg(r14b); break;
          case Cond::kLtz: a.test(rax, rax); a.setl(r14b); break;
          case Cond::kGez: a.test(rax, rax); a.setge(r14b); break;
          case Cond::kNever: break;
        }
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          a.mov(reg_q(in.d), rax);
        }
        break;
      }
      case IrOp::kJump:
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          a.mov(reg_q(in.d), rax);
        }
        break;
      case IrOp::kJumpReg:
        a.mov(kBr, reg_q(in.s));  // read before the link (jalr rd == rs)
        if (in.d) {
          a.mov(rax, imm(in.pc + 8));
          a.mov(reg_q(in.d), rax);
        }
        break;
    }
    if (in.zero_d) a.mov(reg_q(in.zero_d), 0);
  }

  x86::Assembler& a;
  const BlockIr& m_ir;
  void** const* m_slots;
  ProfileSlot* m_prof;
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
bool assemble(JitAllocator& alloc, Body&& body, After&& after, CompiledBlock& out, std::string& err) {
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
  auto params = dual_mapping_params();
  m_impl = std::make_unique<Impl>(&params);
  CompiledBlock tramp;
  Label link, nolink;
  uint64_t off_link = 0, off_nolink = 0;
  bool ok = assemble(
      m_impl->allocator,
      [&](x86::Assembler& a) {
        using namespace x86;
        link = a.newLabel();
        nolink = a.newLabel();
        // enter(ctx, thread, entry, budget) -> budget left
        a.push(rbx); a.push(rbp); a.push(r12); a.push(r13); a.push(r14); a.push(r15);
        a.sub(rsp, 8);  // keeps rsp 16-aligned at helper calls
        a.mov(kCtx, rdi);
        a.mov(kThread, rsi);
        a.mov(kBudget, rcx);
        a.jmp(rdx);
        a.align(AlignMode::kCode, 16);
        a.bind(nolink);
        a.xor_(eax, eax);
        a.bind(link);  // rax = address of the exit slot taken
        a.mov(qword_ptr(kCtx, kCtxLastSlot), rax);
        a.mov(qword_ptr(kCtx, kCtxBudget), kBudget);
        a.mov(rax, kBudget);
        a.add(rsp, 8);
        a.pop(r15); a.pop(r14); a.pop(r13); a.pop(r12); a.pop(rbp); a.pop(rbx);
        a.ret();
      },
      [&](CodeHolder& code) {
        off_link = code.labelOffsetFromBase(link);
        off_nolink = code.labelOffsetFromBase(nolink);
      },
      tramp, m_error);
  if (!ok) return;
  m_ok = true;
  m_enter = reinterpret_cast<EnterFn>(tramp.entry);
  m_exit_link = static_cast<const uint8_t*>(tramp.entry) + off_link;
  m_exit_nolink = static_cast<const uint8_t*>(tramp.entry) + off_nolink;
}

X64Backend::~X64Backend() = default;

bool X64Backend::compile(const BlockIr& ir, void** const slots[2], CompiledBlock& out, ProfileSlot* profile) {
  if (!m_ok) return false;
  return assemble(
      m_impl->allocator, [&](x86::Assembler& a) { BlockEmitter(a, ir, slots, profile).emit(); },
      [](CodeHolder&) {}, out, m_error);
}

void X64Backend::release(const CompiledBlock& b) {
  if (b.entry) m_impl->allocator.release(b.entry);
}

uint64_t X64Backend::enter(JitContext* ctx, Thread* t, const void* entry, uint64_t budget) const {
  return m_enter(ctx, t, entry, budget);
}

}  // namespace cb::jit
