#include "cli/common.h"

#include "interp/state_io.h"

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/go_format.h"
#include "interp/file_io.h"
#include "interp/state_extent.h"

namespace cb::cli {

std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
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
