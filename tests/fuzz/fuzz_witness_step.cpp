// libFuzzer harness: the fast step against the witness-only step on random states. The input
// builds a state (1-3 threads on the left stack, 0-2 on the right, which stack is active,
// registers pointing into a data page or anywhere, PCs and delay slots, steps since the last
// switch near the quantum, LL/SC reservation, pre-image key type 1 or 2 and offset) with
// instruction words at 0x10000 (mostly valid ones, encoded from the ISA table, and syscalls
// with v0 from the syscall table) and a data page at 0x20000. Then:
//   fast:    Vm::step() on one copy -> post hash
//   witness: Vm::step_with_proof() on another copy (recording policy) -> StepWitness
//   verify:  verify_step_witness(witness) must accept and give the same post hash.
// Steps that panic (the reference panics, no proof exists) and host-oracle failures end the
// input. A mismatch aborts with the reason on stderr.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "interp/decoder.h"
#include "interp/oracle.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "interp/witness_step.h"

namespace {

class FuzzOracle : public cb::PreimageOracle {
 public:
  std::vector<uint8_t> value;
  void hint(std::span<const uint8_t>) override {}
  std::vector<uint8_t> get_preimage(const cb::Hash32&) override { return value; }
};

struct Bytes {
  const uint8_t* p;
  size_t n, pos = 0;
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | (pos < n ? p[pos++] : 0);
    return v;
  }
  uint8_t u8() { return pos < n ? p[pos++] : 0; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 64) return 0;
  Bytes in{data, size};
  cb::State s;
  s.left.clear();
  const uint8_t shape = in.u8();
  const unsigned n_left = 1 + shape % 3, n_right = (shape / 3) % 3;
  uint64_t next_id = 0;
  auto make_thread = [&]() {
    cb::Thread t;
    t.id = next_id++;
    const uint8_t f = in.u8();
    t.exited = (f & 0x1f) == 0;
    t.exit_code = f >> 5;
    t.cpu.pc = 0x10000 + 4 * (in.u8() % 64);
    t.cpu.next_pc =
        (f & 0x20) ? 0x10000 + 4 * (in.u8() % 64) : t.cpu.pc + 4;  // in a delay slot or not
    t.cpu.hi = in.u64();
    t.cpu.lo = in.u64();
    static const uint64_t kSyscalls[] = {cb::sys::kRead,
                                         cb::sys::kWrite,
                                         cb::sys::kOpen,
                                         cb::sys::kMmap,
                                         cb::sys::kBrk,
                                         cb::sys::kSchedYield,
                                         cb::sys::kNanosleep,
                                         cb::sys::kGetpid,
                                         cb::sys::kClone,
                                         cb::sys::kExit,
                                         cb::sys::kFcntl,
                                         cb::sys::kGetTid,
                                         cb::sys::kFutex,
                                         cb::sys::kExitGroup,
                                         cb::sys::kClockGetTime,
                                         cb::sys::kEventFd2,
                                         cb::sys::kGetRandom,
                                         5011 /*munmap: noop*/,
                                         4242 /*unknown*/};
    static const uint64_t kArgs[] = {0,
                                     1,
                                     2,
                                     3,
                                     4,
                                     5,
                                     6,
                                     100,
                                     cb::kValidCloneFlags,
                                     cb::kFutexWaitPrivate,
                                     cb::kFutexWakePrivate,
                                     0x80,
                                     8,
                                     32};
    for (int r = 1; r < 32; ++r) {
      const uint8_t k = in.u8();
      // Mostly pointers into the data page (loads and stores land there), syscall numbers in
      // v0, syscall arguments and small values in a0..a2.
      if (r == cb::kRegV0 && k < 160)
        t.regs[r] = kSyscalls[k % std::size(kSyscalls)];
      else if (r >= 4 && r <= 6 && k < 128)
        t.regs[r] = kArgs[k % std::size(kArgs)];
      else if (k < 96)
        t.regs[r] = 0x20000 + (uint64_t(in.u8()) << 3) + (k & 7);
      else if (k < 160)
        t.regs[r] = k - 96;
      else
        t.regs[r] = in.u64();
    }
    return t;
  };
  for (unsigned i = 0; i < n_left; ++i) s.left.push_back(make_thread());
  for (unsigned i = 0; i < n_right; ++i) s.right.push_back(make_thread());
  s.traverse_right = n_right > 0 && (shape & 0x80);
  s.next_thread_id = next_id;
  const uint64_t flags = in.u64();
  s.steps_since_switch = (flags & 1) ? cb::kSchedQuantum - (flags >> 1) % 3 : (flags >> 8) % 1000;
  s.step = (flags >> 16) & 0xffffff;
  s.heap = cb::kHeapStart + ((flags >> 40) & 0xff) * cb::kPageSize;
  s.ll_status = uint8_t((flags >> 48) % 3);
  s.ll_address = s.ll_status ? 0x20000 + ((flags >> 50) & 0xff) * 4 : 0;
  s.ll_owner = s.ll_status ? (flags >> 58) % next_id : 0;

