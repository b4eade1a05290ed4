// `cannonball run`: the reference's `cannon run` (cannon/cmd/run.go) — same flags, defaults,
// loop order, files and exit codes — on the canonical VM plus the JIT through the Executor.
//
// Loop (per step, exactly the reference's order): info log, stop check, snapshot of the
// state before the step, then either a proof step (writes the proof of step N -> N+1) or
// plain steps; then the --stop-at-preimage* checks. Plain steps are run in batches up to the
// next step where anything can happen, so no engine ever runs past an event.
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
#include "host/go_strconv.h"
#include "scheduler/step_pattern.h"
#include "interp/elf_loader.h"
#include "host/file_io.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "scheduler/executor.h"

namespace cb::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

struct Interrupted {};

// A pattern-valued flag: parsed (and rejected with urfave/cli's wording) at flag-parse time.
void add_pattern(CLI::App& app, const std::string& name, StepPattern& target, const std::string& help,
                 const std::string& default_text) {
  app.add_option_function<std::string>(
         "--" + name,
         [&target, name](const std::string& v) {
           try {
             target = StepPattern::parse(v);
           } catch (const StepPatternError& e) {
             throw CLI::ValidationError("invalid value " + go_quote(v) + " for flag -" + name + ": " + e.what());
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
    base.push_back(LogAttr::raw(
        "data", hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()))));
  }
  return base;
}

std::vector<uint8_t> from_hex_loose(std::string h) {
  // go-ethereum common.FromHex: optional 0x, odd length gets a leading 0, invalid -> empty.
  if (h.rfind("0x", 0) == 0 || h.rfind("0X", 0) == 0) h = h.substr(2);
  if (h.size() % 2) h = "0" + h;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < h.size(); i += 2) {
    unsigned v;
    if (std::sscanf(h.substr(i, 2).c_str(), "%2x", &v) != 1 || !std::isxdigit(uint8_t(h[i])) ||
        !std::isxdigit(uint8_t(h[i + 1])))
      return {};
    out.push_back(uint8_t(v));
  }
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

// Steps run between two looks at the clock / the interrupt flag: adapted so that a batch
// takes roughly 10-50 ms whatever the engine's speed.
constexpr uint64_t kMinBatch = uint64_t{1} << 14, kMaxBatch = uint64_t{1} << 28;

}  // namespace

