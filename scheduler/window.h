// `cannonball window`: how long may a trace be before an honest challenger can
// no longer produce it (and the disputed step's proof) in time?
//
// This file is the pure part of the command: given the measured speeds of the
// executor's modes and the dispute game's parameters it computes the report. It
// knows nothing about the VM so that the arithmetic can be tested against
// hand-computed numbers. The measuring is scheduler/window_measure.h; the
// renderings (table, JSON, SVG plot) are cli/window_report.h.
//
// The game model, read from OP's FaultDisputeGame.sol (`move`):
//   * The execution-trace bisection sub-game starts below the split depth: its
//     root claim sits at SPLIT_DEPTH + 1 and its leaves at MAX_GAME_DEPTH, so it
//     has depth MAX_GAME_DEPTH - SPLIT_DEPTH - 1 (73 - 30 - 1 = 42 on mainnet;
//     op-challenger calls this the bottom depth) and at most 2^depth steps.
//   * A move to SPLIT_DEPTH - 1 grants a clock extension of 2 x CLOCK_EXTENSION
//     "to generate the initial instruction trace on the native FPVM"; a move to
//     MAX_GAME_DEPTH - 1 grants CLOCK_EXTENSION + the preimage oracle's challenge
//     period; every other move grants CLOCK_EXTENSION.
//
// Deadline (a choice, stated in every rendering): the doubled clock extension,
// 2 x CLOCK_EXTENSION (21,600 s = 6 h on mainnet). It is the time the contract
// guarantees the honest challenger when an opponent let its own clock run down
// before the split depth. The optimistic alternative is the whole chess clock
// (MAX_CLOCK_DURATION, 3.5 days); it is reported next to it but never used for
// the fits / does-not-fit verdicts.
//
// Time model for a mode and a trace of L steps:
//   time(L) = setup_s + L / steps_per_s + prove_s
// i.e. the challenger must run the whole trace and also be able to prove the
// disputed step (from the nearest checkpoint) before the deadline; counting the
// proof inside the same window is conservative.
//   longest = min(2^depth, floor((deadline - setup_s - prove_s) * steps_per_s))
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cb::window {

// Defaults are OP mainnet (op-deployer's standard config).
struct GameParams {
  double max_clock_s = 302400;               // MAX_CLOCK_DURATION, 3.5 days
  double clock_extension_s = 10800;          // CLOCK_EXTENSION, 3 h
  int split_depth = 30;                      // SPLIT_DEPTH
  int max_game_depth = 73;                   // MAX_GAME_DEPTH
  double oracle_challenge_period_s = 86400;  // PreimageOracle challengePeriod; informational only
};

// One way of running the guest (interpreter, JIT, JIT with checkpoints, or a
// speed the user supplied with --compare).
struct Mode {
  std::string name;
  double steps_per_s = 0;
  double prove_s = 0;    // time to prove one step from the nearest checkpoint
  double setup_s = 0;    // fixed cost before the first step (load, compile)
  bool measured = true;  // false: supplied by the user, not measured here
};

struct Measurements {
  std::string guest;
  uint64_t sample_steps = 0;  // length of the measured sample
  std::vector<Mode> modes;
  double checkpoint_overhead_pct = 0;  // slowdown from enabling checkpoints
  uint64_t peak_rss_bytes = 0;
  uint64_t checkpoint_disk_bytes = 0;  // disk the checkpoints took over the sample
};

struct LengthResult {
  uint64_t steps = 0;
  double time_s = 0;
  bool fits = false;         // time_s <= deadline and steps <= max trace
  bool within_game = false;  // steps <= 2^depth
};

struct ModeResult {
  Mode mode;
  uint64_t longest_steps = 0;             // within the deadline, capped at 2^depth
  uint64_t longest_steps_full_clock = 0;  // same, with the whole chess clock
  std::vector<LengthResult> lengths;      // one per Report::lengths
};

struct Report {
  GameParams game;
  Measurements measurements;
  int execution_depth = 0;            // max_game_depth - split_depth - 1
  uint64_t max_trace_steps = 0;       // 2^execution_depth
  double deadline_s = 0;              // 2 x clock extension
  double alternative_deadline_s = 0;  // max clock (whole chess clock)
  double step_extension_s = 0;        // clock extension + oracle challenge period
  double required_steps_per_s = 0;    // max_trace_steps / deadline_s
  std::vector<uint64_t> lengths;      // sorted, unique
  // checkpoint disk extrapolated linearly to each length (fixed checkpoint
  // interval assumed); empty when sample_steps or disk is unknown
  std::vector<double> checkpoint_disk_bytes_est;
  std::vector<ModeResult> modes;
};

// Empty when the parameters describe a game the contract would accept and
// whose trace fits a uint64 step counter; otherwise why not.
std::string validate(const GameParams& game);

// {1e9, 1e10, 1e11, 1e12, 2^depth} (2^42 for mainnet).
std::vector<uint64_t> default_lengths(const GameParams& game);

// Throws std::invalid_argument on invalid parameters or a mode whose rate is
// not positive and finite. Empty `lengths` means default_lengths(game).
Report compute_report(const GameParams& game, const Measurements& meas,
                      std::vector<uint64_t> lengths = {});

// time(L) for one mode, the model above.
double time_for(const Mode& mode, double steps);
// longest trace within `deadline_s`, capped at `max_steps`; 0 if setup and
// proof alone do not fit.
uint64_t longest_within(const Mode& mode, double deadline_s, uint64_t max_steps);

// "NAME=RATE[,prove=SECONDS][,setup=SECONDS]", e.g. "reference=15e6" or
// "reference=15M,prove=30". RATE is steps per second, a number with an optional
// k/M/G suffix. The result has measured = false.
bool parse_compare(const std::string& spec, Mode& out, std::string& err);

}  // namespace cb::window