  FuzzOracle oracle;
  const size_t vlen = 1 + in.u8();
  for (size_t i = 0; i < vlen; ++i) oracle.value.push_back(in.u8());
  if (flags & (uint64_t{1} << 62)) {
    // A keccak256 key commits to its pre-image, as the verifier checks.
    s.preimage_key = cb::keccak256(oracle.value.data(), oracle.value.size());
    s.preimage_key[0] = 2;
  } else {
    s.preimage_key[0] = 1;
    s.preimage_key[31] = in.u8();
  }
  s.preimage_offset = in.u8() % (vlen + 9);

  // Instructions: encoded from the ISA table, a syscall, or a raw word.
  for (size_t i = 0; i < 64; ++i) {
    const uint8_t k = in.u8();
    uint32_t w;
    if (k < 176) {
      const cb::Op op = cb::Op(in.u8() % cb::kOpCount);
      const unsigned rs = in.u8() % 32, rt = in.u8() % 32, rd = in.u8() % 32, sa = k % 32;
      const uint32_t imm = uint32_t(in.u8()) << 8 | in.u8();
      w = cb::encode(op, rs, rt, rd, sa, (k & 0x40) ? imm : (imm & 0x1f));
    } else if (k < 224) {
      w = 0x0000000c;  // syscall
    } else {
      w = uint32_t(in.u64());
    }
    uint8_t be[4] = {uint8_t(w >> 24), uint8_t(w >> 16), uint8_t(w >> 8), uint8_t(w)};
    s.memory->set_range(0x10000 + 4 * i, be, 4);
  }
  for (size_t i = 0; i < 512; ++i)
    s.memory->set_word(0x20000 + 8 * i, data[(in.pos + 8 * i) % size] * 0x0101010101010101ULL ^ i);

  // A write of a huge length to fds 1, 2 or 4 streams gigabytes by design: not a finding.
  const cb::Thread& cur = s.current();
  if (!cur.exited && cur.regs[2] == 5001 && cur.regs[6] > (uint64_t{1} << 20)) return 0;

  const uint64_t pre_step = s.step;
  cb::State fast = s.clone();
  cb::StepWitness w;
  try {
    cb::Vm fvm(fast, &oracle, nullptr);
    if (fvm.step() != cb::StepStatus::kOk) return 0;
    cb::Vm rvm(s, &oracle, nullptr);
    if (rvm.step_with_proof(w) != cb::StepStatus::kOk) std::abort();  // the fast step did not panic
  } catch (const cb::OracleError&) {
    return 0;
  }
  const cb::Hash32 post = fast.hash();
  if (s.hash() != post) {
    std::fprintf(stderr, "recording step and fast step disagree\n");
    std::abort();
  }
  cb::WitnessCheck c = cb::verify_step_witness(w, pre_step, post);
  if (!c.failure.empty() || c.post != post) {
    std::fprintf(stderr, "witness-only step: %s\n",
                 c.failure.empty() ? "different post hash" : c.failure.c_str());
    std::abort();
  }
  return 0;
}