int run_main(int argc, char** argv, const std::vector<std::string>& host_argv) {
  CLI::App app{"Run VM step(s) and generate proof data to replicate onchain.", "run"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // Go flag: last wins
  std::string input = "state.bin.gz", output = "out.bin.gz", proof_fmt = "proof-%d.json",
              snapshot_fmt = "state-%d.bin.gz", meta_path = "meta.json", debug_info;
  StepPattern proof_at, snapshot_at, stop_at, info_at = StepPattern::parse("%1000000000");
  std::string stop_preimage, stop_preimage_type, jit_s = "on", stop_larger_s;
  uint64_t host_timeout_ms = 0;
  uint64_t proof2_window = uint64_t{1} << 24;
  bool debug = false, pprof = false, progress_flag = true, jit_stats = false;
  const std::string pattern_help =
      "'never' (default), 'always', '=123' at exactly step 123, '%123' for every 123 steps";
  app.add_option("--input", input, "path of input binary state. Read up to the state's end, at most 10 GiB.")->required();
  app.add_option("--output", output, "path of output binary state. Not written if empty, use - to write to Stdout.");
  add_pattern(app, "proof-at", proof_at, "step pattern to output proof at: " + pattern_help, "never");
  app.add_option("--proof-fmt", proof_fmt, "format for proof data output file names. Proof data is written to stdout if -.");
  add_pattern(app, "snapshot-at", snapshot_at, "step pattern to output snapshots at: " + pattern_help, "never");
  app.add_option("--snapshot-fmt", snapshot_fmt, "format for snapshot output file names.");
  add_pattern(app, "stop-at", stop_at, "step pattern to stop at: " + pattern_help, "never");
  app.add_option("--stop-at-preimage", stop_preimage,
                 "stop at the first preimage request matching this key. Format: <key-prefix>@<offset>@<step>");
  app.add_option("--stop-at-preimage-type", stop_preimage_type, "stop at the first preimage request matching this type");
  app.add_option("--stop-at-preimage-larger-than", stop_larger_s,
                 "stop at the first step that requests a preimage larger than the specified size (in bytes)");
  app.add_option("--meta", meta_path, "path to metadata file for symbol lookup for enhanced debugging info during execution (at most 1 GiB).");
  add_pattern(app, "info-at", info_at, "step pattern to print info at: " + pattern_help, "%1000000000");
  app.add_flag("--pprof.cpu", pprof, "accepted and ignored (the reference's Go CPU profile; cannonball writes none)");
  app.add_flag("--debug", debug,
               "enable debug mode: track guest call stacks, print a traceback at the end (requires --meta; "
               "runs on the interpreter)");
  app.add_option("--debug-info", debug_info, "path to write debug info to");
  app.add_option("--jit", jit_s, "on|off: compile hot blocks (results are identical either way)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--jit-stats", jit_stats, "print where the JIT's steps and time went (stderr, at the end)");
  app.add_option("--host-timeout-ms", host_timeout_ms,
                 "fail a pre-image request the host has not answered after this long (0 = wait forever; "
                 "at most 86400000, one day)")
      ->check(CLI::Range(uint64_t{0}, kMaxHostTimeoutMs));
  app.add_option("--proof2-window", proof2_window,
                 "steps before a proof step from which clock_gettime memory proofs are taken (tests)")
      ->group("");
  app.add_option("--progress", progress_flag, "show a progress line when stderr is a terminal (default true)");
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
          "invalid --output file format. Only binary file formats (ending in .bin or bin.gz) are supported");
    check_name_pattern(proof_fmt);
    check_name_pattern(snapshot_fmt);
    if (!snapshot_fmt.empty() && !is_binary_name(format_step(snapshot_fmt, 0)))
      throw std::runtime_error(
          "invalid --snapshot-fmt file format. Only binary file formats (ending in .bin or bin.gz) are supported");

    // --stop-at-preimage / --stop-at-preimage-type / --stop-at-preimage-larger-than.
    bool stop_any = false;
    std::vector<uint8_t> stop_prefix;
    uint64_t stop_offset = 0, stop_step = 0;
    int64_t stop_larger = 0;
    if (app.count("--stop-at-preimage") > 0) {
      std::vector<std::string> parts;
      std::stringstream ss(stop_preimage);
      for (std::string p; std::getline(ss, p, '@');) parts.push_back(p);
      if (!stop_preimage.empty() && stop_preimage.back() == '@') parts.push_back("");
      if (parts.empty()) parts.push_back("");
      if (parts.size() > 3) throw std::runtime_error("invalid stop-at-preimage: " + stop_preimage);
      stop_prefix = from_hex_loose(parts[0]);
      std::string err;
      if (parts.size() >= 2 && !parse_dec_u64(parts[1], &stop_offset, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
      if (parts.size() == 3 && !parse_dec_u64(parts[2], &stop_step, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
    } else {
      static const std::pair<const char*, uint8_t> kTypes[] = {
          {"local", 1}, {"keccak", 2}, {"sha256", 4}, {"blob", 5}, {"precompile", 6}};
      bool ok = stop_preimage_type.empty();
      for (auto& [n, b] : kTypes)
        if (stop_preimage_type == n) {
          stop_prefix = {b};
          ok = true;
        }
      if (stop_preimage_type == "any") stop_any = ok = true;
      if (!ok) throw std::runtime_error("invalid preimage type " + go_quote(stop_preimage_type));
    }
    if (!stop_larger_s.empty()) {
      std::string err;
      uint64_t v = 0;
      bool neg = stop_larger_s[0] == '-';
      if (!parse_go_uint64(neg ? stop_larger_s.substr(1) : stop_larger_s, &v, &err) || v > uint64_t(INT64_MAX))
        throw std::runtime_error("invalid value " + go_quote(stop_larger_s) +
                                 " for flag -stop-at-preimage-larger-than: parse error");
      stop_larger = neg ? -int64_t(v) : int64_t(v);
    }
    const bool stop_on_preimage = stop_any || !stop_prefix.empty() || stop_larger != 0;

    Metadata meta;
    if (meta_path.empty()) {
      vlog("no metadata file specified, defaulting to empty metadata");
    } else {
      try {
        ReadLimits meta_limits;
        meta_limits.max_bytes = kMaxJsonFileBytes;
        meta_limits.should_abort = [] { return g_interrupted != 0; };
        std::vector<uint8_t> mb = read_file(meta_path, meta_limits);
        meta = Metadata::from_json(std::string_view(reinterpret_cast<const char*>(mb.data()), mb.size()));
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
    if (debug && meta_path.empty()) throw std::runtime_error("cannot enable debug mode without a metadata file");
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
          con.status("waiting on pre-image host for " + std::string(b) + " (step " + group_thousands(*cur_step) + ")");
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

    bool mute_guest = false;  // while re-running steps already run (see redo_for_proof2)
    Vm vm(state, host.get(), [&con, &mute_guest](int fd, const uint8_t* d, size_t n) {
      if (mute_guest) return;
      std::vector<LogAttr> base{LogAttr::str("module", "guest"), LogAttr::str("stream", fd == 1 ? "stdout" : "stderr")};
      con.info("", output_attrs(base, std::string_view(reinterpret_cast<const char*>(d), n)));
    });
    // Statistics only for --debug-info (the reference's EnableStats): a plain run pays nothing.
    if (!debug_info.empty()) vm.enable_stats();
    const ExecutorOptions exec_opts{jit_s == "on", jit_stats};
    auto exec = std::make_unique<Executor>(vm, exec_opts);

    // The second memory-proof slot of a proof is the proof taken at the last clock_gettime
    // before it (see Vm::set_track_proof2_from). Taking one at every clock_gettime slows a
    // long run several-fold, so they are taken only within proof2_window steps before the
    // next proof step. When the last clock_gettime came earlier than that, the proof step is
    // redone: the input is reloaded and re-run (guest output muted) with the window opened at
    // that clock_gettime. Rare for Go guests (they read the clock far more often), and exact.
    auto open_proof2_window = [&](uint64_t from_step) {
      const uint64_t np = proof_at.next_match(from_step);
      vm.set_track_proof2_from(np == StepPattern::kNoMatch && !proof_at.matches(np) ? StepPattern::kNoMatch
                               : np > proof2_window                                 ? np - proof2_window
                                                                                    : 0);
    };
    auto redo_for_proof2 = [&](uint64_t p, StepWitness& w) -> StepStatus {
      const uint64_t k = vm.last_track2_step();
      vlog("re-running to the proof step for the reference's second memory proof",
           {LogAttr::num("step", p), LogAttr::num("clock_gettime_step", k - 1)});
      exec.reset();  // the engine must not outlive the memory it compiled against
      try {
        state = load_state(input);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("failed to reload state: ") + e.what());
      }
      // The first slot is kept: the non-proof steps of the re-run do not touch it, so the
      // redone step sees the same one as the first attempt.
      vm.set_track_proof2_from(k);
      // The re-run repeats steps already counted: count them afresh from the input state.
      if (vm.stats()) vm.enable_stats();
      StepStatus st;
      {
        Executor again(vm, exec_opts);
        mute_guest = true;
        st = again.run_until(p);
        mute_guest = false;
      }
      if (st == StepStatus::kOk && state.step != p)
        throw std::runtime_error("re-run for the proof of step " + std::to_string(p) + " ended at step " +
                                 std::to_string(state.step));
      if (st == StepStatus::kOk) st = vm.step_with_proof(w);
      if (st == StepStatus::kOk && !vm.proof2_current())
        throw std::runtime_error("internal: second memory proof of step " + std::to_string(p) + " still stale");
      exec = std::make_unique<Executor>(vm, exec_opts);
      return st;
    };

    const auto start = std::chrono::steady_clock::now();
    auto last_draw = start;
    const uint64_t start_step = state.step;
    auto progress = [&](bool force) {
      if (!con.progress_enabled()) return;
      auto now = std::chrono::steady_clock::now();
      if (!force && now - last_draw < std::chrono::milliseconds(250)) return;
      last_draw = now;
      double secs = std::chrono::duration<double>(now - start).count();
      double ips = secs > 0 ? double(state.step - start_step) / secs : 0;
      std::string line = "step " + group_thousands(state.step) + "  " + human_rate(ips) + "steps/s";
      if (stop_at.kind() == StepPattern::Kind::kExact && stop_at.value() > state.step && ips > 0) {
        double left = double(stop_at.value() - state.step) / ips;
        line += "  " + std::to_string(int(100.0 * double(state.step - start_step) /
                                          double(stop_at.value() - start_step))) +
                "%  ETA " + human_duration(left);
      }
      con.status(line);
    };

    uint64_t batch = uint64_t{1} << 20;
    uint64_t fail_step = 0;  // the step being executed when an error struck
    const char* fail_what = "failed at step";
    try {
      while (!state.exited) {
        if (g_interrupted) throw Interrupted{};
        const uint64_t step = state.step;
        if (info_at.matches(step)) {
          double secs = std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          uint64_t pc = state.active().empty() ? 0 : state.current().cpu.pc;
          uint32_t insn = fetch_insn(*state.memory, pc & ~uint64_t{3});
          vlog("processing", {LogAttr::num("step", step), LogAttr::str("pc", hex_u32(pc)),
                              LogAttr::str("insn", hex_u32(insn)), LogAttr::flt("ips", double(step - start_step) / secs),
                              LogAttr::num("pages", state.memory->page_count()),
                              LogAttr::str("mem", human_bytes(state.memory->usage_bytes())),
                              LogAttr::str("name", meta.lookup(pc))});
        }
        if (stop_at.matches(step)) {
          vlog("Reached stop at");
          break;
        }
        if (snapshot_at.matches(step)) {
          try {
            write_state(format_step(snapshot_fmt, step), state);
          } catch (const std::exception& e) {
            throw std::runtime_error(std::string("failed to write state snapshot: ") + e.what());
          }
        }
        fail_step = step;
        open_proof2_window(step);
        StepStatus st;
        if (proof_at.matches(step)) {
          fail_what = "failed at proof-gen step";
          StepWitness w;
          if (stacks) stacks->before_step(state);
          st = vm.step_with_proof(w);
          if (st == StepStatus::kOk && !vm.proof2_current()) st = redo_for_proof2(step, w);
          if (st == StepStatus::kOk) {
            std::string j = proof_json(step, w, state.hash());
            try {
              write_output(format_step(proof_fmt, step), bytes_of(j));
            } catch (const std::exception& e) {
              throw std::runtime_error(std::string("failed to write proof data: ") + e.what());
            }
          }
        } else {
          fail_what = "failed at step";
          uint64_t next = std::min({stop_at.next_match(step + 1), snapshot_at.next_match(step + 1),
                                    proof_at.next_match(step + 1), info_at.next_match(step + 1),
                                    step + batch});
          const auto t0 = std::chrono::steady_clock::now();
          st = stacks ? stacks->run_until(vm, next, stop_on_preimage) : exec->run_until(next, stop_on_preimage);
          if (next == step + batch && state.step == next) {
            const auto took = std::chrono::steady_clock::now() - t0;
            if (took < std::chrono::milliseconds(10)) batch = std::min(batch * 2, kMaxBatch);
            else if (took > std::chrono::milliseconds(50)) batch = std::max(batch / 2, kMinBatch);
          }
          if (st != StepStatus::kOk) fail_step = state.step - 1;
          progress(false);
        }
        if (st != StepStatus::kOk) {
          uint64_t pc = state.active().empty() ? 0 : state.current().cpu.pc;
          char b[160];
          std::snprintf(b, sizeof b, "%s %" PRIu64 " (PC: %08" PRIx64 "): vm panic: ", fail_what, fail_step, pc);
          con.clear_status();
          // The reference prints the traceback before panicking on an unknown syscall.
          if (stacks && vm.panic_message().rfind("unrecognized syscall", 0) == 0) stacks->traceback(state, stdout);
          print_error(b + vm.panic_message());
          rc = kExitVmPanic;
          break;
        }
        if (stop_on_preimage && vm.last_step_read_preimage()) {
          const uint64_t read_step = state.step - 1;
          const Hash32& key = vm.last_preimage_key();
          const int64_t size = int64_t(vm.last_preimage().size());
          const uint64_t offset = vm.last_preimage_offset();
          if (stop_any) {
            vlog("Stopping at preimage read");
            break;
          }
          bool prefix_ok = !stop_prefix.empty() && stop_prefix.size() <= key.size() &&
                           std::equal(stop_prefix.begin(), stop_prefix.end(), key.begin());
          bool size_ok = stop_larger != 0 && size > stop_larger;
          std::string prefix_hex = hex(std::span<const uint8_t>(stop_prefix), false);
          if (prefix_ok && size_ok) {
            vlog("Stopping at preimage read", {LogAttr::str("keyPrefix", prefix_hex), LogAttr::num("size", uint64_t(size)),
                                               LogAttr::raw("min", std::to_string(stop_larger))});
            break;
          }
          if (prefix_ok && stop_larger == 0 && stop_offset == offset && read_step >= stop_step) {
            vlog("Stopping at preimage read", {LogAttr::str("keyPrefix", prefix_hex), LogAttr::num("offset", offset),
                                               LogAttr::num("step", read_step)});
            break;
          }
          if (size_ok && stop_prefix.empty()) {
            vlog("Stopping at preimage read",
                 {LogAttr::num("size", uint64_t(size)), LogAttr::raw("min", std::to_string(stop_larger))});
            break;
          }
        }
      }
    } catch (const OracleError& e) {
      // The step that made the request (the VM counts a step before executing it).
      if (state.step > fail_step) fail_step = state.step - 1;
      uint64_t pc = state.active().empty() ? 0 : state.current().cpu.pc;
      char b[160];
      std::snprintf(b, sizeof b, "%s %" PRIu64 " (PC: %08" PRIx64 "): ", fail_what, fail_step, pc);
      throw std::runtime_error(b + std::string(e.what()));
    }
    con.clear_status();
    if (jit_stats) std::fputs(exec->jit_stats_report().c_str(), stderr);
    if (rc == kExitOk) {
      vlog("Execution stopped",
           {LogAttr::raw("exited", state.exited ? "true" : "false"), LogAttr::num("code", state.exit_code)});
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
