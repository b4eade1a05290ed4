// See window.h: the game model and --compare; the renderings are cli/window_report.cpp.
#include "scheduler/window.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <system_error>

namespace cb::window {

namespace {

// The contract rejects MAX_GAME_DEPTH > LibPosition.MAX_POSITION_BITLEN - 1.
constexpr int kMaxPositionBitlen = 126;
// Cannon's step counter is a uint64, so a longer trace cannot be produced.
constexpr int kMaxExecutionDepth = 63;

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end && std::isfinite(out);
}

}  // namespace

// ---- computation ---------------------------------------------------------

std::string validate(const GameParams& g) {
  if (!std::isfinite(g.max_clock_s) || g.max_clock_s <= 0)
    return "max clock must be a positive number of seconds";
  if (!std::isfinite(g.clock_extension_s) || g.clock_extension_s <= 0)
    return "clock extension must be a positive number of seconds";
  if (!std::isfinite(g.oracle_challenge_period_s) || g.oracle_challenge_period_s < 0)
    return "oracle challenge period must be a non-negative number of seconds";
  if (g.max_game_depth > kMaxPositionBitlen - 1)
    return "max game depth " + std::to_string(g.max_game_depth) +
           " exceeds the contract's limit of " + std::to_string(kMaxPositionBitlen - 1);
  if (g.split_depth < 2) return "split depth must be at least 2 (the contract's InvalidSplitDepth)";
  if (g.split_depth + 1 >= g.max_game_depth)
    return "split depth + 1 must be below the max game depth (the contract's InvalidSplitDepth)";
  // Mirrors the constructor's InvalidClockExtension check; without it the
  // doubled extension could exceed the clock and the deadline be meaningless.
  if (2 * g.clock_extension_s > g.max_clock_s)
    return "2 x clock extension must not exceed the max clock (the contract's "
           "InvalidClockExtension)";
  int depth = g.max_game_depth - g.split_depth - 1;
  if (depth > kMaxExecutionDepth)
    return "execution-trace depth " + std::to_string(depth) +
           " exceeds 63: a Cannon trace has a 64-bit step counter";
  return {};
}

