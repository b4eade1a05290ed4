// Tests of `cannonball window`'s report: the arithmetic against numbers worked
// out by hand (in the comments, never by calling the code under test), the
// JSON schema, --compare parsing, and the plot as rendered by rsvg-convert.
#include "scheduler/window.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/window_report.h"

namespace cb::window {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTwo42 = 4'398'046'511'104ULL;  // 2^42

Measurements one_mode(double rate, double prove = 0, double setup = 0,
                      const std::string& name = "m") {
  Measurements m;
  m.guest = "test-guest";
  m.modes.push_back(Mode{name, rate, prove, setup, true});
  return m;
}

// ---- game parameters -----------------------------------------------------

TEST(WindowGame, MainnetDefaults) {
  Report r = compute_report(GameParams{}, one_mode(1e8));
  // 73 - 30 - 1 = 42
  EXPECT_EQ(r.execution_depth, 42);
  EXPECT_EQ(r.max_trace_steps, kTwo42);
  // 2 x 10,800 s = 21,600 s = 6 h
  EXPECT_DOUBLE_EQ(r.deadline_s, 21600.0);
  // whole chess clock: 3.5 d = 302,400 s
  EXPECT_DOUBLE_EQ(r.alternative_deadline_s, 302400.0);
  // clock extension + oracle challenge period: 10,800 + 86,400 = 97,200 s
  EXPECT_DOUBLE_EQ(r.step_extension_s, 97200.0);
  // 4,398,046,511,104 / 21,600 = 203,613,264.40...
  EXPECT_NEAR(r.required_steps_per_s, 203613264.4, 0.1);
  // 1e9, 1e10, 1e11, 1e12 and 2^42
  std::vector<uint64_t> want = {1'000'000'000ULL, 10'000'000'000ULL, 100'000'000'000ULL,
                                1'000'000'000'000ULL, kTwo42};
  EXPECT_EQ(r.lengths, want);
}

TEST(WindowGame, RateOneHundredMillion) {
  Report r = compute_report(GameParams{}, one_mode(1e8));
  ASSERT_EQ(r.modes.size(), 1u);
  const auto& m = r.modes[0];
  // 21,600 s x 1e8 steps/s = 2.16e12 steps, below 2^42 = 4.398e12: not capped.
  EXPECT_EQ(m.longest_steps, 2'160'000'000'000ULL);
  // 302,400 s x 1e8 = 3.024e13 > 2^42: capped at 2^42.
  EXPECT_EQ(m.longest_steps_full_clock, kTwo42);
  ASSERT_EQ(m.lengths.size(), 5u);
  // L / 1e8: 10 s, 100 s, 1,000 s, 10,000 s, 43,980.46511104 s
  EXPECT_DOUBLE_EQ(m.lengths[0].time_s, 10.0);
  EXPECT_DOUBLE_EQ(m.lengths[1].time_s, 100.0);
  EXPECT_DOUBLE_EQ(m.lengths[2].time_s, 1000.0);
  EXPECT_DOUBLE_EQ(m.lengths[3].time_s, 10000.0);
  EXPECT_NEAR(m.lengths[4].time_s, 43980.46511104, 1e-6);
  // 10,000 s <= 21,600 s fits; 43,980 s does not.
  EXPECT_TRUE(m.lengths[3].fits);
  EXPECT_FALSE(m.lengths[4].fits);
  EXPECT_TRUE(m.lengths[4].within_game);
}

TEST(WindowGame, ProveAndSetupTimeComeOutOfTheDeadline) {
  // rate 1e8, prove 500 s, setup 100 s: budget 21,600 - 600 = 21,000 s
  // -> 21,000 x 1e8 = 2.1e12 steps; time(1e12) = 100 + 10,000 + 500 = 10,600 s.
  Report r = compute_report(GameParams{}, one_mode(1e8, 500, 100));
  EXPECT_EQ(r.modes[0].longest_steps, 2'100'000'000'000ULL);
  EXPECT_DOUBLE_EQ(r.modes[0].lengths[3].time_s, 10600.0);
}

TEST(WindowGame, FastModeIsCappedAtTheGameMaximum) {
  // 21,600 x 3e8 = 6.48e12 > 2^42 -> capped at 2^42;
  // time(2^42) = 4,398,046,511,104 / 3e8 = 14,660.155... s < 21,600: fits.
  Report r = compute_report(GameParams{}, one_mode(3e8));
  EXPECT_EQ(r.modes[0].longest_steps, kTwo42);
  EXPECT_NEAR(r.modes[0].lengths[4].time_s, 14660.155, 1e-3);
  EXPECT_TRUE(r.modes[0].lengths[4].fits);
}

TEST(WindowGame, FloorOfASmallRate) {
  // rate 3 steps/s, setup 0.5 s: (21,600 - 0.5) x 3 = 64,798.5 -> 64,798 steps.
  Report r = compute_report(GameParams{}, one_mode(3, 0, 0.5));
  EXPECT_EQ(r.modes[0].longest_steps, 64'798u);
}

TEST(WindowGame, ExactlyAtTheDeadlineFits) {
  // 2.16e12 / 1e8 = 21,600 s, exactly the deadline: fits (<=).
  Report r =
      compute_report(GameParams{}, one_mode(1e8), {2'160'000'000'000ULL, 2'160'000'000'001ULL});
  EXPECT_DOUBLE_EQ(r.modes[0].lengths[0].time_s, 21600.0);
  EXPECT_TRUE(r.modes[0].lengths[0].fits);
  EXPECT_FALSE(r.modes[0].lengths[1].fits);
}

TEST(WindowGame, ProofAloneFillingTheDeadlineLeavesNoTrace) {
  // prove 21,600 s leaves a budget of 0 -> longest 0; nothing fits.
  Report r = compute_report(GameParams{}, one_mode(1e9, 21600));
  EXPECT_EQ(r.modes[0].longest_steps, 0u);
  for (const auto& l : r.modes[0].lengths) EXPECT_FALSE(l.fits);
  // the full clock still leaves 302,400 - 21,600 = 280,800 s x 1e9 > 2^42
  EXPECT_EQ(r.modes[0].longest_steps_full_clock, kTwo42);
}

TEST(WindowGame, OverriddenClockExtension) {
  GameParams g;
  g.clock_extension_s = 3600;
  // deadline 2 x 3,600 = 7,200 s; at 1e8 steps/s the longest trace is 7.2e11;
  // 1e12 takes 10,000 s > 7,200 s.
  Report r = compute_report(g, one_mode(1e8));
  EXPECT_DOUBLE_EQ(r.deadline_s, 7200.0);
  EXPECT_DOUBLE_EQ(r.step_extension_s, 3600.0 + 86400.0);
  EXPECT_EQ(r.modes[0].longest_steps, 720'000'000'000ULL);
  EXPECT_TRUE(r.modes[0].lengths[2].fits);   // 1e11: 1,000 s
  EXPECT_FALSE(r.modes[0].lengths[3].fits);  // 1e12: 10,000 s
}

TEST(WindowGame, OverriddenMaxClock) {
  GameParams g;
  g.max_clock_s = 100000;
  // deadline unchanged (2 x 10,800); full clock 100,000 s x 1e7 = 1e12 steps.
  Report r = compute_report(g, one_mode(1e7));
  EXPECT_DOUBLE_EQ(r.deadline_s, 21600.0);
  EXPECT_DOUBLE_EQ(r.alternative_deadline_s, 100000.0);
  EXPECT_EQ(r.modes[0].longest_steps, 216'000'000'000ULL);  // 21,600 x 1e7
  EXPECT_EQ(r.modes[0].longest_steps_full_clock, 1'000'000'000'000ULL);
}

TEST(WindowGame, OverriddenSplitDepthTwenty) {
  GameParams g;
  g.split_depth = 20;
  // 73 - 20 - 1 = 52 -> 2^52 = 4,503,599,627,370,496 steps
  Report r = compute_report(g, one_mode(1e8));
  EXPECT_EQ(r.execution_depth, 52);
  EXPECT_EQ(r.max_trace_steps, 4'503'599'627'370'496ULL);
  EXPECT_EQ(r.lengths.back(), 4'503'599'627'370'496ULL);
  // still 2.16e12 at 1e8 steps/s, now far from the cap
  EXPECT_EQ(r.modes[0].longest_steps, 2'160'000'000'000ULL);
  // 2^52 / 1e8 = 45,035,996.27370496 s
  EXPECT_NEAR(r.modes[0].lengths.back().time_s, 45035996.27370496, 1e-6);
}

TEST(WindowGame, OverriddenDepthsMakeLengthsExceedTheGame) {
  GameParams g;
  g.split_depth = 50;
  g.max_game_depth = 73;
  // 73 - 50 - 1 = 22 -> 2^22 = 4,194,304 steps; 1e9 is beyond the game.
  Report r = compute_report(g, one_mode(1e6, 1, 1));
  EXPECT_EQ(r.execution_depth, 22);
  EXPECT_EQ(r.max_trace_steps, 4'194'304u);
  // (21,600 - 2) x 1e6 = 2.1598e10 > 2^22 -> capped
  EXPECT_EQ(r.modes[0].longest_steps, 4'194'304u);
  // lengths sorted: 2^22, 1e9, ...
  ASSERT_EQ(r.lengths.front(), 4'194'304u);
  EXPECT_TRUE(r.modes[0].lengths[0].fits);
  EXPECT_FALSE(r.modes[0].lengths[1].within_game);
  EXPECT_FALSE(r.modes[0].lengths[1].fits);
  // time(1e9) = 1 + 1,000 + 1 = 1,002 s: within the deadline, but the game
  // cannot ask for it.
  EXPECT_DOUBLE_EQ(r.modes[0].lengths[1].time_s, 1002.0);
}

TEST(WindowGame, CustomLengthsAreSortedAndDeduplicated) {
  Report r = compute_report(GameParams{}, one_mode(1e8), {500, 100, 500});
  std::vector<uint64_t> want = {100, 500};
  EXPECT_EQ(r.lengths, want);
  // 100 / 1e8 = 1e-6 s
  EXPECT_DOUBLE_EQ(r.modes[0].lengths[0].time_s, 1e-6);
}

TEST(WindowGame, CheckpointDiskExtrapolation) {
  Measurements m = one_mode(1e8);
  m.sample_steps = 100'000'000;
  m.checkpoint_disk_bytes = 1'000'000'000;  // 10 bytes per step
  Report r = compute_report(GameParams{}, m);
  ASSERT_EQ(r.checkpoint_disk_bytes_est.size(), 5u);
  EXPECT_DOUBLE_EQ(r.checkpoint_disk_bytes_est[0], 1e10);              // 1e9 x 10
  EXPECT_DOUBLE_EQ(r.checkpoint_disk_bytes_est[4], 43980465111040.0);  // 2^42 x 10
  m.checkpoint_disk_bytes = 0;
  EXPECT_TRUE(compute_report(GameParams{}, m).checkpoint_disk_bytes_est.empty());
}

TEST(WindowGame, SeveralModesKeepTheirOrder) {
  Measurements m = one_mode(4e7, 3, 0, "interp");
  m.modes.push_back(Mode{"jit", 3e8, 2, 1, true});
  m.modes.push_back(Mode{"reference", 1.5e7, 0, 0, false});
  Report r = compute_report(GameParams{}, m);
  ASSERT_EQ(r.modes.size(), 3u);
  EXPECT_EQ(r.modes[0].mode.name, "interp");
  EXPECT_EQ(r.modes[2].mode.name, "reference");
  // (21,600 - 3) x 4e7 = 8.6388e11
  EXPECT_EQ(r.modes[0].longest_steps, 863'880'000'000ULL);
  // (21,600 - 3) x 3e8 = 6.4791e12 > 2^42
  EXPECT_EQ(r.modes[1].longest_steps, kTwo42);
  // 21,600 x 1.5e7 = 3.24e11
  EXPECT_EQ(r.modes[2].longest_steps, 324'000'000'000ULL);
}

TEST(WindowGame, InvalidParametersAreRejected) {
  GameParams g;
  EXPECT_EQ(validate(g), "");
  g.split_depth = 1;
  EXPECT_NE(validate(g), "");  // the contract needs split depth >= 2
  g = GameParams{};
  g.split_depth = 72;
  EXPECT_NE(validate(g), "");  // split depth + 1 >= max game depth
  g = GameParams{};
  g.split_depth = 71;
  EXPECT_EQ(validate(g), "");  // 73 - 71 - 1 = 1: a one-level sub-game is allowed
  g = GameParams{};
  g.clock_extension_s = 160000;
  EXPECT_NE(validate(g), "");  // 2 x 160,000 > 302,400
  g = GameParams{};
  g.split_depth = 2;
  g.max_game_depth = 70;
  EXPECT_NE(validate(g), "");  // 70 - 2 - 1 = 67 > 63 (uint64 step counter)
  g.max_game_depth = 66;
  EXPECT_EQ(validate(g), "");  // 66 - 2 - 1 = 63
  g = GameParams{};
  g.max_game_depth = 126;
  EXPECT_NE(validate(g), "");  // beyond LibPosition's MAX_POSITION_BITLEN - 1
  g = GameParams{};
  g.max_clock_s = 0;
  EXPECT_NE(validate(g), "");

  g = GameParams{};
  g.split_depth = 1;
  EXPECT_THROW(compute_report(g, one_mode(1e8)), std::invalid_argument);
  EXPECT_THROW(compute_report(GameParams{}, one_mode(0)), std::invalid_argument);
  EXPECT_THROW(compute_report(GameParams{}, one_mode(-1)), std::invalid_argument);
  EXPECT_THROW(compute_report(GameParams{}, one_mode(1e8, -1)), std::invalid_argument);
  EXPECT_THROW(compute_report(GameParams{}, one_mode(1e8), {0, 5}), std::invalid_argument);
  Measurements dup = one_mode(1e8);
  dup.modes.push_back(dup.modes[0]);
  EXPECT_THROW(compute_report(GameParams{}, dup), std::invalid_argument);
}

// ---- JSON ----------------------------------------------------------------

TEST(WindowJson, SchemaKeysAndTypes) {
  Measurements m = one_mode(1e8, 2.5, 0.5, "jit");
  m.modes.push_back(Mode{"reference", 1.5e7, 0, 0, false});
  m.sample_steps = 1000;
  m.peak_rss_bytes = 123456;
  m.checkpoint_disk_bytes = 789;
  m.checkpoint_overhead_pct = 2.5;
  nlohmann::json j = to_json(compute_report(GameParams{}, m));

  EXPECT_EQ(j.at("schema"), "cannonball.window.v1");
  EXPECT_TRUE(j.at("guest").is_string());

  const auto& g = j.at("game");
  for (const char* k :
       {"max_clock_s", "clock_extension_s", "oracle_challenge_period_s", "deadline_s",
        "alternative_deadline_s", "step_extension_s", "required_steps_per_s"})
    EXPECT_TRUE(g.at(k).is_number()) << k;
  for (const char* k : {"split_depth", "max_game_depth", "execution_depth", "max_trace_steps"})
    EXPECT_TRUE(g.at(k).is_number_integer()) << k;
  EXPECT_TRUE(g.at("deadline_basis").is_string());
  EXPECT_TRUE(g.at("alternative_deadline_basis").is_string());
  EXPECT_EQ(g.at("max_trace_steps").get<uint64_t>(), kTwo42);
  EXPECT_EQ(g.at("execution_depth").get<int>(), 42);
  EXPECT_DOUBLE_EQ(g.at("deadline_s").get<double>(), 21600.0);

  const auto& ms = j.at("measurements");
  for (const char* k : {"sample_steps", "peak_rss_bytes", "checkpoint_disk_bytes"})
    EXPECT_TRUE(ms.at(k).is_number_integer()) << k;
  EXPECT_TRUE(ms.at("checkpoint_overhead_pct").is_number());
  EXPECT_EQ(ms.at("peak_rss_bytes").get<uint64_t>(), 123456u);

  ASSERT_TRUE(j.at("lengths").is_array());
  ASSERT_EQ(j.at("lengths").size(), 5u);
  for (const auto& l : j.at("lengths")) EXPECT_TRUE(l.is_number_unsigned());
  ASSERT_TRUE(j.at("checkpoint_disk_bytes_est").is_array());
  EXPECT_EQ(j.at("checkpoint_disk_bytes_est").size(), 5u);

  ASSERT_TRUE(j.at("modes").is_array());
  ASSERT_EQ(j.at("modes").size(), 2u);
  for (const auto& mode : j.at("modes")) {
    EXPECT_TRUE(mode.at("name").is_string());
    EXPECT_TRUE(mode.at("measured").is_boolean());
    for (const char* k : {"steps_per_s", "setup_s", "prove_s", "longest_fraction_of_max"})
      EXPECT_TRUE(mode.at(k).is_number()) << k;
    EXPECT_TRUE(mode.at("longest_steps").is_number_unsigned());
    EXPECT_TRUE(mode.at("longest_steps_full_clock").is_number_unsigned());
    ASSERT_TRUE(mode.at("times").is_array());
    ASSERT_EQ(mode.at("times").size(), 5u);
    for (const auto& t : mode.at("times")) {
      EXPECT_TRUE(t.at("steps").is_number_unsigned());
      EXPECT_TRUE(t.at("time_s").is_number());
      EXPECT_TRUE(t.at("fits").is_boolean());
      EXPECT_TRUE(t.at("within_game").is_boolean());
    }
  }
  const auto& jit = j.at("modes")[0];
  EXPECT_EQ(jit.at("name"), "jit");
  EXPECT_TRUE(jit.at("measured").get<bool>());
  // (21,600 - 3) x 1e8 = 2.1597e12; fraction 2.1597e12 / 2^42 = 0.49106...
  EXPECT_EQ(jit.at("longest_steps").get<uint64_t>(), 2'159'700'000'000ULL);
  EXPECT_NEAR(jit.at("longest_fraction_of_max").get<double>(), 0.49106, 1e-5);
  EXPECT_FALSE(j.at("modes")[1].at("measured").get<bool>());
  // the JSON survives a round trip through text
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

// ---- --compare -----------------------------------------------------------

TEST(WindowCompare, Accepts) {
  Mode m;
  std::string err;
  ASSERT_TRUE(parse_compare("reference=15e6", m, err)) << err;
  EXPECT_EQ(m.name, "reference");
  EXPECT_DOUBLE_EQ(m.steps_per_s, 15e6);
  EXPECT_FALSE(m.measured);
  EXPECT_DOUBLE_EQ(m.prove_s, 0);
  ASSERT_TRUE(parse_compare("ref-2=15M", m, err)) << err;
  EXPECT_DOUBLE_EQ(m.steps_per_s, 15e6);
  ASSERT_TRUE(parse_compare("x=2.5k", m, err)) << err;
  EXPECT_DOUBLE_EQ(m.steps_per_s, 2500);
  ASSERT_TRUE(parse_compare("go.cannon=1G,prove=30,setup=2", m, err)) << err;
  EXPECT_EQ(m.name, "go.cannon");
  EXPECT_DOUBLE_EQ(m.steps_per_s, 1e9);
  EXPECT_DOUBLE_EQ(m.prove_s, 30);
  EXPECT_DOUBLE_EQ(m.setup_s, 2);
}

TEST(WindowCompare, Rejects) {
  for (const char* spec : {"reference", "=15e6", "ref=", "ref=abc", "ref=-5", "ref=0", "ref=inf",
                           "ref=nan", "ref=15e6x", "ref= 15e6", "ref=1e6,foo=1", "ref=1e6,prove=-1",
                           "ref=1e6,prove=", "ref=1e6,prove", "bad name=1e6",
                           "ref=1e6,prove=1,prove=2", "ref=1e400"}) {
    Mode m;
    m.name = "untouched";
    std::string err;
    EXPECT_FALSE(parse_compare(spec, m, err)) << spec;
    EXPECT_FALSE(err.empty()) << spec;
    EXPECT_EQ(m.name, "untouched") << spec;
  }
}

// ---- table ---------------------------------------------------------------

TEST(WindowTable, ShowsTheNumbers) {
  Measurements m = one_mode(1e8, 0, 0, "interp");
  m.modes.push_back(Mode{"reference", 1.5e7, 0, 0, false});
  std::string t = render_table(compute_report(GameParams{}, m));
  EXPECT_NE(t.find("73 - 30 - 1 = 42"), std::string::npos) << t;
  EXPECT_NE(t.find("21600 s (6 h)"), std::string::npos) << t;
  EXPECT_NE(t.find("whole chess clock"), std::string::npos) << t;
  EXPECT_NE(t.find("2.16e12"), std::string::npos) << t;  // interp's longest
  EXPECT_NE(t.find("3.24e11"), std::string::npos) << t;  // 21,600 x 1.5e7
  EXPECT_NE(t.find("reference (supplied)"), std::string::npos) << t;
  EXPECT_NE(t.find("2^42"), std::string::npos) << t;
  EXPECT_NE(t.find("2.78 h"), std::string::npos) << t;  // 1e12 / 1e8 = 10,000 s
  EXPECT_NE(t.find("* exceeds the 6 h deadline"), std::string::npos) << t;
}

// ---- plot ----------------------------------------------------------------

// The project's CMake passes CB_SOURCE_DIR; a standalone build falls back to
// this file's location.
fs::path source_dir() {
#ifdef CB_SOURCE_DIR
  return CB_SOURCE_DIR;
#else
  return fs::path(__FILE__).parent_path().parent_path();
#endif
}

bool on_path(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

Report example_report() {
  Measurements m;
  m.guest = "op-program <test & check>";
  m.sample_steps = 200'000'000;
  m.modes = {{"interp", 4.2e7, 3.1, 0.2, true},
             {"jit", 3.1e8, 2.2, 1.5, true},
             {"jit+checkpoints", 2.95e8, 2.2, 1.5, true},
             {"reference", 1.5e7, 0, 0, false}};
  return compute_report(GameParams{}, m);
}

TEST(WindowPlot, SvgHasAxesLegendAndDeadline) {
  std::string svg = render_svg(example_report());
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("id=\"x-axis\""), std::string::npos);
  EXPECT_NE(svg.find("id=\"y-axis\""), std::string::npos);
  EXPECT_NE(svg.find(">trace length (steps)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">time to run the trace + prove one step</text>"), std::string::npos);
  EXPECT_NE(svg.find("id=\"legend\""), std::string::npos);
  for (const char* entry :
       {">interp: 4.2e7 steps/s", ">jit: 3.1e8 steps/s", ">jit+checkpoints: 2.95e8 steps/s",
        ">reference (supplied): 1.5e7 steps/s"})
    EXPECT_NE(svg.find(entry), std::string::npos) << entry;
  EXPECT_NE(svg.find("id=\"deadline\""), std::string::npos);
  EXPECT_NE(svg.find(">deadline 6 h (split-depth clock extension)</text>"), std::string::npos);
  EXPECT_NE(svg.find("id=\"max-trace\""), std::string::npos);
  // tick labels on both axes
  EXPECT_NE(svg.find(">10<tspan dy=\"-7\" font-size=\"10\">12</tspan>"), std::string::npos);
  EXPECT_NE(svg.find(">1 h</text>"), std::string::npos);
  // one line per mode
  size_t lines = 0;
  for (size_t p = 0; (p = svg.find("class=\"mode-line\"", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 4u);
  // the guest name is escaped, not markup
  EXPECT_NE(svg.find("op-program &lt;test &amp; check&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<test & check>"), std::string::npos);
}

TEST(WindowPlot, OverriddenDeadlineIsLabelled) {
  GameParams g;
  g.clock_extension_s = 3600;
  std::string svg = render_svg(compute_report(g, one_mode(1e8)));
  // 2 x 3,600 s = 2 h
  EXPECT_NE(svg.find(">deadline 2 h (split-depth clock extension)</text>"), std::string::npos);
}

TEST(WindowPlot, RendersToANonBlankPng) {
  if (!on_path("rsvg-convert") || !on_path("python3"))
    GTEST_SKIP() << "rsvg-convert or python3 not on PATH: the rendered plot is not checked "
                    "(install librsvg2-bin)";
  fs::path script = source_dir() / "scripts" / "check_plot.sh";
  ASSERT_TRUE(fs::exists(script)) << script;
  fs::path dir = fs::temp_directory_path() / ("cb_window_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path svg = dir / "window.svg", png = dir / "window.png";
  {
    std::ofstream f(svg);
    f << render_svg(example_report());
  }
  std::string cmd = "bash '" + script.string() + "' '" + svg.string() + "' '" + png.string() + "'";
  int rc = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;

  // and the same through write_plot's PNG path
  fs::path png2 = dir / "via_write_plot.png";
  std::string err;
  ASSERT_TRUE(write_plot(example_report(), png2.string(), err)) << err;
  std::ifstream f(png2, std::ios::binary);
  char magic[8] = {};
  f.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_FALSE(fs::exists(png2.string() + ".tmp.svg"));
  fs::remove_all(dir);
}

TEST(WindowPlot, WritePlotRejectsUnknownExtensions) {
  std::string err;
  EXPECT_FALSE(write_plot(example_report(), "/tmp/plot.jpg", err));
  EXPECT_FALSE(err.empty());
}

TEST(WindowPlot, FailingCheckOnABlankImage) {
  if (!on_path("rsvg-convert") || !on_path("python3"))
    GTEST_SKIP() << "rsvg-convert or python3 not on PATH";
  fs::path script = source_dir() / "scripts" / "check_plot.sh";
  fs::path svg =
      fs::temp_directory_path() / ("cb_window_blank_" + std::to_string(::getpid()) + ".svg");
  {
    std::ofstream f(svg);
    f << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"640\">"
         "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/></svg>";
  }
  std::string cmd = "bash '" + script.string() + "' '" + svg.string() + "' 2>/dev/null";
  int rc = std::system(cmd.c_str());
  EXPECT_FALSE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << "the checker passed a blank image";
  fs::remove(svg);
}

}  // namespace
}  // namespace cb::window
