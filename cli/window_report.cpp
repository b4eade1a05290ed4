// See window_report.h: the window report as a table, JSON and an SVG/PNG plot.
#include "cli/window_report.h"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "host/human_format.h"

extern char** environ;

namespace cb::window {

namespace {

std::string human_bytes(double b) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int i = 0;
  while (b >= 1024 && i < 6) {
    b /= 1024;
    ++i;
  }
  int dec = i == 0 ? 0 : b >= 100 ? 0 : b >= 10 ? 1 : 2;
  return trimmed(b, dec) + " " + units[i];
}

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
int log2_exact(uint64_t v) {
  int n = 0;
  while (v > 1) {
    v >>= 1;
    ++n;
  }
  return n;
}

bool is_pow10(uint64_t v, int& exp) {
  exp = 0;
  if (v == 0) return false;
  while (v % 10 == 0) {
    v /= 10;
    ++exp;
  }
  return v == 1;
}

// Trace lengths are named as people say them: 1e9, 2^42.
std::string length_name(uint64_t v) {
  int e;
  if (is_pow10(v, e)) return e == 0 ? "1" : "1e" + std::to_string(e);
  if (is_pow2(v) && v >= 1024) return "2^" + std::to_string(log2_exact(v));
  return sci(static_cast<double>(v), 3);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (std::tolower(static_cast<unsigned char>(a)) != suffix[i]) return false;
  }
  return true;
}

}  // namespace

// ---- table ---------------------------------------------------------------

