// `cannonball window`'s renderings of a window::Report (scheduler/window.h): the table, the
// JSON report and the SVG/PNG plot. Presentation only: every number comes from the report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "scheduler/window.h"

namespace cb::window {

std::string render_table(const Report& report);

// Schema "cannonball.window.v1" (times in seconds, sizes in bytes, steps as
// integers):
// {
//   "schema": "cannonball.window.v1",
//   "guest": string,
//   "game": { "max_clock_s": number, "clock_extension_s": number,
//             "split_depth": int, "max_game_depth": int,
//             "oracle_challenge_period_s": number,
//             "execution_depth": int, "max_trace_steps": int,
//             "deadline_s": number,
//             "deadline_basis": "2 x clock_extension_s (split-depth clock extension)",
//             "alternative_deadline_s": number, "alternative_deadline_basis": string,
//             "step_extension_s": number, "required_steps_per_s": number },
//   "measurements": { "sample_steps": int, "checkpoint_overhead_pct": number,
//                     "peak_rss_bytes": int, "checkpoint_disk_bytes": int },
//   "lengths": [int, ...],
//   "checkpoint_disk_bytes_est": [number, ...],   // parallel to "lengths"; may be empty
//   "modes": [ { "name": string, "measured": bool, "steps_per_s": number,
//                "setup_s": number, "prove_s": number,
//                "longest_steps": int, "longest_fraction_of_max": number,
//                "longest_steps_full_clock": int,
//                "times": [ { "steps": int, "time_s": number, "fits": bool,
//                             "within_game": bool }, ... ] }, ... ]
// }
nlohmann::json to_json(const Report& report);

// Self-contained SVG: time against trace length on log-log axes, one line per
// mode, the deadline as a dashed horizontal line and 2^depth as a vertical one.
std::string render_svg(const Report& report);

// Writes render_svg to `path`; a path ending in ".png" is converted with
// rsvg-convert (which must be on PATH). False and `err` set on failure.
bool write_plot(const Report& report, const std::string& path, std::string& err);

}  // namespace cb::window
