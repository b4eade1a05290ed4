// libFuzzer harness: the JIT against the interpreter. The input drives the same random block
// programs as the JIT's differential test (tests/isa_random.h, from the ISA table through
// insn_info / encode: every non-syscall instruction, branch and jump targets inside the
// program, loads and stores based on registers that point near page boundaries, into an absent
// page or into the code, random registers (edge values or raw), HI/LO, LL/SC reservation,
// scheduler counters and two data pages), with libFuzzer's bytes in place of the seeded
// generator. The program runs for up to 96 steps with every block force-compiled by one
// long-lived JitEngine (so memory swaps between inputs are exercised too), and once by the
// interpreter from the same state. Checks: same status, same panic message, same step count,
// same state hash (registers, memory through the Merkle root, everything the witness covers).
// A difference aborts with the disassembled program.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "interp/decoder.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "jit/engine.h"
#include "tests/isa_random.h"

namespace {

constexpr uint64_t kSteps = 96;
constexpr size_t kMaxLen = 24;

// IsaRandom's draws from the fuzzer's input (zeros once it is used up).
class FuzzSource {
 public:
  explicit FuzzSource(FuzzedDataProvider& in) : m_in(in) {}
  uint64_t u64() { return m_in.ConsumeIntegral<uint64_t>(); }
  uint64_t below(uint64_t n) { return m_in.ConsumeIntegralInRange<uint64_t>(0, n - 1); }

 private:
  FuzzedDataProvider& m_in;
};

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
  cb::test::IsaRandomOf<FuzzSource> gen(in);
  std::vector<uint32_t> words;
  cb::State init = gen.program(kMaxLen, &words);
  const uint64_t start = init.current().cpu.pc;
  const size_t n = words.size();

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
