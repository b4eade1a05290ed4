// The syscalls of the step function (reference: exec/mips_syscalls.go, multithreaded/mips.go
// handleSyscall), for every state-access policy, plus the guest output, hint and pre-image
// helpers they use. Split from vm.cpp, which holds the step loop and the instructions.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "interp/step_policy.h"

namespace cb {

using namespace sem;
using namespace step_detail;

void Vm::emit_output(int fd, uint64_t addr, uint64_t len) {
  // Streamed in chunks: a guest may name any length.
  for (uint64_t off = 0; off < len;) {
    uint64_t n = std::min<uint64_t>(len - off, 1 << 16);
    m_state.memory->read_range(addr + off, n, m_scratch);
    if (m_output) m_output(fd, m_scratch.data(), m_scratch.size());
    off += n;
  }
}

void Vm::emit_hint(uint64_t addr, uint64_t len) {
  m_state.memory->read_range(addr, len, m_scratch);
  auto& h = m_state.last_hint;
  h.insert(h.end(), m_scratch.begin(), m_scratch.end());
  size_t pos = 0;
  while (h.size() - pos >= 4) {
    uint32_t n = uint32_t(h[pos]) << 24 | uint32_t(h[pos + 1]) << 16 | uint32_t(h[pos + 2]) << 8 |
                 h[pos + 3];
    if (n > h.size() - pos - 4) break;
    if (m_oracle) m_oracle->hint(std::span<const uint8_t>(h.data() + pos + 4, n));
    pos += 4 + size_t(n);
  }
  h.erase(h.begin(), h.begin() + pos);
}

bool Vm::read_preimage(const Hash32& key, uint64_t offset, uint8_t out[32], uint64_t& len) {
  if (key != m_pre_key || m_pre_value.empty()) {
    // The reader's cache starts as (zero key, no data): a read with the zero key before any
    // other read finds no data and hits the out-of-bounds panic, as in the reference.
    if (key != m_pre_key) {
      if (!m_oracle) {
        m_panic = "no pre-image retriever available";
        return false;
      }
      std::vector<uint8_t> data = m_oracle->get_preimage(key);
      ++m_pre_requests;
      m_pre_total += data.size();
      m_pre_key = key;
      m_pre_value.resize(8 + data.size());
      store_be64(m_pre_value.data(), data.size());
      if (!data.empty())
        std::memcpy(m_pre_value.data() + 8, data.data(), data.size());  // empty: data() may be null
    }
  }
  m_pre_last_offset = offset;
  if (offset >= m_pre_value.size()) {
    m_panic = "Preimage offset out-of-bounds";
    return false;
  }
  len = std::min<uint64_t>(32, m_pre_value.size() - offset);
  std::memcpy(out, m_pre_value.data() + offset, len);
  return true;
}

template <class P>
StepStatus Vm::syscall(Thread& t) {
  State& s = m_state;
  const uint64_t num = t.regs[kRegV0], a0 = t.regs[kRegA0], a1 = t.regs[kRegA1],
                 a2 = t.regs[kRegA2];
  uint64_t v0 = 0, v1 = 0;
  auto yield = [&]() {
    syscall_return(t, 0, 0);
    P::preempt(*this);
    return StepStatus::kOk;
  };
  switch (num) {
    case sys::kMmap: {
      uint64_t sz = a1;
      if (sz & kPageAddrMask) sz += kPageSize - (sz & kPageAddrMask);
      if (a0 == 0) {
        uint64_t new_heap = s.heap + sz;
        if (new_heap > kHeapEnd || new_heap < s.heap || sz < a1) {
          v0 = kEINVAL;
          v1 = kSysErrorSignal;
        } else {
          v0 = s.heap;
          s.heap = new_heap;
        }
      } else {
        v0 = a0;
      }
      break;
    }
    case sys::kBrk:
      v0 = kProgramBreak;
      break;
    case sys::kClone: {
      if (a0 != kValidCloneFlags) {
        s.exited = true;
        s.exit_code = kVmPanic;
        return StepStatus::kOk;
      }
      Thread n;
      n.id = s.next_thread_id;
      n.cpu.pc = t.cpu.next_pc;
      n.cpu.next_pc = t.cpu.next_pc + 4;
      n.cpu.hi = t.cpu.hi;
      n.cpu.lo = t.cpu.lo;
      std::memcpy(n.regs, t.regs, sizeof n.regs);
      n.regs[kRegSP] = a1;
      n.regs[kRegV0] = 0;
      n.regs[kRegA3] = 0;
      s.next_thread_id++;
      syscall_return(t, n.id, 0);
      P::push_thread(*this, n);  // invalidates t
      s.steps_since_switch = 0;
      return StepStatus::kOk;
    }
    case sys::kExitGroup:
      s.exited = true;
      s.exit_code = uint8_t(a0);
      return StepStatus::kOk;
    case sys::kRead:
      switch (a0) {
        case fd::kStdin:
          break;
        case fd::kPreimageRead: {
          uint64_t eff = a1 & kAddressMask;
          P::track(*this, eff);
          uint64_t word = P::get_word(*this, eff);
          uint8_t dat[32];
          uint64_t len = 0;
          if (!read_preimage(s.preimage_key, s.preimage_offset, dat, len))
            return StepStatus::kPanic;
          uint64_t alignment = a1 & 7, space = 8 - alignment;
          len = std::min({len, space, a2});
          uint8_t out[8];
          store_be64(out, word);
          std::memcpy(out + alignment, dat, len);
          P::set_word(*this, eff, load_be64(out));
          on_store(eff);
          s.preimage_offset += len;
          v0 = len;
          break;
        }
        case fd::kHintRead:
          v0 = a2;
          break;
        case fd::kEventFd:
          v0 = kEAGAIN;
          v1 = kSysErrorSignal;
          break;
        default:
          v0 = kEBADF;
          v1 = kSysErrorSignal;
          break;
      }
      break;
    case sys::kWrite:
      switch (a0) {
        case fd::kStdout:
        case fd::kStderr:
          P::output(*this, int(a0), a1, a2);
          v0 = a2;
          break;
        case fd::kHintWrite:
          P::hint(*this, a1, a2);
          v0 = a2;
          break;
        case fd::kPreimageWrite: {
          uint64_t eff = a1 & kAddressMask;
          P::track(*this, eff);
          uint64_t word = P::get_word(*this, eff);
          uint64_t alignment = a1 & 7, space = 8 - alignment;
          uint64_t n = std::min(a2, space);
          Hash32 key = s.preimage_key;
          std::memmove(key.data(), key.data() + n, 32 - n);
          uint8_t tmp[8];
          store_be64(tmp, word);
          std::memcpy(key.data() + 32 - n, tmp + alignment, n);
          s.preimage_key = key;
          s.preimage_offset = 0;
          v0 = n;
          break;
        }
        case fd::kEventFd:
          v0 = kEAGAIN;
          v1 = kSysErrorSignal;
          break;
        default:
          v0 = kEBADF;
          v1 = kSysErrorSignal;
          break;
      }
      break;
    case sys::kFcntl:
      if (a1 == 1) {  // F_GETFD
        if (a0 <= fd::kPreimageWrite)
          v0 = 0;
        else {
          v0 = kEBADF;
          v1 = kSysErrorSignal;
        }
      } else if (a1 == 3) {  // F_GETFL
        if (a0 == fd::kStdin || a0 == fd::kPreimageRead || a0 == fd::kHintRead)
          v0 = 0;
        else if (a0 == fd::kStdout || a0 == fd::kStderr || a0 == fd::kPreimageWrite ||
                 a0 == fd::kHintWrite)
          v0 = 1;
        else {
          v0 = kEBADF;
          v1 = kSysErrorSignal;
        }
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    case sys::kGetTid:
      v0 = t.id;
      break;
    case sys::kExit:
      t.exited = true;
      t.exit_code = uint8_t(a0);
      if (P::last_thread(*this)) {
        s.exited = true;
        s.exit_code = uint8_t(a0);
      }
      return StepStatus::kOk;
    case sys::kFutex: {
      uint64_t futex_addr = a0 & ~uint64_t{3};
      if (a1 == kFutexWaitPrivate) {
        uint64_t eff = futex_addr & kAddressMask;
        P::track(*this, eff);
        uint32_t val = uint32_t(select_subword(futex_addr, P::get_word(*this, eff), 4, false));
        if (val != uint32_t(a2)) {
          v0 = kEAGAIN;
          v1 = kSysErrorSignal;
        } else {
          return yield();
        }
      } else if (a1 == kFutexWakePrivate) {
        return yield();
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    }
    case sys::kSchedYield:
    case sys::kNanosleep:
      return yield();
    case sys::kOpen:
      v0 = kEBADF;
      v1 = kSysErrorSignal;
      break;
    case sys::kClockGetTime:
      if (a0 == kClockRealtime || a0 == kClockMonotonic) {
        uint64_t secs = 0, nsecs = 0;
        if (a0 == kClockMonotonic) {
          secs = s.step / kHz;
          nsecs = (s.step % kHz) * (1000000000 / kHz);
        }
        uint64_t eff = a1 & kAddressMask;
        P::track(*this, eff);
        P::set_word(*this, eff, secs);
        on_store(eff);
        P::track2(*this, eff + 8);
        P::set_word(*this, eff + 8, nsecs);
        on_store(eff + 8);
      } else {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      }
      break;
    case sys::kGetpid:
      break;
    case sys::kGetRandom: {
      uint64_t eff = a0 & kAddressMask;
      P::track(*this, eff);
      uint64_t word = P::get_word(*this, eff);
      uint64_t rnd = splitmix64(s.step);
      uint64_t index = a0 - eff;
      uint64_t count = std::min<uint64_t>(8 - index, a1);
      // Go shifts by >= 64 give 0; mirror that.
      uint64_t mask = count * 8 >= 64 ? ~uint64_t{0} : (uint64_t{1} << (count * 8)) - 1;
      uint64_t sl = (8 - count) * 8;
      mask = sl >= 64 ? 0 : mask << sl;
      mask >>= index * 8;
      P::set_word(*this, eff, (word & ~mask) | (rnd & mask));
      on_store(eff);
      v0 = count;
      break;
    }
    case sys::kEventFd2:
      if ((a1 & kEfdNonblock) == 0) {
        v0 = kEINVAL;
        v1 = kSysErrorSignal;
      } else {
        v0 = fd::kEventFd;
      }
      break;
    default:
      if (!is_noop_syscall(num)) return panic(fmt("unrecognized syscall: %llu", num));
      break;
  }
  syscall_return(t, v0, v1);
  return StepStatus::kOk;
}

template StepStatus Vm::syscall<FastPolicy>(Thread& t);
template StepStatus Vm::syscall<RecordPolicy>(Thread& t);
template StepStatus Vm::syscall<WitnessPolicy>(Thread& t);

}  // namespace cb
