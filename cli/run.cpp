// `cannonball run`: the reference's `cannon run` (cannon/cmd/run.go) — same flags, defaults,
// loop order, files and exit codes. This file is the flags and the printing; the loop (per
// step, exactly the reference's order: info log, stop check, snapshot of the state before
// the step, then a proof step or plain steps, then the --stop-at-preimage* checks) and the
// second memory-proof slot are scheduler/run_session.h's RunSession.
//
// Exit codes (reference: cannon/main.go and Go's runtime; op-challenger's vm/executor.go maps
// exit code 2 to ErrVMPanic, anything else non-zero to a plain failure):
//   0    success, also when the guest exited with a non-zero code (it is in the state)
//   1    any error: flags, input, output, pre-image host failure (one line "error: ...")
//   2    the VM panicked (the reference's Go panic: invalid instruction, unknown syscall, ...)
//   130  interrupted (SIGINT/SIGTERM), "command interrupted"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/console.h"
#include "cli/guest_stack.h"
#include "cli/preimage_host.h"
#include "cli/proof_json.h"
#include "host/file_io.h"
#include "host/go_strconv.h"
#include "host/hex.h"
#include "interp/elf_loader.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "scheduler/run_session.h"
#include "scheduler/step_pattern.h"

namespace cb::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

struct Interrupted {};

// A pattern-valued flag: parsed (and rejected with urfave/cli's wording) at flag-parse time.
void add_pattern(CLI::App& app, const std::string& name, StepPattern& target,
                 const std::string& help, const std::string& default_text) {
  app.add_option_function<std::string>(
         "--" + name,
         [&target, name](const std::string& v) {
           try {
             target = StepPattern::parse(v);
           } catch (const StepPatternError& e) {
             throw CLI::ValidationError("invalid value " + go_quote(v) + " for flag -" + name +
                                        ": " + e.what());
           }
         },
         help)
      ->default_str(default_text);
}

std::string hex_u32(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%08" PRIx32, uint32_t(v));
  return b;
}

// mipsevm.LoggingWriter: one record per write, as text when it is printable ASCII (plus \n
// and \t), else as hex data.
std::vector<LogAttr> output_attrs(std::vector<LogAttr> base, std::string_view chunk) {
  bool text = true;
  for (unsigned char c : chunk)
    if ((c < 0x20 || c >= 0x7f) && c != '\n' && c != '\t') text = false;
  if (text) {
    base.push_back(LogAttr::str("text", std::string(chunk)));
  } else {
    base.push_back(
        LogAttr::raw("data", hex(std::span<const uint8_t>(
                                 reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()))));
  }
  return base;
}

std::vector<uint8_t> from_hex_loose(std::string h) {
  // go-ethereum common.FromHex: optional 0x, odd length gets a leading 0, invalid -> empty.
  if (h.rfind("0x", 0) == 0 || h.rfind("0X", 0) == 0) h = h.substr(2);
  if (h.size() % 2) h = "0" + h;
  std::vector<uint8_t> out(h.size() / 2);
  if (!parse_hex_digits(h, out)) return {};
  return out;
}

// Go's strconv.ParseUint(s, 10, 64) (the --stop-at-preimage offsets are base 10).
bool parse_dec_u64(const std::string& s, uint64_t* out, std::string* err) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    *err = "strconv.ParseUint: parsing " + go_quote(s) + ": invalid syntax";
    return false;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (v > (UINT64_MAX - uint64_t(c - '0')) / 10) {
      *err = "strconv.ParseUint: parsing " + go_quote(s) + ": value out of range";
      return false;
    }
    v = v * 10 + uint64_t(c - '0');
  }
  *out = v;
  return true;
}

std::string hexutil_u64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