std::vector<uint64_t> default_lengths(const GameParams& g) {
  std::vector<uint64_t> v = {1'000'000'000ULL, 10'000'000'000ULL, 100'000'000'000ULL,
                             1'000'000'000'000ULL};
  int depth = g.max_game_depth - g.split_depth - 1;
  if (depth >= 0 && depth <= kMaxExecutionDepth) v.push_back(uint64_t{1} << depth);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

double time_for(const Mode& m, double steps) {
  return m.setup_s + steps / m.steps_per_s + m.prove_s;
}

uint64_t longest_within(const Mode& m, double deadline_s, uint64_t max_steps) {
  double budget = deadline_s - m.setup_s - m.prove_s;
  if (budget <= 0) return 0;
  double n = std::floor(budget * m.steps_per_s);
  if (n >= static_cast<double>(max_steps)) return max_steps;
  return static_cast<uint64_t>(n);
}

Report compute_report(const GameParams& game, const Measurements& meas,
                      std::vector<uint64_t> lengths) {
  if (auto err = validate(game); !err.empty()) throw std::invalid_argument(err);
  std::set<std::string> names;
  for (const auto& m : meas.modes) {
    if (m.name.empty()) throw std::invalid_argument("mode without a name");
    if (!names.insert(m.name).second)
      throw std::invalid_argument("duplicate mode name '" + m.name + "'");
    if (!std::isfinite(m.steps_per_s) || m.steps_per_s <= 0)
      throw std::invalid_argument("mode '" + m.name + "': steps per second must be positive");
    if (!std::isfinite(m.prove_s) || m.prove_s < 0 || !std::isfinite(m.setup_s) || m.setup_s < 0)
      throw std::invalid_argument("mode '" + m.name +
                                  "': prove and setup times must be non-negative");
  }
  if (lengths.empty()) lengths = default_lengths(game);
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  if (lengths.front() == 0) throw std::invalid_argument("trace lengths must be positive");

  Report r;
  r.game = game;
  r.measurements = meas;
  r.execution_depth = game.max_game_depth - game.split_depth - 1;
  r.max_trace_steps = uint64_t{1} << r.execution_depth;
  r.deadline_s = 2 * game.clock_extension_s;
  r.alternative_deadline_s = game.max_clock_s;
  r.step_extension_s = game.clock_extension_s + game.oracle_challenge_period_s;
  r.required_steps_per_s = static_cast<double>(r.max_trace_steps) / r.deadline_s;
  r.lengths = lengths;
  if (meas.sample_steps > 0 && meas.checkpoint_disk_bytes > 0) {
    double per_step =
        static_cast<double>(meas.checkpoint_disk_bytes) / static_cast<double>(meas.sample_steps);
    for (uint64_t l : lengths)
      r.checkpoint_disk_bytes_est.push_back(per_step * static_cast<double>(l));
  }
  for (const auto& m : meas.modes) {
    ModeResult mr;
    mr.mode = m;
    mr.longest_steps = longest_within(m, r.deadline_s, r.max_trace_steps);
    mr.longest_steps_full_clock = longest_within(m, r.alternative_deadline_s, r.max_trace_steps);
    for (uint64_t l : lengths) {
      LengthResult lr;
      lr.steps = l;
      lr.time_s = time_for(m, static_cast<double>(l));
      lr.within_game = l <= r.max_trace_steps;
      // Defined through longest_steps so that the verdict and the longest
      // trace can never disagree by a rounding error at the boundary.
      lr.fits = lr.within_game && l <= mr.longest_steps;
      mr.lengths.push_back(lr);
    }
    r.modes.push_back(std::move(mr));
  }
  return r;
}

// ---- --compare -----------------------------------------------------------

bool parse_compare(const std::string& spec, Mode& out, std::string& err) {
  const std::string usage = " (expected NAME=STEPS_PER_S[,prove=S][,setup=S], e.g. reference=15e6)";
  auto eq = spec.find('=');
  if (eq == std::string::npos) {
    err = "missing '=' in '" + spec + "'" + usage;
    return false;
  }
  std::string name = spec.substr(0, eq);
  if (name.empty()) {
    err = "missing name in '" + spec + "'" + usage;
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' &&
        c != '+') {
      err = "invalid character '" + std::string(1, c) + "' in name '" + name + "'" + usage;
      return false;
    }
  }
  std::vector<std::string> parts;
  {
    std::string rest = spec.substr(eq + 1);
    size_t start = 0;
    while (true) {
      auto comma = rest.find(',', start);
      parts.push_back(
          rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  Mode m;
  m.name = name;
  m.measured = false;
  std::string rate = parts[0];
  double mult = 1;
  if (!rate.empty()) {
    switch (rate.back()) {
      case 'k':
      case 'K':
        mult = 1e3;
        break;
      case 'M':
        mult = 1e6;
        break;
      case 'G':
        mult = 1e9;
        break;
      default:
        break;
    }
    if (mult != 1) rate.pop_back();
  }
  double v;
  if (!parse_number(rate, v)) {
    err = "invalid rate '" + parts[0] + "' for '" + name + "'" + usage;
    return false;
  }
  m.steps_per_s = v * mult;
  if (!(m.steps_per_s > 0) || !std::isfinite(m.steps_per_s)) {
    err = "rate for '" + name + "' must be positive" + usage;
    return false;
  }
  std::set<std::string> seen;
  for (size_t i = 1; i < parts.size(); ++i) {
    auto peq = parts[i].find('=');
    std::string key = parts[i].substr(0, peq);
    if (peq == std::string::npos || (key != "prove" && key != "setup")) {
      err = "unknown option '" + parts[i] + "' for '" + name + "'" + usage;
      return false;
    }
    if (!seen.insert(key).second) {
      err = "'" + key + "' given twice for '" + name + "'";
      return false;
    }
    double s;
    if (!parse_number(parts[i].substr(peq + 1), s) || s < 0) {
      err = "invalid " + key + " seconds '" + parts[i].substr(peq + 1) + "' for '" + name + "'" +
            usage;
      return false;
    }
    (key == "prove" ? m.prove_s : m.setup_s) = s;
  }
  out = m;
  err.clear();
  return true;
}

}  // namespace cb::window
