// `cannonball window`'s measuring: runs a sample of the guest in each of the executor's modes
// (interpreter, JIT when built, the fastest with in-memory checkpoints whose on-disk encoding
// is also timed apart) and proves random steps from the nearest checkpoint the way prove
// does (scheduler/run_session.h prove_step), giving the window::Measurements that
// scheduler/window.h turns into a report.
#pragma once
#include <cstdint>
#include <string>

#include "interp/oracle.h"
#include "interp/state.h"
#include "scheduler/window.h"

namespace cb::window {

struct MeasureOptions {
  uint64_t sample_steps = 300'000'000;      // steps per mode
  uint64_t checkpoint_every = 100'000'000;  // interval of the checkpoint mode
  unsigned proofs = 5;                      // random steps to prove (the median is reported)
  std::string guest;                        // the name shown in the report
};

// Throws std::runtime_error when the guest panics during the sample. `oracle` may be null
// (a guest that reads no pre-images).
Measurements measure(const State& initial, const MeasureOptions& options, PreimageOracle* oracle);

}  // namespace cb::window