// mipsevm.DebugInfo as jsonutil.WriteJSON writes it; the statistics are the VmStats the run
// collected (interp/stats.h: the reference's definitions, zeros when none were collected).
std::string debug_info_json(const State& s, const Vm& vm) {
  const VmStats st = vm.stats() ? *vm.stats() : VmStats{};
  std::string j = "{\n";
  auto field = [&](const char* k, const std::string& v, bool last = false) {
    j += "  \"" + std::string(k) + "\": " + v + (last ? "\n" : ",\n");
  };
  field("pages", std::to_string(s.memory->page_count()));
  field("memory_used", "\"" + hexutil_u64(s.memory->usage_bytes()) + "\"");
  field("num_preimage_requests", std::to_string(vm.preimage_requests()));
  field("total_preimage_size", std::to_string(vm.preimage_bytes()));
  field("total_steps", std::to_string(s.step));
  field("instruction_cache_miss_count", std::to_string(st.icache_misses));
  field("highest_icache_miss_pc", "\"" + hexutil_u64(st.highest_icache_miss_pc) + "\"");
  field("rmw_success_count", std::to_string(st.rmw_success));
  field("rmw_fail_count", std::to_string(st.rmw_fail));
  field("max_steps_between_ll_and_sc", std::to_string(st.max_ll_to_sc));
  field("reservation_invalidation_count", std::to_string(st.reservation_invalidations));
  field("forced_preemption_count", std::to_string(st.forced_preemptions));
  field("idle_step_count_thread_0", std::to_string(st.idle_steps_thread0), true);
  j += "}\n\n";
  return j;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

int run_main(int argc, char** argv, const std::vector<std::string>& host_argv) {
  CLI::App app{"Run VM step(s) and generate proof data to replicate onchain.", "run"};
  app.option_defaults()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);  // Go flag: last wins
  std::string input = "state.bin.gz", output = "out.bin.gz", proof_fmt = "proof-%d.json",
              snapshot_fmt = "state-%d.bin.gz", meta_path = "meta.json", debug_info;
  StepPattern proof_at, snapshot_at, stop_at, info_at = StepPattern::parse("%1000000000");
  std::string stop_preimage, stop_preimage_type, jit_s = "on", stop_larger_s;
  uint64_t host_timeout_ms = 0;
  uint64_t proof2_window = kProof2Window;
  bool debug = false, pprof = false, progress_flag = true, jit_stats = false;
  const std::string pattern_help =
      "'never' (default), 'always', '=123' at exactly step 123, '%123' for every 123 steps";
  app.add_option("--input", input,
                 "path of input binary state. Read up to the state's end, at most 10 GiB.")
      ->required();
  app.add_option("--output", output,
                 "path of output binary state. Not written if empty, use - to write to Stdout.");
  add_pattern(app, "proof-at", proof_at, "step pattern to output proof at: " + pattern_help,
              "never");
  app.add_option("--proof-fmt", proof_fmt,
                 "format for proof data output file names. Proof data is written to stdout if -.");
  add_pattern(app, "snapshot-at", snapshot_at,
              "step pattern to output snapshots at: " + pattern_help, "never");
  app.add_option("--snapshot-fmt", snapshot_fmt, "format for snapshot output file names.");
  add_pattern(app, "stop-at", stop_at, "step pattern to stop at: " + pattern_help, "never");
  app.add_option(
      "--stop-at-preimage", stop_preimage,
      "stop at the first preimage request matching this key. Format: <key-prefix>@<offset>@<step>");
  app.add_option("--stop-at-preimage-type", stop_preimage_type,
                 "stop at the first preimage request matching this type");
  app.add_option(
      "--stop-at-preimage-larger-than", stop_larger_s,
      "stop at the first step that requests a preimage larger than the specified size (in bytes)");
  app.add_option("--meta", meta_path,
                 "path to metadata file for symbol lookup for enhanced debugging info during "
                 "execution (at most 1 GiB).");
  add_pattern(app, "info-at", info_at, "step pattern to print info at: " + pattern_help,
              "%1000000000");
  app.add_flag("--pprof.cpu", pprof,
               "accepted and ignored (the reference's Go CPU profile; cannonball writes none)");
  app.add_flag(
      "--debug", debug,
      "enable debug mode: track guest call stacks, print a traceback at the end (requires --meta; "
      "runs on the interpreter)");
  app.add_option("--debug-info", debug_info, "path to write debug info to");
  app.add_option("--jit", jit_s, "on|off: compile hot blocks (results are identical either way)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--jit-stats", jit_stats,
               "print where the JIT's steps and time went (stderr, at the end)");
  app.add_option(
         "--host-timeout-ms", host_timeout_ms,
         "fail a pre-image request the host has not answered after this long (0 = wait forever; "
         "at most 86400000, one day)")
      ->check(CLI::Range(uint64_t{0}, kMaxHostTimeoutMs));
  add_proof2_window_flag(app, proof2_window);
  app.add_option("--progress", progress_flag,
                 "show a progress line when stderr is a terminal (default true)");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;

  Console& con = Console::get();
  con.set_progress_enabled(progress_flag);
  const std::vector<LogAttr> vm_attrs{LogAttr::str("module", "vm")};
  auto vlog = [&](std::string_view msg, std::vector<LogAttr> kv = {}) {
    std::vector<LogAttr> a = vm_attrs;
    a.insert(a.end(), kv.begin(), kv.end());
    con.info(msg, a);
  };

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<HostProcess> host;
  int rc = kExitOk;
  try {
    // checkFlags.
    if (!output.empty() && !is_binary_name(output))
      throw std::runtime_error(
          "invalid --output file format. Only binary file formats (ending in .bin or bin.gz) are "
          "supported");
    check_name_pattern(proof_fmt);
    check_name_pattern(snapshot_fmt);
    if (!snapshot_fmt.empty() && !is_binary_name(format_step(snapshot_fmt, 0)))
      throw std::runtime_error(
          "invalid --snapshot-fmt file format. Only binary file formats (ending in .bin or bin.gz) "
          "are supported");

    // --stop-at-preimage / --stop-at-preimage-type / --stop-at-preimage-larger-than.
    PreimageStop preimage_stop;
    if (app.count("--stop-at-preimage") > 0) {
      std::vector<std::string> parts;
      std::stringstream ss(stop_preimage);
      for (std::string p; std::getline(ss, p, '@');) parts.push_back(p);
      if (!stop_preimage.empty() && stop_preimage.back() == '@') parts.push_back("");
      if (parts.empty()) parts.push_back("");
      if (parts.size() > 3) throw std::runtime_error("invalid stop-at-preimage: " + stop_preimage);
      preimage_stop.prefix = from_hex_loose(parts[0]);
      std::string err;
      if (parts.size() >= 2 && !parse_dec_u64(parts[1], &preimage_stop.offset, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
      if (parts.size() == 3 && !parse_dec_u64(parts[2], &preimage_stop.from_step, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
    } else {
      static const std::pair<const char*, uint8_t> kTypes[] = {
          {"local", 1}, {"keccak", 2}, {"sha256", 4}, {"blob", 5}, {"precompile", 6}};
      bool ok = stop_preimage_type.empty();
      for (auto& [n, b] : kTypes)
        if (stop_preimage_type == n) {
          preimage_stop.prefix = {b};
          ok = true;
        }
      if (stop_preimage_type == "any") preimage_stop.any = ok = true;
      if (!ok) throw std::runtime_error("invalid preimage type " + go_quote(stop_preimage_type));
    }
    if (!stop_larger_s.empty()) {
      std::string err;
      uint64_t v = 0;
      bool neg = stop_larger_s[0] == '-';
      if (!parse_go_uint64(neg ? stop_larger_s.substr(1) : stop_larger_s, &v, &err) ||
          v > uint64_t(INT64_MAX))
        throw std::runtime_error("invalid value " + go_quote(stop_larger_s) +
                                 " for flag -stop-at-preimage-larger-than: parse error");
      preimage_stop.larger_than = neg ? -int64_t(v) : int64_t(v);
    }

    Metadata meta;
    if (meta_path.empty()) {
      vlog("no metadata file specified, defaulting to empty metadata");
    } else {
      try {
        ReadLimits meta_limits;
        meta_limits.max_bytes = kMaxJsonFileBytes;
        meta_limits.should_abort = [] { return g_interrupted != 0; };
        std::vector<uint8_t> mb = read_file(meta_path, meta_limits);
        meta = Metadata::from_json(
            std::string_view(reinterpret_cast<const char*>(mb.data()), mb.size()));
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("failed to load metadata: ") + e.what());
      }
    }

    State state;
    try {
      state = load_state(input, [] { return g_interrupted != 0; });
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("failed to load state: ") + e.what());
    }
    vlog("Loaded input state", {LogAttr::str("version", kStateVersionName)});
    if (debug && meta_path.empty())
      throw std::runtime_error("cannot enable debug mode without a metadata file");
    // --debug: the reference's stack trackers, fed one interpreted step at a time.
    std::unique_ptr<GuestStackTracker> stacks;
    if (debug) stacks = std::make_unique<GuestStackTracker>(meta);

    // The pre-image host (ProcessPreimageOracle). We start it after the inputs are known to
    // be good (the reference starts it first): a bad input then leaves no process behind.
    const uint64_t* cur_step = &state.step;
    if (!host_argv.empty() && !host_argv[0].empty()) {
      HostOptions hopt;
      hopt.timeout_ms = host_timeout_ms;
      hopt.should_abort = [] { return g_interrupted != 0; };
      hopt.on_waiting = [&con, cur_step, vm_attrs](double secs) {
        char b[32];
        std::snprintf(b, sizeof b, "%.0fs", secs);
        if (con.progress_enabled()) {
          con.status("waiting on pre-image host for " + std::string(b) + " (step " +
                     group_thousands(*cur_step) + ")");
        } else {
          std::vector<LogAttr> a = vm_attrs;
          a.push_back(LogAttr::num("step", *cur_step));
          a.push_back(LogAttr::str("waited", b));
          Console::get().info("waiting on pre-image host", a);
        }
      };
      hopt.on_output = [](HostStream s, std::string_view chunk) {
        std::vector<LogAttr> base{LogAttr::str("module", "host")};
        Console::get().log(s == HostStream::kStdout ? stdout : stderr, LogLevel::kInfo, "",
                           output_attrs(base, chunk));
      };
      // The reference first waits 1 s for the host to exit on its own; nothing is gained by
      // that (closing the pipes lets a well-behaved host exit at once), so we skip it.
      hopt.stop.exit_grace_ms = 0;
      try {
        host = std::make_unique<HostProcess>(host_argv, hopt);
      } catch (const std::exception& e) {
        throw std::runtime_error(e.what());
      }
    }

    Vm vm(state, host.get(), [&con](int fd, const uint8_t* d, size_t n) {
      std::vector<LogAttr> base{LogAttr::str("module", "guest"),
                                LogAttr::str("stream", fd == 1 ? "stdout" : "stderr")};
      con.info("", output_attrs(base, std::string_view(reinterpret_cast<const char*>(d), n)));
    });
    // Statistics only for --debug-info (the reference's EnableStats): a plain run pays nothing.
    if (!debug_info.empty()) vm.enable_stats();

    RunPlan plan;
    plan.stop_at = stop_at;
    plan.proof_at = proof_at;
    plan.snapshot_at = snapshot_at;
    plan.info_at = info_at;
    plan.preimage_stop = preimage_stop;
    plan.exec = ExecutorOptions{jit_s == "on", jit_stats};
    plan.proof2_window = proof2_window;
    // A re-run for the second memory-proof slot (scheduler/run_session.h) starts from the
    // input, reloaded: rare for Go guests, and no second copy of memory is kept meanwhile.
    RunOrigin origin;
    origin.step = state.step;
    origin.restore = [&input] {
      try {
        return load_state(input);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("failed to reload state: ") + e.what());
      }
    };
    RunSession session(vm, plan, std::move(origin), host.get(), stacks.get());

    // The CLI's side of the run: logs, files, the progress line.
    struct Printer final : RunEvents {
      State& state;
      const Metadata& meta;
      const StepPattern& stop_at;
      std::function<void(std::string_view, std::vector<LogAttr>)> vlog;
      const std::string &snapshot_fmt, &proof_fmt;
      Console& con;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(),
                                            last_draw = start;
      uint64_t start_step = state.step;

      Printer(State& s, const Metadata& m, const StepPattern& stop,
              std::function<void(std::string_view, std::vector<LogAttr>)> log,
              const std::string& snap, const std::string& proof, Console& c)
          : state(s),
            meta(m),
            stop_at(stop),
            vlog(std::move(log)),
            snapshot_fmt(snap),
            proof_fmt(proof),
            con(c) {}

      bool interrupted() override { return g_interrupted != 0; }
      void info(uint64_t step) override {
        double secs = std::max(
            1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        uint64_t pc = state.active().empty() ? 0 : state.current().cpu.pc;
        uint32_t insn = fetch_insn(*state.memory, pc & ~uint64_t{3});
        vlog("processing", {LogAttr::num("step", step), LogAttr::str("pc", hex_u32(pc)),
                            LogAttr::str("insn", hex_u32(insn)),
                            LogAttr::flt("ips", double(step - start_step) / secs),
                            LogAttr::num("pages", state.memory->page_count()),
                            LogAttr::str("mem", human_bytes(state.memory->usage_bytes())),
                            LogAttr::str("name", meta.lookup(pc))});
      }
      void snapshot(uint64_t step) override {
        try {
          write_state(format_step(snapshot_fmt, step), state);
        } catch (const std::exception& e) {
          throw std::runtime_error(std::string("failed to write state snapshot: ") + e.what());
        }
      }
      void proof(uint64_t step, const StepWitness& w) override {
        std::string j = proof_json(step, w, state.hash());
        try {
          write_output(format_step(proof_fmt, step), bytes_of(j));
        } catch (const std::exception& e) {
          throw std::runtime_error(std::string("failed to write proof data: ") + e.what());
        }
      }
      void proof2_rerun(uint64_t step, uint64_t clock_gettime_step) override {
        vlog(
            "re-running from the input to the last clock_gettime for the reference's second memory "
            "proof",
            {LogAttr::num("step", step), LogAttr::num("clock_gettime_step", clock_gettime_step)});
      }
      void progress() override {
        if (!con.progress_enabled()) return;
        auto now = std::chrono::steady_clock::now();
        if (now - last_draw < std::chrono::milliseconds(250)) return;
        last_draw = now;
        double secs = std::chrono::duration<double>(now - start).count();
        double ips = secs > 0 ? double(state.step - start_step) / secs : 0;
        std::string line =
            "step " + group_thousands(state.step) + "  " + human_rate(ips) + "steps/s";
        if (stop_at.kind() == StepPattern::Kind::kExact && stop_at.value() > state.step &&
            ips > 0) {
          double left = double(stop_at.value() - state.step) / ips;
          line += "  " +
                  std::to_string(int(100.0 * double(state.step - start_step) /
                                     double(stop_at.value() - start_step))) +
                  "%  ETA " + human_duration(left);
        }
        con.status(line);
      }
    } printer(state, meta, stop_at, vlog, snapshot_fmt, proof_fmt, con);

    const RunResult res = session.run(printer);
    const char* fail_what = res.fail_in_proof ? "failed at proof-gen step" : "failed at step";
    const uint64_t fail_pc = state.active().empty() ? 0 : state.current().cpu.pc;
    char where[160];
    std::snprintf(where, sizeof where, "%s %" PRIu64 " (PC: %08" PRIx64 "): ", fail_what,
                  res.fail_step, fail_pc);
    switch (res.end) {
      case RunResult::End::kInterrupted:
        throw Interrupted{};
      case RunResult::End::kOracleError:
        throw std::runtime_error(where + res.error);
      case RunResult::End::kPanic:
        con.clear_status();
        // The reference prints the traceback before panicking on an unknown syscall.
        if (stacks && res.error.rfind("unrecognized syscall", 0) == 0)
          stacks->traceback(state, stdout);
        print_error(where + std::string("vm panic: ") + res.error);
        rc = kExitVmPanic;
        break;
      case RunResult::End::kStopAt:
        vlog("Reached stop at");
        break;
      case RunResult::End::kPreimageStop: {
        const PreimageStopHit& h = res.preimage;
        const std::string prefix_hex = hex(std::span<const uint8_t>(preimage_stop.prefix), false);
        const std::string min = std::to_string(preimage_stop.larger_than);
        switch (h.rule) {
          case PreimageStopHit::Rule::kAny:
            vlog("Stopping at preimage read");
            break;
          case PreimageStopHit::Rule::kPrefixAndSize:
            vlog("Stopping at preimage read",
                 {LogAttr::str("keyPrefix", prefix_hex), LogAttr::num("size", h.size),
                  LogAttr::raw("min", min)});
            break;
          case PreimageStopHit::Rule::kPrefixAtOffset:
            vlog("Stopping at preimage read",
                 {LogAttr::str("keyPrefix", prefix_hex), LogAttr::num("offset", h.offset),
                  LogAttr::num("step", h.step)});
            break;
          case PreimageStopHit::Rule::kSize:
            vlog("Stopping at preimage read",
                 {LogAttr::num("size", h.size), LogAttr::raw("min", min)});
            break;
        }
        break;
      }
      case RunResult::End::kExited:
        break;
    }
    con.clear_status();
    if (jit_stats) std::fputs(session.executor().jit_stats_report().c_str(), stderr);
    if (rc == kExitOk) {
      vlog("Execution stopped", {LogAttr::raw("exited", state.exited ? "true" : "false"),
                                 LogAttr::num("code", state.exit_code)});
      if (stacks) stacks->traceback(state, stdout);
      try {
        write_state(output, state);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("failed to write state output: ") + e.what());
      }
      if (!debug_info.empty()) {
        try {
          write_output(debug_info, bytes_of(debug_info_json(state, vm)));
        } catch (const std::exception& e) {
          throw std::runtime_error(std::string("failed to write benchmark data: ") + e.what());
        }
      }
    }
    if (host) {
      if (rc != kExitOk) host->set_stop_policy(HostStopPolicy{0, 1000, 1000});
      HostExit ex = host->stop();
      if (!ex.success())
        con.log(stderr, LogLevel::kError, "failed to close pre-image server",
                {LogAttr::str("module", "vm"), LogAttr::str("err", ex.describe())});
    }
    return rc;
  } catch (const Interrupted&) {
    if (host) host->set_stop_policy(HostStopPolicy{0, 1000, 1000});
    host.reset();
    con.clear_status();
    std::fputs("command interrupted\n", stderr);
    return kExitInterrupted;
  } catch (const std::exception& e) {
    // A failed request leaves the host's channel out of step: end it quickly.
    if (host) host->set_stop_policy(HostStopPolicy{0, 1000, 1000});
    host.reset();
    con.clear_status();
    if (g_interrupted) {
      std::fputs("command interrupted\n", stderr);
      return kExitInterrupted;
    }
    print_error(e.what());
    return kExitError;
  }
}

}  // namespace cb::cli
