// libFuzzer harness: the JIT against the interpreter. The input is decoded (FuzzedDataProvider)
// into a random block program built from the ISA table (interp/isa.def through insn_info /
// encode, the same rows tests/isa_random.h draws from: every non-syscall instruction, branch
// and jump targets inside the program, loads and stores based on registers that point near
// page boundaries, into an absent page or into the code), random registers (edge values or
// raw), HI/LO, LL/SC reservation, scheduler counters and two data pages. The program runs
// for up to 96 steps with every block force-compiled by one long-lived JitEngine (so memory
// swaps between inputs are exercised too), and once by the interpreter from the same state.
// Checks: same status, same panic message, same step count, same state hash (registers,
// memory through the Merkle root, everything the witness covers). A difference aborts with
// the disassembled program.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "interp/decoder.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "jit/engine.h"

namespace {

constexpr uint64_t kCodeBase = 0x10000;  // two code pages
constexpr uint64_t kDataBase = 0x20000;  // two data pages, then an absent one
constexpr unsigned kAddrRegs = 5;        // r1..r5 hold addresses
constexpr uint64_t kSteps = 96;

const std::vector<cb::Op>& ops() {
  static const std::vector<cb::Op> v = [] {
    std::vector<cb::Op> out;
    for (size_t i = 0; i < cb::kOpCount; ++i)
      if (cb::insn_info(cb::Op(i)).cls != cb::InsnClass::SYSCALL) out.push_back(cb::Op(i));
    return out;
  }();
  return v;
}

uint64_t value(FuzzedDataProvider& in) {
  static const uint64_t kEdges[] = {0,
                                    1,
                                    2,
                                    ~uint64_t{0},
                                    0x7fffffff,
                                    0x80000000,
                                    0xffffffff,
                                    0xffffffff80000000,
                                    0x100000000,
                                    0x8000000000000000,
                                    0x7fffffffffffffff,
                                    31,
                                    32,
                                    33,
                                    63,
                                    64,
                                    0xffff,
                                    0x8000};
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      return kEdges[in.ConsumeIntegralInRange<size_t>(0, std::size(kEdges) - 1)];
    case 1:
      return uint64_t(int64_t(in.ConsumeIntegral<int32_t>()));
    case 2:
      return in.ConsumeIntegralInRange<uint64_t>(0, 63);
    default:
      return in.ConsumeIntegral<uint64_t>();
  }
}

uint64_t address(FuzzedDataProvider& in, uint64_t start, size_t n) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return kDataBase + in.ConsumeIntegralInRange<uint64_t>(0, 2 * cb::kPageSize - 1);
    case 1:
      return kDataBase + cb::kPageSize - 8 + in.ConsumeIntegralInRange<uint64_t>(0, 15);
    case 2:
      return kDataBase + 2 * cb::kPageSize - 8 + in.ConsumeIntegralInRange<uint64_t>(0, 23);
    case 3:
      return start + 4 * in.ConsumeIntegralInRange<uint64_t>(0, n + 1);
    case 4:
      return kDataBase + 8 * in.ConsumeIntegralInRange<uint64_t>(0, 15);
    default:
      return kDataBase + in.ConsumeIntegralInRange<uint64_t>(0, 63);
  }
}

unsigned reg(FuzzedDataProvider& in) {
  const int k = in.ConsumeIntegralInRange<int>(0, 9);
  if (k < 6) return in.ConsumeIntegralInRange<unsigned>(0, 11);
  if (k < 8) return 31;
  return in.ConsumeIntegralInRange<unsigned>(0, 31);
}

uint32_t insn(FuzzedDataProvider& in, uint64_t start, size_t i, size_t n) {
  const cb::Op op = ops()[in.ConsumeIntegralInRange<size_t>(0, ops().size() - 1)];
  const cb::InsnInfo& info = cb::insn_info(op);
  unsigned rs = reg(in), rt = reg(in), rd = reg(in),
           sa = in.ConsumeIntegralInRange<unsigned>(0, 31);
  uint32_t imm;
  switch (info.format) {
    case cb::InsnFormat::J:
      imm =
          uint32_t(((start + 4 * in.ConsumeIntegralInRange<uint64_t>(0, n + 1)) >> 2) & 0x3ffffff);
      break;
    case cb::InsnFormat::BR1:
    case cb::InsnFormat::BR2:
      imm = uint32_t(int64_t(in.ConsumeIntegralInRange<uint64_t>(0, n + 2)) - int64_t(i) - 1) &
            0xffff;
      break;
    case cb::InsnFormat::MEM:
      rs = 1 + in.ConsumeIntegralInRange<unsigned>(0, kAddrRegs - 1);
      imm = in.ConsumeBool() ? uint32_t(in.ConsumeIntegralInRange<int32_t>(-16, 16)) & 0xffff
                             : in.ConsumeIntegral<uint16_t>();
      break;
    default:
      imm = in.ConsumeIntegral<uint16_t>();
  }
  const uint32_t w = cb::encode(op, rs, rt, rd, sa, imm);
  // A word that decodes to another row is kept (it is still a valid program), unless it is a
  // syscall: a random write(2) could name 2^63 bytes.
  const cb::Op got = cb::decode(w);
  if (got != op && got != cb::Op::invalid && cb::insn_info(got).cls == cb::InsnClass::SYSCALL)
    return 0;
  return w;
}

