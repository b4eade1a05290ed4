#include "cli/tools_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/console.h"
#include "cli/preimage_host.h"
#include "host/file_io.h"
#include "interp/elf_loader.h"
#include "scheduler/step_pattern.h"
#include "tools/elf_check.h"
#include "tools/profile.h"

namespace cb::cli {

int check_elf_main(int argc, char** argv) {
  CLI::App app{"Check an ELF for instructions and syscalls the VM does not implement", "check-elf"};
  std::string path;
  std::vector<std::string> allow_in;
  bool verbose = false, strict = false;
  app.add_option("--path", path, "MIPS64 ELF to check")->required();
  app.add_option("--allow-in", allow_in, "do not report findings inside this symbol (repeatable)");
  app.add_flag("-v,--verbose", verbose,
               "also list the syscall sites whose number is not a constant, and each known site");
  app.add_flag("--strict", strict,
               "also report the known unreachable sites of the Go runtime as findings");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  ElfCheckReport r;
  try {
    std::vector<uint8_t> elf;
    try {
      elf = read_file(path);
    } catch (const IoError& e) {
      throw std::runtime_error("failed to open ELF file \"" + path + "\": " + e.what());
    }
    r = check_elf(elf, ElfCheckOptions{allow_in, strict});
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  std::printf(
      "%s: %s words checked: %s in %s functions, %s outside functions reached by control flow; "
      "%s words of executable segments are not code (not checked)\n",
      path.c_str(), group_thousands(r.function_words + r.reached_words).c_str(),
      group_thousands(r.function_words).c_str(), group_thousands(r.functions).c_str(),
      group_thousands(r.reached_words).c_str(), group_thousands(r.unchecked_words).c_str());
  std::printf(
      "syscall sites: %s, %s with a constant number, %s with a number not known statically\n",
      group_thousands(r.syscall_sites).c_str(), group_thousands(r.syscall_constant).c_str(),
      group_thousands(r.syscall_dynamic).c_str());
  if (verbose)
    for (uint64_t a : r.dynamic_sites)
      std::printf("  dynamic syscall at 0x%llx\n", (unsigned long long)a);
  if (!r.known.empty()) {
    std::map<std::string, size_t> per_fn;
    for (const auto& [f, why] : r.known)
      ++per_fn[f.symbol.substr(0, f.symbol.find('+')) + ": " + why];
    std::printf(
        "not reported: %zu unsupported words at known Go runtime sites never reached on the VM "
        "(--strict reports them):\n",
        r.known.size());
    for (const auto& [what, n] : per_fn) std::printf("  %zu x %s\n", n, what.c_str());
    if (verbose)
      for (const auto& [f, why] : r.known)
        std::printf("  0x%016llx  %-40s  %08x  %s\n", (unsigned long long)f.addr, f.symbol.c_str(),
                    f.word, f.disassembly.c_str());
  }
  for (const ElfFinding& f : r.findings) {
    std::string what = f.kind == ElfFinding::Kind::kInstruction
                           ? std::string("unsupported instruction")
                           : "unsupported syscall " + std::to_string(f.syscall) +
                                 " ($v0 set at 0x" +
                                 [&] {
                                   char b[24];
                                   std::snprintf(b, sizeof b, "%llx", (unsigned long long)f.set_at);
                                   return std::string(b);
                                 }() +
                                 ")";
    std::printf("0x%016llx  %-40s  %08x  %-32s  %s\n", (unsigned long long)f.addr, f.symbol.c_str(),
                f.word, f.disassembly.c_str(), what.c_str());
  }
  std::printf(r.findings.empty() ? "ok: nothing the VM does not implement\n" : "%zu finding(s)\n",
              r.findings.size());
  return r.findings.empty() ? kExitOk : kExitError;
}

int profile_main(int argc, char** argv) {
  // argv: the flags, then "-- <pre-image server>".
  std::vector<std::string> host_argv;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      for (int k = i + 1; k < argc; ++k) host_argv.emplace_back(argv[k]);
      argc = i;
      break;
    }
  }
  CLI::App app{"Exact guest steps per function, thread and call stack", "profile"};
  std::string input, meta_path, elf_path, stop_s = "never", jit_s = "on", folded_path, svg_path,
                                          table_path, pprof_path;
  size_t top = 30;
  bool quiet = false;
  app.add_option("--input", input, "state file to start from (.bin or .bin.gz)")->required();
  app.add_option("--meta", meta_path, "meta.json with the guest's symbols (load-elf writes it)");
  app.add_option("--elf", elf_path, "take the symbols from this ELF instead of --meta");
  app.add_option("--stop-at", stop_s,
                 "step pattern to stop at (the run also ends at exit or panic)");
  app.add_option("--jit", jit_s, "on|off: the counts are identical either way")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--top", top, "rows of the table (0 = all)");
  app.add_option("--table", table_path, "write the table to this file instead of stdout");
  app.add_option("--folded", folded_path,
                 "write folded stacks (flamegraph.pl, speedscope, inferno) here");
  app.add_option("--svg", svg_path, "write a flame graph (SVG) here");
  app.add_option("--pprof", pprof_path,
                 "write pprof's profile.proto, gzipped, here (go tool pprof opens it)");
  app.add_flag("-q,--quiet", quiet, "drop the guest's stdout/stderr (default: copied to stderr)");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    StepPattern stop = StepPattern::parse(stop_s);
    State state = load_state(input);
    Metadata meta;
    if (!elf_path.empty()) {
      meta = elf_metadata(read_file(elf_path));
    } else if (!meta_path.empty()) {
      std::vector<uint8_t> mb = read_file(meta_path);
      try {
        meta = Metadata::from_json(
            std::string_view(reinterpret_cast<const char*>(mb.data()), mb.size()));
      } catch (const std::exception& e) {
        throw std::runtime_error("failed to load metadata " + meta_path + ": " + e.what());
      }
    }
    std::unique_ptr<HostProcess> host;
    if (!host_argv.empty() && !host_argv[0].empty())
      host = std::make_unique<HostProcess>(host_argv);
    Vm vm(state, host.get(), [quiet](int, const uint8_t* d, size_t n) {
      if (!quiet) std::fwrite(d, 1, n, stderr);
    });
    ProfileOptions opt;
    opt.jit = jit_s == "on";
    opt.stop_at = stop.next_match(state.step + 1);
    ProfileResult r = profile_run(vm, meta, opt);
    host.reset();
    if (r.status != StepStatus::kOk)
      std::fprintf(stderr, "profile: the VM panicked at step %llu: %s (profile up to there)\n",
                   (unsigned long long)r.end_step, vm.panic_message().c_str());
    auto put = [](const std::string& path, const std::string& text) {
      write_file_atomic(path, std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    };
    if (!folded_path.empty()) put(folded_path, profile_folded(r));
    if (!svg_path.empty()) put(svg_path, profile_svg(r, "cannonball profile: " + input));
    if (!pprof_path.empty()) {
      const std::string pb = profile_pprof(r);
      std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(pb.data()), pb.size());
      if (is_gzip_path(pprof_path))
        write_file_atomic(pprof_path, raw);  // gzipped by name
      else
        write_file_atomic(pprof_path, gzip_bytes(raw));
    }
    std::string table = profile_table(r, top);
    if (state.exited)
      table = "exited with code " + std::to_string(state.exit_code) + " at step " +
              group_thousands(state.step) + "\n" + table;
    if (!table_path.empty())
      put(table_path, table);
    else
      std::fwrite(table.data(), 1, table.size(), stdout);
    if (r.attributed != r.end_step - r.start_step)
      throw std::runtime_error("internal: steps not all attributed");
    return r.status == StepStatus::kOk ? kExitOk : kExitVmPanic;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
}

}  // namespace cb::cli