std::string render_table(const Report& r) {
  const auto& g = r.game;
  const auto& m = r.measurements;
  std::string pow = "2^" + std::to_string(r.execution_depth);
  std::string dl = human_duration(r.deadline_s);
  std::ostringstream o;
  o << "cannonball window: guest " << (m.guest.empty() ? "(unnamed)" : m.guest);
  if (m.sample_steps)
    o << ", measured on a sample of " << group_thousands(m.sample_steps) << " steps";
  o << "\n\n";
  o << "game       max clock " << trimmed(g.max_clock_s, 3) << " s ("
    << human_duration(g.max_clock_s) << "), clock extension " << trimmed(g.clock_extension_s, 3)
    << " s (" << human_duration(g.clock_extension_s) << "), split depth " << g.split_depth
    << ", max game depth " << g.max_game_depth << "\n";
  o << "trace      execution-trace depth " << g.max_game_depth << " - " << g.split_depth
    << " - 1 = " << r.execution_depth << ": at most " << pow << " = "
    << sci(static_cast<double>(r.max_trace_steps)) << " steps\n";
  o << "deadline   " << trimmed(r.deadline_s, 3) << " s (" << dl
    << ") = 2 x clock extension: the extension the game grants at the split depth\n"
    << "           so the challenger can generate the initial execution trace. The trace and\n"
    << "           the proof of the disputed step (from the nearest checkpoint) must both fit.\n"
    << "           Alternative, not used for verdicts: the whole chess clock, "
    << trimmed(r.alternative_deadline_s, 3) << " s (" << human_duration(r.alternative_deadline_s)
    << "),\n"
    << "           available only if the opponent has not run it down (column \"in full clock\").\n"
    << "           A full " << pow << "-step trace needs " << sci(r.required_steps_per_s)
    << " steps/s.\n";
  o << "step       the move to the last level grants clock extension + oracle challenge period = "
    << trimmed(r.step_extension_s, 3) << " s (" << human_duration(r.step_extension_s) << ")\n";
  o << "resources  peak RSS "
    << (m.peak_rss_bytes ? human_bytes(static_cast<double>(m.peak_rss_bytes)) : "n/a")
    << ", checkpoint disk "
    << (m.checkpoint_disk_bytes
            ? human_bytes(static_cast<double>(m.checkpoint_disk_bytes)) + " for the sample"
            : std::string("n/a"))
    << ", checkpoint overhead " << trimmed(m.checkpoint_overhead_pct, 1) << " %\n";
  o << "model      time(L) = setup + L / (steps/s) + prove\n\n";

  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"mode", "steps/s", "setup+prove", "longest in " + dl,
                                   "in full clock"};
  for (uint64_t l : r.lengths) head.push_back(length_name(l));
  rows.push_back(head);
  bool any_late = false, any_outside = false;
  for (const auto& mr : r.modes) {
    std::vector<std::string> row;
    row.push_back(mr.mode.name + (mr.mode.measured ? "" : " (supplied)"));
    row.push_back(sci(mr.mode.steps_per_s));
    row.push_back(human_duration(mr.mode.setup_s + mr.mode.prove_s));
    auto longest = [&](uint64_t v) {
      if (v == r.max_trace_steps) return pow + " (all)";
      double pct = 100.0 * static_cast<double>(v) / static_cast<double>(r.max_trace_steps);
      return sci(static_cast<double>(v)) + " (" +
             (pct >= 1 ? trimmed(pct, pct >= 10 ? 1 : 2) : sci(pct, 2)) + "%)";
    };
    row.push_back(longest(mr.longest_steps));
    row.push_back(longest(mr.longest_steps_full_clock));
    for (const auto& lr : mr.lengths) {
      std::string cell = human_duration(lr.time_s);
      if (!lr.within_game) {
        cell += " -";
        any_outside = true;
      } else if (!lr.fits) {
        cell += " *";
        any_late = true;
      } else
        cell += "  ";
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  if (!r.checkpoint_disk_bytes_est.empty()) {
    std::vector<std::string> row = {"checkpoint disk (est.)", "", "", "", ""};
    for (double b : r.checkpoint_disk_bytes_est) row.push_back(human_bytes(b) + "  ");
    rows.push_back(row);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& row = rows[ri];
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // Time cells end in a two-character verdict mark; header cells of
      // those columns get the same tail so the numbers line up under them.
      std::string cell = row[i] + (ri == 0 && i >= 5 ? "  " : "");
      size_t w = std::max(width[i], cell.size());
      std::string pad(w - cell.size(), ' ');
      if (i == 0)
        line += cell + pad;
      else
        line += "  " + pad + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    o << line << "\n";
  }
  if (any_late || any_outside) o << "\n";
  if (any_late) o << "* exceeds the " << dl << " deadline\n";
  if (any_outside) o << "- longer than the game allows (" << pow << " steps)\n";
  if (!r.checkpoint_disk_bytes_est.empty())
    o << (any_late || any_outside ? "" : "\n")
      << "checkpoint disk (est.): the sample's checkpoint disk scaled linearly to each length\n";
  return o.str();
}

// ---- JSON ----------------------------------------------------------------

nlohmann::json to_json(const Report& r) {
  using nlohmann::json;
  json j;
  j["schema"] = "cannonball.window.v1";
  j["guest"] = r.measurements.guest;
  j["game"] = {
      {"max_clock_s", r.game.max_clock_s},
      {"clock_extension_s", r.game.clock_extension_s},
      {"split_depth", r.game.split_depth},
      {"max_game_depth", r.game.max_game_depth},
      {"oracle_challenge_period_s", r.game.oracle_challenge_period_s},
      {"execution_depth", r.execution_depth},
      {"max_trace_steps", r.max_trace_steps},
      {"deadline_s", r.deadline_s},
      {"deadline_basis", "2 x clock_extension_s (split-depth clock extension)"},
      {"alternative_deadline_s", r.alternative_deadline_s},
      {"alternative_deadline_basis", "max_clock_s (whole chess clock; not used for fits)"},
      {"step_extension_s", r.step_extension_s},
      {"required_steps_per_s", r.required_steps_per_s},
  };
  j["measurements"] = {
      {"sample_steps", r.measurements.sample_steps},
      {"checkpoint_overhead_pct", r.measurements.checkpoint_overhead_pct},
      {"peak_rss_bytes", r.measurements.peak_rss_bytes},
      {"checkpoint_disk_bytes", r.measurements.checkpoint_disk_bytes},
  };
  j["lengths"] = r.lengths;
  j["checkpoint_disk_bytes_est"] = r.checkpoint_disk_bytes_est;
  json modes = json::array();
  for (const auto& mr : r.modes) {
    json times = json::array();
    for (const auto& lr : mr.lengths)
      times.push_back({{"steps", lr.steps},
                       {"time_s", lr.time_s},
                       {"fits", lr.fits},
                       {"within_game", lr.within_game}});
    modes.push_back({
        {"name", mr.mode.name},
        {"measured", mr.mode.measured},
        {"steps_per_s", mr.mode.steps_per_s},
        {"setup_s", mr.mode.setup_s},
        {"prove_s", mr.mode.prove_s},
        {"longest_steps", mr.longest_steps},
        {"longest_fraction_of_max",
         static_cast<double>(mr.longest_steps) / static_cast<double>(r.max_trace_steps)},
        {"longest_steps_full_clock", mr.longest_steps_full_clock},
        {"times", times},
    });
  }
  j["modes"] = modes;
  return j;
}

// ---- SVG -----------------------------------------------------------------

namespace {

struct Tick {
  double v;
  std::string label;
};

// Time ticks in units an operator reads at a glance rather than bare powers of
// ten of seconds; roughly one per decade so the log axis stays even.
std::vector<Tick> time_ticks() {
  std::vector<Tick> t = {
      {1e-3, "1 ms"},     {1e-2, "10 ms"},      {0.1, "100 ms"},  {1, "1 s"},
      {10, "10 s"},       {60, "1 min"},        {600, "10 min"},  {3600, "1 h"},
      {36000, "10 h"},    {86400, "1 d"},       {864000, "10 d"}, {8640000, "100 d"},
      {31557600, "1 yr"}, {315576000, "10 yr"},
  };
  for (int e = 2; e <= 12; ++e)
    t.push_back({31557600 * std::pow(10.0, e), "1e" + std::to_string(e) + " yr"});
  return t;
}

const char* const kPalette[] = {"#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f"};
constexpr const char* kDeadlineColor = "#d62728";
constexpr const char* kAxisColor = "#222222";
constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

std::string f1(double v) { return trimmed(v, 1); }

}  // namespace

std::string render_svg(const Report& r) {
  const double W = 960;
  const double X0 = 100, X1 = 920, Y0 = 78, Y1 = 548;  // plot area
  const double kLegendRow = 20;

  std::string pow = "2^" + std::to_string(r.execution_depth);
  // 2 with a raised exponent; what follows must share the tspan that drops
  // the baseline again, so callers pass it in.
  auto pow_svg = [&](const std::string& after) {
    return "2<tspan dy=\"-6\" font-size=\"9\">" + std::to_string(r.execution_depth) +
           "</tspan><tspan dy=\"6\">" + after + "</tspan>";
  };
  std::string dl = human_duration(r.deadline_s);

  // Legend entries first: their number sets the image height.
  std::vector<std::string> legend;
  size_t legend_chars = 0;
  for (const auto& mr : r.modes) {
    std::string l = xml_escape(mr.mode.name) + (mr.mode.measured ? "" : " (supplied)") + ": " +
                    sci(mr.mode.steps_per_s) + " steps/s, longest in " + dl + ": ";
    size_t chars = l.size();
    if (mr.longest_steps == r.max_trace_steps) {
      l += pow_svg(" (all)");
      chars += pow.size() + 6;
    } else {
      std::string n = sci(static_cast<double>(mr.longest_steps));
      l += n;
      chars += n.size();
    }
    legend.push_back(l);
    legend_chars = std::max(legend_chars, chars);
  }
  legend.push_back("longest trace within the deadline");
  // Two columns when the longest entry fits in half the width (about 7 px
  // per character at 13 px DejaVu Sans).
  int legend_cols = 50 + 7.2 * static_cast<double>(legend_chars) <= (X1 - X0) / 2 ? 2 : 1;
  size_t legend_rows =
      (legend.size() + static_cast<size_t>(legend_cols) - 1) / static_cast<size_t>(legend_cols);
  const double legend_h = 8 + kLegendRow * static_cast<double>(legend_rows);
  const double H = Y1 + 70 + legend_h + 14;

  // x: one decade of room left of the shortest length, right edge at the
  // decade above the longer of the game's maximum and the longest length.
  double min_len = static_cast<double>(r.lengths.front());
  double max_len =
      std::max(static_cast<double>(r.lengths.back()), static_cast<double>(r.max_trace_steps));
  int xe0 = static_cast<int>(std::floor(std::log10(min_len) - 0.5));
  int xe1 = static_cast<int>(std::ceil(std::log10(max_len) + 0.05));
  if (xe1 <= xe0) xe1 = xe0 + 1;
  double lx0 = xe0, lx1 = xe1;
  double xlo = std::pow(10.0, lx0), xhi = std::pow(10.0, lx1);

  // y: everything drawn, snapped outwards to the time ticks.
  double tmin = r.deadline_s, tmax = std::max(r.deadline_s, r.alternative_deadline_s);
  for (const auto& mr : r.modes) {
    tmin = std::min(tmin, time_for(mr.mode, xlo));
    tmax = std::max(tmax, time_for(mr.mode, xhi));
  }
  auto ticks = time_ticks();
  double ylo = ticks.front().v, yhi = ticks.back().v;
  for (const auto& t : ticks)
    if (t.v <= tmin * (1 + 1e-9)) ylo = t.v;
  for (auto it = ticks.rbegin(); it != ticks.rend(); ++it)
    if (it->v >= tmax * (1 - 1e-9)) yhi = it->v;
  if (yhi <= ylo) yhi = ylo * 10;
  double ly0 = std::log10(ylo), ly1 = std::log10(yhi);

  auto px = [&](double steps) { return X0 + (std::log10(steps) - lx0) / (lx1 - lx0) * (X1 - X0); };
  auto py = [&](double secs) { return Y1 - (std::log10(secs) - ly0) / (ly1 - ly0) * (Y1 - Y0); };
  // Axis-parallel lines sit on half pixels so that with crispEdges they
  // render as solid single-colour pixels (scripts/check_plot.sh looks for them).
  auto snap = [](double v) { return std::floor(v) + 0.5; };

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"" << kFont
    << "\" font-size=\"13\" xml:space=\"preserve\">\n";
  o << "<title>cannonball window: " << xml_escape(r.measurements.guest) << "</title>\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  o << "<defs><clipPath id=\"plot-area\"><rect x=\"" << X0 << "\" y=\"" << Y0 << "\" width=\""
    << (X1 - X0) << "\" height=\"" << (Y1 - Y0) << "\"/></clipPath></defs>\n";

  // Titles.
  o << "<text id=\"title\" x=\"" << X0 << "\" y=\"30\" font-size=\"18\" font-weight=\"bold\">"
    << "cannonball window"
    << (r.measurements.guest.empty() ? "" : ": " + xml_escape(r.measurements.guest)) << "</text>\n";
  o << "<text id=\"subtitle\" x=\"" << X0 << "\" y=\"52\" font-size=\"12\" fill=\"#555555\">"
    << "time to run a trace and prove one step; game: split depth " << r.game.split_depth
    << ", max depth " << r.game.max_game_depth << " (at most "
    << pow_svg(" steps), clock extension " + human_duration(r.game.clock_extension_s) +
               ", max clock " + human_duration(r.game.max_clock_s))
    << "</text>\n";

  // Lengths beyond 2^depth cannot occur in the game; shade them so the
  // lines there read as extrapolation.
  {
    double x = snap(px(static_cast<double>(r.max_trace_steps)));
    if (x < X1)
      o << "<rect id=\"beyond-game\" x=\"" << x << "\" y=\"" << Y0 << "\" width=\"" << (X1 - x)
        << "\" height=\"" << (Y1 - Y0) << "\" fill=\"#f3f3f3\"/>\n";
  }

  // Grid and ticks.
  o << "<g id=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  for (int e = xe0; e <= xe1; ++e) {
    double x = snap(px(std::pow(10.0, e)));
    o << "<line x1=\"" << x << "\" y1=\"" << Y0 << "\" x2=\"" << x << "\" y2=\"" << Y1 << "\"/>\n";
  }
  for (const auto& t : ticks) {
    if (t.v < ylo * (1 - 1e-9) || t.v > yhi * (1 + 1e-9)) continue;
    double y = snap(py(t.v));
    o << "<line x1=\"" << X0 << "\" y1=\"" << y << "\" x2=\"" << X1 << "\" y2=\"" << y << "\"/>\n";
  }
  o << "</g>\n";

  o << "<g id=\"x-ticks\" fill=\"" << kAxisColor << "\" text-anchor=\"middle\">\n";
  for (int e = xe0; e <= xe1; ++e) {
    double x = px(std::pow(10.0, e));
    o << "<line x1=\"" << snap(x) << "\" y1=\"" << Y1 << "\" x2=\"" << snap(x) << "\" y2=\""
      << (Y1 + 6) << "\" stroke=\"" << kAxisColor << "\" shape-rendering=\"crispEdges\"/>\n";
    o << "<text x=\"" << f1(x) << "\" y=\"" << (Y1 + 24)
      << "\">10<tspan dy=\"-7\" font-size=\"10\">" << e << "</tspan></text>\n";
    if (e == xe1) break;
    for (int k = 2; k <= 9; ++k) {
      double xm = snap(px(k * std::pow(10.0, e)));
      o << "<line x1=\"" << xm << "\" y1=\"" << Y1 << "\" x2=\"" << xm << "\" y2=\"" << (Y1 + 3)
        << "\" stroke=\"" << kAxisColor << "\" shape-rendering=\"crispEdges\"/>\n";
    }
  }
  o << "</g>\n";
  o << "<g id=\"y-ticks\" fill=\"" << kAxisColor << "\" text-anchor=\"end\">\n";
  for (const auto& t : ticks) {
    if (t.v < ylo * (1 - 1e-9) || t.v > yhi * (1 + 1e-9)) continue;
    double y = py(t.v);
    o << "<line x1=\"" << (X0 - 6) << "\" y1=\"" << snap(y) << "\" x2=\"" << X0 << "\" y2=\""
      << snap(y) << "\" stroke=\"" << kAxisColor << "\" shape-rendering=\"crispEdges\"/>\n";
    o << "<text x=\"" << (X0 - 10) << "\" y=\"" << f1(y + 4.5) << "\">" << t.label << "</text>\n";
  }
  o << "</g>\n";

  // Axes.
  o << "<g stroke=\"" << kAxisColor << "\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  o << "<line id=\"x-axis\" x1=\"" << X0 << "\" y1=\"" << snap(Y1) << "\" x2=\"" << X1 << "\" y2=\""
    << snap(Y1) << "\"/>\n";
  o << "<line id=\"y-axis\" x1=\"" << snap(X0) << "\" y1=\"" << Y0 << "\" x2=\"" << snap(X0)
    << "\" y2=\"" << Y1 << "\"/>\n";
  o << "</g>\n";
  o << "<text id=\"x-title\" x=\"" << (X0 + X1) / 2 << "\" y=\"" << (Y1 + 52)
    << "\" text-anchor=\"middle\" font-size=\"14\">trace length (steps)</text>\n";
  o << "<text id=\"y-title\" transform=\"translate(24 " << (Y0 + Y1) / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">time to run the trace + prove one "
       "step</text>\n";

  // Game maximum: vertical line at 2^depth.
  {
    double x = snap(px(static_cast<double>(r.max_trace_steps)));
    o << "<g id=\"max-trace\">\n";
    o << "<line x1=\"" << x << "\" y1=\"" << Y0 << "\" x2=\"" << x << "\" y2=\"" << Y1
      << "\" stroke=\"#444444\" stroke-width=\"1\" stroke-dasharray=\"3 4\" "
         "shape-rendering=\"crispEdges\"/>\n";
    o << "</g>\n";
  }

  // Deadlines: the one the verdicts use, bold and red; the whole chess clock
  // faint, for context.
  if (r.alternative_deadline_s <= yhi) {
    double y = snap(py(r.alternative_deadline_s));
    o << "<g id=\"full-clock\">\n<line x1=\"" << X0 << "\" y1=\"" << y << "\" x2=\"" << X1
      << "\" y2=\"" << y
      << "\" stroke=\"#d9a0a0\" stroke-width=\"1\" stroke-dasharray=\"2 4\" "
         "shape-rendering=\"crispEdges\"/>\n";
    o << "<text x=\"" << (X0 + 8) << "\" y=\"" << (y - 6)
      << "\" font-size=\"12\" fill=\"#b06060\">whole chess clock "
      << human_duration(r.alternative_deadline_s) << " (alternative, optimistic)</text>\n</g>\n";
  }
  {
    double y = snap(py(r.deadline_s));
    o << "<g id=\"deadline\">\n<line x1=\"" << X0 << "\" y1=\"" << y << "\" x2=\"" << X1
      << "\" y2=\"" << y << "\" stroke=\"" << kDeadlineColor
      << "\" stroke-width=\"1\" stroke-dasharray=\"9 5\" shape-rendering=\"crispEdges\"/>\n";
    o << "<line x1=\"" << X0 << "\" y1=\"" << (y + 1) << "\" x2=\"" << X1 << "\" y2=\"" << (y + 1)
      << "\" stroke=\"" << kDeadlineColor
      << "\" stroke-width=\"1\" stroke-dasharray=\"9 5\" shape-rendering=\"crispEdges\"/>\n";
    o << "<text x=\"" << (X0 + 8) << "\" y=\"" << (y - 7)
      << "\" font-size=\"13\" font-weight=\"bold\" fill=\"" << kDeadlineColor
      << "\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\">deadline " << dl
      << " (split-depth clock extension)</text>\n</g>\n";
  }

  // One line per mode, sampled densely: setup + prove bend it near the
  // short end, so it is not straight on log axes.
  o << "<g id=\"modes\" clip-path=\"url(#plot-area)\" fill=\"none\" stroke-width=\"2.5\" "
       "stroke-linejoin=\"round\">\n";
  for (size_t i = 0; i < r.modes.size(); ++i) {
    const auto& mr = r.modes[i];
    const char* color = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
    o << "<polyline id=\"mode-" << i << "\" class=\"mode-line\" stroke=\"" << color << "\""
      << (mr.mode.measured ? "" : " stroke-dasharray=\"10 6\"") << " points=\"";
    const int n = 160;
    for (int k = 0; k <= n; ++k) {
      double lx = lx0 + (lx1 - lx0) * k / n;
      double t = time_for(mr.mode, std::pow(10.0, lx));
      o << f1(px(std::pow(10.0, lx))) << "," << f1(py(t)) << (k == n ? "" : " ");
    }
    o << "\"/>\n";
    for (const auto& lr : mr.lengths) {
      if (!lr.within_game) continue;
      o << "<circle cx=\"" << f1(px(static_cast<double>(lr.steps))) << "\" cy=\""
        << f1(py(lr.time_s)) << "\" r=\"3.5\" fill=\"#ffffff\" stroke=\"" << color
        << "\" stroke-width=\"1.8\"/>\n";
    }
    if (mr.longest_steps > 0 && mr.longest_steps < r.max_trace_steps) {
      o << "<circle class=\"longest\" cx=\"" << f1(px(static_cast<double>(mr.longest_steps)))
        << "\" cy=\"" << f1(py(r.deadline_s)) << "\" r=\"5\" fill=\"" << color
        << "\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n";
    }
  }
  o << "</g>\n";

  // The game maximum's label goes after the lines, bottom left of its line
  // where lines rising to the right leave room, or right of it when the line
  // is too close to the y axis; the halo keeps it readable if a line passes.
  {
    double x = snap(px(static_cast<double>(r.max_trace_steps)));
    std::string max_s = sci(static_cast<double>(r.max_trace_steps));
    std::string tail =
        " = " + max_s + " steps (execution depth " + std::to_string(r.execution_depth) + ")";
    double text_w =
        6.9 * static_cast<double>(std::string("game maximum 2^xx").size() + tail.size());
    bool left = x - 6 - text_w >= X0 + 6;
    o << "<text id=\"max-trace-label\" x=\"" << (left ? x - 6 : x + 6) << "\" y=\"" << (Y1 - 10)
      << "\" text-anchor=\"" << (left ? "end" : "start")
      << "\" font-size=\"12\" fill=\"#444444\" stroke=\"#ffffff\" stroke-width=\"4\" "
         "paint-order=\"stroke\">game maximum "
      << pow_svg(tail) << "</text>\n";
  }

  // Legend below the plot: inside it, no corner is free of lines for every
  // set of speeds, and a legend over the deadline would hide its label.
  {
    const double ly = Y1 + 70;
    o << "<g id=\"legend\">\n";
    double lw = std::min(X1 - X0, legend_cols * (50 + 7.2 * static_cast<double>(legend_chars)));
    o << "<rect x=\"" << X0 << "\" y=\"" << ly << "\" width=\"" << f1(lw) << "\" height=\""
      << legend_h << "\" fill=\"#ffffff\" stroke=\"#bbbbbb\" shape-rendering=\"crispEdges\"/>\n";
    for (size_t i = 0; i < legend.size(); ++i) {
      double x = X0 + 12 + (legend_cols == 2 && i % 2 == 1 ? lw / 2 : 0);
      double y = snap(ly + 18 + kLegendRow * static_cast<double>(legend_cols == 2 ? i / 2 : i));
      if (i < r.modes.size()) {
        const char* color = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
        o << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << (x + 30) << "\" y2=\"" << y
          << "\" stroke=\"" << color << "\" stroke-width=\"3\" shape-rendering=\"crispEdges\""
          << (r.modes[i].mode.measured ? "" : " stroke-dasharray=\"7 4\"") << "/>\n";
      } else {
        o << "<circle cx=\"" << (x + 15) << "\" cy=\"" << y << "\" r=\"5\" fill=\"#666666\"/>\n";
      }
      o << "<text class=\"legend-entry\" x=\"" << (x + 38) << "\" y=\"" << (y + 4.5) << "\">"
        << legend[i] << "</text>\n";
    }
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

bool write_plot(const Report& report, const std::string& path, std::string& err) {
  bool png = ends_with_ci(path, ".png");
  if (!png && !ends_with_ci(path, ".svg")) {
    err = "plot file must end in .svg or .png: " + path;
    return false;
  }
  std::string svg_path = png ? path + ".tmp.svg" : path;
  {
    std::ofstream f(svg_path, std::ios::binary | std::ios::trunc);
    f << render_svg(report);
    if (!f.flush()) {
      err = "cannot write " + svg_path;
      return false;
    }
  }
  if (!png) return true;
  // rsvg-convert rather than a rasteriser of our own: it is the renderer the
  // tests check the plot with, and PNG output is a convenience.
  std::string out = path;
  const char* argv[] = {"rsvg-convert",   "-b",   "white", "-o", out.c_str(),
                        svg_path.c_str(), nullptr};
  pid_t pid;
  int rc =
      posix_spawnp(&pid, "rsvg-convert", nullptr, nullptr, const_cast<char* const*>(argv), environ);
  bool ok = false;
  if (rc != 0) {
    err = "cannot run rsvg-convert (needed for PNG output; install librsvg2-bin or use .svg)";
  } else {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) err = "rsvg-convert failed to convert " + svg_path;
  }
  std::remove(svg_path.c_str());
  return ok;
}

}  // namespace cb::window