struct Engine {
  cb::State state;
  cb::Vm vm{state, nullptr, nullptr};
  cb::JitEngine jit{vm};
  Engine() {
    if (!jit.available()) {
      std::fprintf(stderr, "fuzz_jit: the JIT backend is not available on this machine\n");
      std::abort();
    }
    jit.set_hot_threshold(1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Engine engine;
  FuzzedDataProvider in(data, size);
  cb::State init;
  const size_t n = 1 + in.ConsumeIntegralInRange<size_t>(0, 23);
  const uint64_t start =
      in.ConsumeIntegralInRange<int>(0, 4) == 0
          ? kCodeBase + cb::kPageSize - 4 * (1 + in.ConsumeIntegralInRange<uint64_t>(0, n - 1))
          : kCodeBase + 4 * in.ConsumeIntegralInRange<uint64_t>(0, 63);
  std::vector<uint32_t> words(n);
  for (size_t i = 0; i < n; ++i) words[i] = insn(in, start, i, n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t be[4] = {uint8_t(words[i] >> 24), uint8_t(words[i] >> 16), uint8_t(words[i] >> 8),
                           uint8_t(words[i])};
    init.memory->set_range(start + 4 * i, be, 4);
  }
  cb::Thread& t = init.current();
  t.cpu.pc = start;
  t.cpu.next_pc = start + 4;
  t.cpu.hi = value(in);
  t.cpu.lo = value(in);
  for (unsigned r = 1; r < 32; ++r) t.regs[r] = value(in);
  for (unsigned r = 1; r <= kAddrRegs; ++r) t.regs[r] = address(in, start, n);
  init.step = in.ConsumeIntegralInRange<uint64_t>(0, 999999);
  init.steps_since_switch = in.ConsumeBool()
                                ? cb::kSchedQuantum - in.ConsumeIntegralInRange<uint64_t>(0, 39)
                                : in.ConsumeIntegralInRange<uint64_t>(0, 999);
  if (in.ConsumeBool()) {
    init.ll_status = uint8_t(in.ConsumeIntegralInRange<int>(1, 2));
    init.ll_address = t.regs[1 + in.ConsumeIntegralInRange<unsigned>(0, kAddrRegs - 1)] +
                      (in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<uint64_t>(0, 7));
    init.ll_owner = t.id;
  }
  // Two data pages from the rest of the input (repeated), zeros when it is used up.
  std::vector<uint8_t> rest = in.ConsumeRemainingBytes<uint8_t>();
  std::vector<uint8_t> page(2 * cb::kPageSize);
  for (size_t i = 0; i < page.size() && !rest.empty(); ++i)
    page[i] = uint8_t(rest[i % rest.size()] + i / rest.size());
  init.memory->set_range(kDataBase, page.data(), page.size());

  // Hash once before cloning: both runs then rehash only the pages they wrote (and a page the
  // JIT wrote without marking it dirty would keep a stale hash: part of what is checked).
  (void)init.hash();
  cb::State want = init.clone();
  engine.state = init.clone();
  engine.jit.compile_at(engine.state.current().cpu.pc);
  const uint64_t target = init.step + kSteps;
  const cb::StepStatus sg = engine.jit.run(target);
  cb::Vm vm(want, nullptr, nullptr);
  cb::StepStatus sw = cb::StepStatus::kOk;
  if (want.step < engine.state.step || sg == cb::StepStatus::kOk) vm.run(target - want.step, sw);
  const bool same =
      sw == sg && (sw == cb::StepStatus::kOk || vm.panic_message() == engine.vm.panic_message()) &&
      want.step == engine.state.step && want.hash() == engine.state.hash();
  if (!same) {
    std::fprintf(
        stderr,
        "fuzz_jit: JIT and interpreter differ (status %d / %d, step %llu / %llu, %s / %s)\n",
        int(sw), int(sg), static_cast<unsigned long long>(want.step),
        static_cast<unsigned long long>(engine.state.step), vm.panic_message().c_str(),
        engine.vm.panic_message().c_str());
    for (size_t i = 0; i < n; ++i)
      std::fprintf(stderr, "  %llx: %s\n", static_cast<unsigned long long>(start + 4 * i),
                   cb::disassemble(words[i], start + 4 * i).c_str());
    std::abort();
  }
  return 0;
}
