#include "cli/common.h"

#include "interp/state_io.h"

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "interp/file_io.h"

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

std::string format_step(std::string_view pat, uint64_t step) {
  std::string out;
  bool used = false;
  auto bad = [&](char verb) { out += std::string("%!") + verb + "(uint64=" + std::to_string(step) + ")"; };
  for (size_t i = 0; i < pat.size(); ++i) {
    if (pat[i] != '%') {
      out += pat[i];
      continue;
    }
    size_t j = i + 1;
    std::string flags;
    while (j < pat.size() && std::string_view("-+ 0#").find(pat[j]) != std::string_view::npos) flags += pat[j++];
    std::string width;
    while (j < pat.size() && pat[j] >= '0' && pat[j] <= '9') width += pat[j++];
    if (j >= pat.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = pat[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (used) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    used = true;
    std::string spec = "%" + flags + width;
    char buf[96];
    switch (verb) {
      case 'd': case 'v': spec += "llu"; break;
      case 'x': spec += "llx"; break;
      case 'X': spec += "llX"; break;
      case 'o': spec += "llo"; break;
      default: bad(verb); continue;
    }
    std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<unsigned long long>(step));
    out += buf;
  }
  if (!used) out += "%!(EXTRA uint64=" + std::to_string(step) + ")";
  return out;
}

bool is_binary_name(std::string_view path) {
  auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  return ends(".bin") || ends(".bin.gz");
}

State load_state(const std::string& path) { return load_state_file(path); }

void write_state(const std::string& path, const State& s) { save_state_file(path, s); }

}  // namespace cb::cli
