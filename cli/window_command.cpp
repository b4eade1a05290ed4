// `cannonball window`: flags, then scheduler/window_measure.h measures, scheduler/window.h
// computes the report and cli/window_report.h renders it.
#include "cli/window_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/preimage_host.h"
#include "cli/window_report.h"
#include "host/file_io.h"
#include "interp/elf_loader.h"
#include "scheduler/window.h"
#include "scheduler/window_measure.h"

namespace cb::cli {

int window_main(int argc, char** argv) {
  // "-- <pre-image server>": the guest's host (e.g. the bigheap guest's), shared by every
  // measured run (requests serialized; each run re-reads its pre-images from it).
  SplitArgs split = split_host(argc, argv);
  const std::vector<std::string>& host_argv = split.host;
  argc = split.argc;
  CLI::App app{"How long a trace fits a dispute game's deadline, measured on this machine",
               "window"};
  std::string elf = std::string(CB_DEFAULT_GUEST), input, plot, json_path;
  uint64_t sample = 300'000'000, checkpoint_every = 100'000'000;
  unsigned proofs = 5;
  bool json = false;
  window::GameParams game;
  std::vector<std::string> compares;
  app.footer(
      "A guest that reads pre-images takes its server after \"--\", e.g.\n"
      "  cannonball window --elf tests/guests/elf/bigheap.elf --sample-steps 200000000 -- \\\n"
      "    python3 tests/guests/bigheap/bigheap_server.py --random 1G");
  app.add_option("--elf", elf, "guest ELF to measure (default: the bundled default guest)");
  app.add_option("--input", input, "a state file to measure instead of an ELF (at most 10 GiB)");
  app.add_option("--sample-steps", sample, "steps to run per mode (1..10^12)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000'000}));
  app.add_option("--checkpoint-every", checkpoint_every,
                 "checkpoint interval of the checkpoint mode");
  app.add_option("--proofs", proofs, "random steps to prove from the nearest checkpoint (0..1000)")
      ->check(CLI::Range(0u, 1000u));
  app.add_option("--max-clock", game.max_clock_s, "seconds on each side's chess clock");
  app.add_option("--clock-extension", game.clock_extension_s,
                 "clock extension in seconds (doubled at the split depth)");
  app.add_option("--split-depth", game.split_depth, "split depth of the game");
  app.add_option("--max-game-depth", game.max_game_depth, "maximum depth of the game");
  app.add_option("--compare", compares,
                 "extra mode NAME=STEPS_PER_S[,prove=S][,setup=S], e.g. reference=15e6");
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
      if (!window::parse_compare(c, m, err))
        throw std::runtime_error("--compare " + c + ": " + err);
      extra.push_back(m);
    }
    ReadLimits elf_limits;
    elf_limits.max_bytes = kMaxElfFileBytes;
    State initial = input.empty() ? load_elf(read_file(elf, elf_limits)) : load_state(input);
    std::unique_ptr<HostProcess> host;
    if (!host_argv.empty()) host = std::make_unique<HostProcess>(host_argv, HostOptions{});
    PreimageOracle* oracle = host.get();
    std::string guest = input.empty() ? elf : input;

    window::MeasureOptions mopt;
    mopt.sample_steps = sample;
    mopt.checkpoint_every = checkpoint_every;
    mopt.proofs = proofs;
    mopt.guest = guest.substr(guest.find_last_of('/') + 1);
    std::fprintf(stderr, "measuring %s: %llu steps per mode\n", mopt.guest.c_str(),
                 (unsigned long long)sample);
    window::Measurements meas = window::measure(initial, mopt, oracle);
    for (auto& m : extra) meas.modes.push_back(m);

    window::Report report = window::compute_report(game, meas);
    std::string text = json ? window::to_json(report).dump(2) + "\n" : window::render_table(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!json_path.empty()) {
      std::string j = window::to_json(report).dump(2) + "\n";
      write_file_atomic(json_path, std::span<const uint8_t>(
                                       reinterpret_cast<const uint8_t*>(j.data()), j.size()));
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
