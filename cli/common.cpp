#include "cli/common.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "host/file_io.h"
#include "host/go_format.h"
#include "interp/state_io.h"

namespace cb::cli {

namespace {
// Go's flag package (and urfave/cli) accept `-name value`, `-name=value`, `--name value` and
// `--name=value`; CLI11 reads a single dash as a cluster of one-letter flags. A single-dash
// argument in flag position whose name is one of the command's long options becomes its
// double-dash form; anything else (values such as "-" or "-5", unknown names) is left alone.
std::vector<std::string> go_style_args(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> out;
  bool value_next = false;  // the previous argument was an option still waiting for its value
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (value_next) {
      value_next = false;
      out.push_back(a);
      continue;
    }
    const bool dashes2 = a.rfind("--", 0) == 0;
    const bool dash1 = !dashes2 && a.size() > 2 && a[0] == '-';
    if (dashes2 || dash1) {
      const size_t from = dashes2 ? 2 : 1, eq = a.find('=');
      const std::string name =
          a.substr(from, eq == std::string::npos ? std::string::npos : eq - from);
      const CLI::Option* opt = name.empty() ? nullptr : app.get_option_no_throw("--" + name);
      if (opt) {
        if (dash1) a = "-" + a;
        value_next = eq == std::string::npos && opt->get_expected_min() > 0;
        if (a.find('=') == a.size() - 1) {
          // "-meta=" (an empty value, as op-challenger passes --meta ""): CLI11 would take the
          // next argument as the value, Go takes "".
          a.pop_back();
          out.push_back(a);
          out.emplace_back();
          continue;
        }
      }
    }
    out.push_back(a);
  }
  std::reverse(out.begin(), out.end());  // CLI11 takes a vector in reverse order
  return out;
}
}  // namespace

std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    std::vector<std::string> args = go_style_args(app, argc, argv);
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::ExtrasError& e) {
    // urfave/cli (Go's flag package): "flag provided but not defined: -foo".
    std::string what = e.what();
    std::string first;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("-", 0) == 0 && what.find(a) != std::string::npos) {
        first = a;
        break;
      }
    }
    if (!first.empty()) {
      std::string name = first.substr(first.find_first_not_of('-'));
      name = name.substr(0, name.find('='));
      print_error("flag provided but not defined: -" + name);
    } else {
      print_error(what);
    }
    return kExitError;
  } catch (const CLI::RequiredError& e) {
    std::string what = e.what();
    // CLI11: "--input is required"; urfave: Required flag "input" not set.
    size_t a = what.find("--");
    size_t b = what.find(' ', a == std::string::npos ? 0 : a);
    if (a != std::string::npos && b != std::string::npos)
      print_error("Required flag \"" + what.substr(a + 2, b - a - 2) + "\" not set");
    else
      print_error(what);
    return kExitError;
  } catch (const CLI::ParseError& e) {
    print_error(e.what());
    return kExitError;
  }
  return std::nullopt;
}

SplitArgs split_host(int argc, char** argv, int first) {
  SplitArgs s{argc, argv, {}};
  for (int i = first; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      for (int k = i + 1; k < argc; ++k) s.host.emplace_back(argv[k]);
      s.argc = i;
      break;
    }
  }
  return s;
}

void add_proof2_window_flag(CLI::App& app, uint64_t& window) {
  app.add_option("--proof2-window", window,
                 "steps before a proof or checkpoint from which clock_gettime memory proofs are "
                 "taken (tests)")
      ->group("");
}

std::string format_step(std::string_view pattern, uint64_t step) {
  return go_sprintf_u64(pattern, step);
}

void check_name_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern == "-") return;
  // The longest step number gives the longest name.
  (void)go_sprintf_u64(pattern, UINT64_MAX);
}

bool is_binary_name(std::string_view path) {
  auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  return ends(".bin") || ends(".bin.gz");
}

State load_state(const std::string& path, std::function<bool()> should_abort) {
  return load_state_file(path, std::move(should_abort));
}

void write_state(const std::string& path, const State& s) { save_state_file(path, s); }

}  // namespace cb::cli
