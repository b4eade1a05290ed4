#include "cli/window_command.h"

#include "cli/preimage_host.h"
#include "interp/state_io.h"

#include <cstring>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "interp/elf_loader.h"
#include "host/file_io.h"
#include "scheduler/checkpoint.h"
#include "scheduler/checkpoint_store.h"
#include "scheduler/executor.h"
#include "scheduler/window.h"

namespace cb::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Sample {
  double steps_per_s = 0;
  uint64_t steps = 0;
};

// Runs `steps` steps from a copy of `initial` (no oracle: the sample must not need one).
Sample measure(const State& initial, uint64_t steps, bool jit, PreimageOracle* oracle) {
  State s = initial.clone();
  Vm vm(s, oracle, nullptr);
  Executor ex(vm, ExecutorOptions{jit});
  auto t = Clock::now();
  if (ex.run_until(s.step + steps) != StepStatus::kOk)
    throw std::runtime_error("the guest panicked during the sample: " + vm.panic_message());
  double secs = seconds_since(t);
  uint64_t done = s.step - initial.step;
  return {done / std::max(secs, 1e-9), done};
}

}  // namespace

int window_main(int argc, char** argv) {
  // "-- <pre-image server>": the guest's host (e.g. the bigheap guest's), shared by every
  // measured run (requests serialized; each run re-reads its pre-images from it).
  std::vector<std::string> host_argv;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") != 0) continue;
    host_argv.assign(argv + i + 1, argv + argc);
    argc = i;
    break;
  }
  CLI::App app{"How long a trace fits a dispute game's deadline, measured on this machine", "window"};
  std::string elf = std::string(CB_DEFAULT_GUEST), input, plot, json_path;
  uint64_t sample = 300'000'000, checkpoint_every = 100'000'000;
  unsigned proofs = 5;
  bool json = false;
  window::GameParams game;
  std::vector<std::string> compares;
  app.footer("A guest that reads pre-images takes its server after \"--\", e.g.\n"
             "  cannonball window --elf tests/guests/elf/bigheap.elf --sample-steps 200000000 -- \\\n"
             "    python3 tests/guests/bigheap/bigheap_server.py --random 1G");
  app.add_option("--elf", elf, "guest ELF to measure (default: the bundled default guest)");
  app.add_option("--input", input, "a state file to measure instead of an ELF (at most 10 GiB)");
  app.add_option("--sample-steps", sample, "steps to run per mode (1..10^12)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000'000}));
  app.add_option("--checkpoint-every", checkpoint_every, "checkpoint interval of the checkpoint mode");
  app.add_option("--proofs", proofs, "random steps to prove from the nearest checkpoint (0..1000)")
      ->check(CLI::Range(0u, 1000u));
  app.add_option("--max-clock", game.max_clock_s, "seconds on each side's chess clock");
  app.add_option("--clock-extension", game.clock_extension_s, "clock extension in seconds (doubled at the split depth)");
  app.add_option("--split-depth", game.split_depth, "split depth of the game");
  app.add_option("--max-game-depth", game.max_game_depth, "maximum depth of the game");
  app.add_option("--compare", compares, "extra mode NAME=STEPS_PER_S[,prove=S][,setup=S], e.g. reference=15e6");
  app.add_flag("--json", json, "print the report as JSON instead of a table");
  app.add_option("--json-out", json_path, "also write the JSON report to this file");
  app.add_option("--plot", plot, "write a plot of time against trace length (.svg or .png)");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    if (std::string err = window::validate(game); !err.empty()) throw std::runtime_error(err);
    std::vector<window::Mode> extra;
    for (const auto& c : compares) {
      window::Mode m;
      std::string err;
      if (!window::parse_compare(c, m, err)) throw std::runtime_error("--compare " + c + ": " + err);
      extra.push_back(m);
    }
    ReadLimits elf_limits;
    elf_limits.max_bytes = kMaxElfFileBytes;
    State initial = input.empty() ? load_elf(read_file(elf, elf_limits)) : load_state(input);
    std::unique_ptr<HostProcess> host;
    if (!host_argv.empty()) host = std::make_unique<HostProcess>(host_argv, HostOptions{});
    PreimageOracle* oracle = host.get();
    std::string guest = input.empty() ? elf : input;
    if (sample == 0) throw std::runtime_error("--sample-steps must be positive");
    if (checkpoint_every == 0) throw std::runtime_error("--checkpoint-every must be positive");

    window::Measurements meas;
    meas.guest = guest.substr(guest.find_last_of('/') + 1);
    std::fprintf(stderr, "measuring %s: %llu steps per mode\n", meas.guest.c_str(), (unsigned long long)sample);
    Sample interp = measure(initial, sample, false, oracle);
    meas.sample_steps = interp.steps;
    meas.modes.push_back({"interp", interp.steps_per_s, 0, 0, true});
    Sample jit{};
    if (jit_available()) {
      jit = measure(initial, sample, true, oracle);
      meas.modes.push_back({"jit", jit.steps_per_s, 0, 0, true});
    }

    // Checkpoint mode: the fastest engine, an in-memory checkpoint every `checkpoint_every`
    // steps, each also encoded for the on-disk store (incremental, zstd) to measure disk use.
    CheckpointSet set;
    State s = initial.clone();
    Vm vm(s, oracle, nullptr);
    Executor ex(vm, ExecutorOptions{jit_available()});
    uint64_t disk = 0;
    CheckpointPtr prev;
    auto t = Clock::now();
    double encode_secs = 0;
    while (!s.exited && s.step < initial.step + sample) {
      auto c = std::make_shared<const Checkpoint>(s);
      set.add(c);
      // The store encodes on a background thread during a real trace; its cost is timed
      // separately so the run-time overhead reported is the in-memory checkpoint's.
      auto te = Clock::now();
      disk += encode_checkpoint(*c, prev.get(), 3).size();
      encode_secs += seconds_since(te);
      prev = c;
      if (ex.run_until(std::min(s.step + checkpoint_every, initial.step + sample)) != StepStatus::kOk)
        throw std::runtime_error("the guest panicked during the sample: " + vm.panic_message());
    }
    double ck_secs = seconds_since(t) - encode_secs;
    uint64_t ck_steps = s.step - initial.step;
    double ck_rate = ck_steps / std::max(ck_secs, 1e-9);
    double base_rate = jit_available() ? jit.steps_per_s : interp.steps_per_s;
    meas.checkpoint_overhead_pct = 100.0 * (base_rate / ck_rate - 1.0);
    meas.checkpoint_disk_bytes = disk;

    // Prove random steps: restore the nearest checkpoint, fast-forward, one recorded step.
    std::mt19937_64 rng(1);
    std::vector<double> prove;
    for (unsigned i = 0; i < proofs && ck_steps > 1; ++i) {
      uint64_t step = initial.step + rng() % (ck_steps - 1);
      auto tp = Clock::now();
      CheckpointPtr c = set.at_or_before(step);
      State r = c->restore();
      Vm pvm(r, oracle, nullptr);
      Executor pex(pvm, ExecutorOptions{jit_available()});
      pex.run_until(step);
      StepWitness w;
      pvm.step_with_proof(w);
      (void)r.hash();
      prove.push_back(seconds_since(tp));
    }
    std::sort(prove.begin(), prove.end());
    double prove_median = prove.empty() ? 0 : prove[prove.size() / 2];
    meas.modes.push_back({jit_available() ? "jit+checkpoints" : "interp+checkpoints", ck_rate, prove_median, 0, true});
    for (auto& m : meas.modes) m.prove_s = prove_median;  // every mode proves from checkpoints
    for (auto& m : extra) meas.modes.push_back(m);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    meas.peak_rss_bytes = uint64_t(ru.ru_maxrss) * 1024;

    window::Report report = window::compute_report(game, meas);
    std::string text = json ? window::to_json(report).dump(2) + "\n" : window::render_table(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!json_path.empty()) {
      std::string j = window::to_json(report).dump(2) + "\n";
      write_file_atomic(json_path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(j.data()), j.size()));
    }
    if (!plot.empty()) {
      std::string err;
      if (!window::write_plot(report, plot, err)) throw std::runtime_error("plot: " + err);
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace cb::cli
