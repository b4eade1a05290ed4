#include "cli/batch_commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "cli/batch_shard.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/preimage_host.h"
#include "cli/proof_json.h"
#include "host/file_io.h"
#include "host/go_strconv.h"
#include "interp/state_io.h"
#include "scheduler/bisect.h"
#include "scheduler/step_pattern.h"
#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb::cli {

namespace {

std::optional<int> parse(CLI::App& app, const SplitArgs& a) {
  return parse_flags(app, a.argc, a.argv);
}

uint64_t parse_step(const std::string& text, const char* what) {
  uint64_t v;
  std::string err;
  if (!parse_go_uint64(text, &v, &err))
    throw std::runtime_error(std::string("invalid ") + what + " \"" + text + "\": " + err);
  return v;
}

// "1,5,0x10" plus optional patterns ("%N", "=N", "always") into a selection.
void add_step_spec(const std::string& spec, StepSelection& sel, bool allow_patterns,
                   const char* what) {
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    if (item[0] == '%' || item[0] == '=' || item == "always" || item == "never") {
      if (!allow_patterns)
        throw std::runtime_error(std::string("invalid ") + what + " \"" + item +
                                 "\": a step number is expected");
      StepPattern p = StepPattern::parse(item);
      if (p.kind() == StepPattern::Kind::kExact) sel.list.push_back(p.value());
      if (p.kind() == StepPattern::Kind::kAlways) sel.every = 1;
      if (p.kind() == StepPattern::Kind::kEvery) {
        if (sel.every != 0 && sel.every != p.value())
          throw std::runtime_error(std::string("only one %N pattern per ") + what);
        sel.every = p.value();
      }
      continue;
    }
    sel.list.push_back(parse_step(item, what));
  }
}

// A file of steps: the first field of each non-empty line ("STEP" or "STEP HASH" lines).
void add_step_file(const std::string& path, std::vector<uint64_t>& out) {
  std::vector<uint8_t> bytes = read_text_file(path);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    std::istringstream ls(line);
    std::string first;
    if (!(ls >> first) || first[0] == '#') continue;
    try {
      out.push_back(parse_step(first, "step"));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
}

void write_text(const std::string& path, const std::string& text) {
  write_output(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

std::unique_ptr<HostProcess> start_host(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) return nullptr;
  return std::make_unique<HostProcess>(argv, HostOptions{});
}

// Prints "label: i/n" at most every `every_s` seconds, and at the end.
class Progress {
 public:
  Progress(std::string label, uint64_t total, double every_s)
      : m_label(std::move(label)), m_total(total), m_every(every_s) {}
  void tick(uint64_t done) {
    auto now = std::chrono::steady_clock::now();
    if (m_every <= 0) return;
    if (done != m_total && std::chrono::duration<double>(now - m_last).count() < m_every) return;
    m_last = now;
    double secs = std::chrono::duration<double>(now - m_start).count();
    info("%s: %" PRIu64 "/%" PRIu64 " done, %.1f s", m_label.c_str(), done, m_total, secs);
  }

 private:
  std::string m_label;
  uint64_t m_total;
  double m_every;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now(),
                                        m_last = m_start;
};

}  // namespace

int trace_main(int argc, char** argv) {
  SplitArgs a = split_host(argc, argv);
  CLI::App app{"Run once, recording checkpoints and state hashes into a trace directory", "trace"};
  std::string input = "state.bin.gz", dir, hashes_at, jit_s = "on";
  uint64_t every = 100'000'000;
  std::string stop_at_s;
  int game_depth = -1, game_max_depth = 42, zstd_level = 3;
  uint32_t full_every = kFullEveryAuto;
  bool no_sync = false, guest_output = false;
  double progress_s = 5;
  uint64_t proof2_window = kProof2Window;
  add_proof2_window_flag(app, proof2_window);
  app.add_option(
      "--input", input,
      "initial state file (.bin or .bin.gz; read as far as the state extends, at most 10 GiB)");
  app.add_option("--dir", dir,
                 "trace directory to write (created; its old checkpoints are removed)")
      ->required();
  app.add_option("--checkpoint-every", every,
                 "steps between checkpoints (aligned to multiples; 1..2^62)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app.add_option("--hashes-at", hashes_at,
                 "steps whose state hash to record: N,N,... =N %N always");
  app.add_option(
         "--game-depth", game_depth,
         "also record the claims a dispute game asks for at this depth (0..--game-max-depth)")
      ->check(CLI::Range(0, 63));
  app.add_option("--game-max-depth", game_max_depth,
                 "depth of the execution-trace game (mainnet: 73-30-1 = 42; 1..63)")
      ->check(CLI::Range(1, 63));
  app.add_option("--stop-at", stop_at_s,
                 "stop at this step (exclusive) if the VM has not exited: N or =N (as run's)");
  app.add_option("--jit", jit_s, "on|off")->check(CLI::IsMember({"on", "off"}));
  app.add_option("--zstd-level", zstd_level, "checkpoint compression level (1..19)")
      ->check(CLI::Range(1, 19));
  app.add_option("--full-every", full_every,
                 "every Nth checkpoint is stored in full (0: only the first; at most 1000000; "
                 "default: automatic, when the last full one and the deltas since hold twice "
                 "the pages of the memory, or after 2048 deltas)")
      ->check(CLI::Range(uint32_t{0}, uint32_t{1'000'000}));
  app.add_flag("--no-sync", no_sync, "do not fsync checkpoint files");
  app.add_flag("--guest-output", guest_output, "forward the guest's stdout/stderr");
  app.add_option("--progress-every", progress_s,
                 "seconds between progress lines (0: none; at most 86400)")
      ->check(CLI::Range(0.0, kMaxProgressSeconds));
  if (auto rc = parse(app, a)) return *rc;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    TraceOptions opt;
    if (every == 0) throw std::runtime_error("--checkpoint-every must be positive");
    opt.checkpoint_every = every;
    add_step_spec(hashes_at, opt.hash_at, true, "--hashes-at");
    if (game_depth >= 0) {
      if (game_max_depth < 1 || game_max_depth > 63 || game_depth > game_max_depth)
        throw std::runtime_error("--game-depth must be in 0..--game-max-depth (at most 63)");
      StepSelection g = game_positions(unsigned(game_depth), unsigned(game_max_depth));
      if (opt.hash_at.every != 0)
        throw std::runtime_error("--game-depth cannot be combined with a %N pattern");
      opt.hash_at.every = g.every;
      opt.hash_at.every_from = g.every_from;
      opt.hash_at.every_to = g.every_to;
    }
    if (!stop_at_s.empty() && stop_at_s != "never") {
      // run's --stop-at pattern "=N" means the same as N here; other patterns have no
      // meaning for one trace.
      if (stop_at_s[0] == '%' || stop_at_s == "always")
        throw std::runtime_error("invalid --stop-at \"" + stop_at_s +
                                 "\": trace stops at one step, N or =N");
      opt.stop_at = parse_step(stop_at_s[0] == '=' ? stop_at_s.substr(1) : stop_at_s, "--stop-at");
    }
    opt.jit = jit_s == "on";
    opt.proof2_window = proof2_window;
    opt.writer.zstd_level = zstd_level;
    opt.writer.full_every = full_every;
    opt.writer.sync = !no_sync;
    opt.input_label = input;
    opt.progress_seconds = progress_s;
    opt.progress = [](uint64_t step, double sps) {
      info("trace: step %" PRIu64 ", %.1f Msteps/s", step, sps / 1e6);
    };
    if (guest_output)
      opt.guest_output = [](int fd, const uint8_t* d, size_t n) {
        std::fwrite(d, 1, n, fd == 1 ? stdout : stderr);
      };
    State state = load_state(input);
    auto host = start_host(a.host);
    TraceSummary s = record_trace(std::move(state), host.get(), dir, opt);
    if (host) host->stop();
    std::fflush(stdout);
    info("trace: steps %" PRIu64 "..%" PRIu64 " in %.2f s (%.1f Msteps/s), %s", s.start_step,
         s.final_step, s.seconds,
         double(s.final_step - s.start_step) / std::max(s.seconds, 1e-9) / 1e6,
         s.exited ? ("exited with code " + std::to_string(s.exit_code)).c_str() : "not exited");
    info("trace: %" PRIu64 " checkpoints, %s on disk (%" PRIu64
         " pages, %s uncompressed), writer busy %.2f s",
         s.checkpoints, human_bytes(s.store.bytes).c_str(), s.store.pages,
         human_bytes(s.store.raw_bytes).c_str(), s.store.busy_seconds);
    info("trace: final state %s; %" PRIu64 " steps re-run for second proof slots",
         hex(s.final_hash).c_str(), s.proof2_rerun_steps);
    if (s.panicked) {
      print_error("vm panic: " + s.panic_message + " (trace kept up to step " +
                  std::to_string(s.final_step) + ")");
      return kExitVmPanic;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int prove_main(int argc, char** argv) {
  SplitArgs a = split_host(argc, argv);
  CLI::App app{"Proofs and state hashes at many steps of a recorded trace", "prove"};
  std::string dir, steps_s, steps_file, hash_s, hash_file, proof_fmt, hashes_out = "-",
                                                                      jit_s = "on";
  unsigned threads = 0;
  double progress_s = 2;
  uint64_t proof2_window = kProof2Window;
  add_proof2_window_flag(app, proof2_window);
  app.add_option("--dir", dir, "trace directory (cannonball trace)")->required();
  app.add_option("--steps", steps_s, "steps to prove (N,N,...): the proof of N -> N+1");
  app.add_option("--steps-file", steps_file,
                 "file of steps to prove (first field of each line; at most 64 MiB)");
  app.add_option("--hash-at", hash_s, "steps whose state hash to print (N,N,...)");
  app.add_option("--hash-at-file", hash_file,
                 "file of steps whose state hash to print (at most 64 MiB)");
  app.add_option("--proof-fmt", proof_fmt,
                 "proof file names (default <dir>/proofs/proof-%d.json; '-' stdout)");
  app.add_option("--hashes-out", hashes_out, "where the \"STEP HASH\" lines go ('-' stdout)");
  app.add_option("-j,--threads", threads, "worker threads (0: all cores; at most 256)")
      ->check(CLI::Range(0u, kMaxThreads));
  app.add_option("--jit", jit_s, "on|off")->check(CLI::IsMember({"on", "off"}));
  app.add_option("--progress-every", progress_s,
                 "seconds between progress lines (0: none; at most 86400)")
      ->check(CLI::Range(0.0, kMaxProgressSeconds));
  std::string shard_s, batch_dir;
  app.add_option("--shard", shard_s,
                 "K/N: do only shard K (0-based) of N, resumably (cli/batch_shard.h); the hashes "
                 "come from 'cannonball batch merge', not --hashes-out");
  app.add_option("--batch-dir", batch_dir,
                 "with --shard: shared plan and results (default <dir>/batch)");
  if (auto rc = parse(app, a)) return *rc;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    StepSelection proofs, hashes;
    add_step_spec(steps_s, proofs, false, "--steps");
    add_step_spec(hash_s, hashes, false, "--hash-at");
    if (!steps_file.empty()) add_step_file(steps_file, proofs.list);
    if (!hash_file.empty()) add_step_file(hash_file, hashes.list);
    proofs.normalize();
    hashes.normalize();
    if (proofs.list.empty() && hashes.list.empty())
      throw std::runtime_error("nothing to do: give --steps or --hash-at");
    if (proof_fmt.empty()) proof_fmt = dir + "/proofs/proof-%d.json";
    check_name_pattern(proof_fmt);
    if (!shard_s.empty()) {
      if (proof_fmt == "-")
        throw std::runtime_error("--shard needs proof files, not --proof-fmt -");
      if (app.count("--hashes-out"))
        throw std::runtime_error(
            "--hashes-out does not apply to --shard: 'cannonball batch merge' writes the hashes");
      ShardRunOptions o;
      o.shard = parse_shard(shard_s);
      o.batch_dir = batch_dir.empty() ? dir + "/batch" : batch_dir;
      o.threads = threads;
      o.jit = jit_s == "on";
      o.proof2_window = proof2_window;
      o.progress_seconds = progress_s;
      o.host = a.host;
      o.proof_path = [&](uint32_t, uint64_t step) { return format_step(proof_fmt, step); };
      return run_batch_shard("prove", {BatchJob{dir, true, proofs.list, hashes.list, proof_fmt}},
                             o);
    }
    if (!batch_dir.empty()) throw std::runtime_error("--batch-dir needs --shard");

    TraceReader trace(dir);
    std::vector<StepRequest> reqs;
    for (uint64_t s : proofs.list) reqs.push_back({s, true, false});
    for (uint64_t s : hashes.list) reqs.push_back({s, false, true});
    // Load every checkpoint needed up front (deltas build on each other), then go parallel.
    CheckpointSet ckpts;
    for (const StepRequest& r : reqs) {
      auto at = trace.checkpoints().at_or_before(r.step);
      if (at && !ckpts.exact(*at)) ckpts.add(trace.checkpoints().load(*at));
    }
    if (proof_fmt != "-") {
      auto parent = std::filesystem::path(format_step(proof_fmt, 0)).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
    }

    auto host = start_host(a.host);
    SharedOracle oracle(host.get());
    std::map<uint64_t, Hash32> hash_out;
    std::vector<std::string> errors;
    uint64_t done_n = 0, total = proofs.list.size() + hashes.list.size();
    Progress progress("prove", total, progress_s);
    std::set<uint64_t> want_hash(hashes.list.begin(), hashes.list.end());
    std::set<uint64_t> want_proof(proofs.list.begin(), proofs.list.end());
    JobStats js = run_step_jobs(
        reqs, [&](uint64_t step) { return ckpts.at_or_before(step); }, oracle.get(),
        JobOptions{threads, jit_s == "on", proof2_window},
        [&](StepResult&& r) {
          done_n += (r.proof ? 1 : 0) + (r.hash ? 1 : 0);
          if (!r.error.empty()) {
            errors.push_back("step " + std::to_string(r.step) + ": " + r.error);
          } else {
            if (r.hash) hash_out[r.step] = r.state_hash;
            if (r.proof) {
              std::string j = proof_json(r.step, r.witness, r.post_hash);
              try {
                write_text(format_step(proof_fmt, r.step), j);
              } catch (const std::exception& e) {
                errors.push_back(e.what());
              }
            }
          }
          progress.tick(done_n);
        });
    if (host) host->stop();
    std::string text;
    for (auto& [step, h] : hash_out) text += std::to_string(step) + " " + hex(h) + "\n";
    if (!text.empty()) write_text(hashes_out, text);
    std::fflush(stdout);
    info("prove: %zu proofs, %zu hashes from %" PRIu64 " checkpoint groups; executed %" PRIu64
         " steps in %.2f s (a run from the start to each step would execute %" PRIu64 ")",
         proofs.list.size(), hashes.list.size(), js.groups, js.steps_executed, js.seconds, [&] {
           uint64_t n = 0;
           for (auto& r : reqs) n += r.step - trace.start_step() + (r.proof ? 1 : 0);
           return n;
         }());
    if (!errors.empty()) {
      std::sort(errors.begin(), errors.end());
      for (size_t i = 0; i + 1 < errors.size() && i < 9; ++i) info("error: %s", errors[i].c_str());
      print_error(errors.size() > 1
                      ? std::to_string(errors.size()) + " requests failed; last: " + errors.back()
                      : errors.back());
      return kExitError;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int bisect_main(int argc, char** argv) {
  SplitArgs a = split_host(argc, argv);
  CLI::App app{"Find the first step where a trace and another trace or claimed hashes differ",
               "bisect"};
  std::string dir, other, claims_path, proof_out, jit_s = "on";
  bool verbose = false;
  uint64_t proof2_window = kProof2Window;
  add_proof2_window_flag(app, proof2_window);
  app.add_option("--dir", dir, "our trace directory (re-executed and proved)")->required();
  auto* o1 = app.add_option("--other", other, "the other trace directory");
  auto* o2 = app.add_option("--claims", claims_path,
                            "file of claimed \"STEP HASH\" lines (at most 64 MiB)");
  o1->excludes(o2);
  app.add_option(
      "--proof-out", proof_out,
      "where the proof of the first differing step goes (default <dir>/bisect-proof-%d.json)");
  app.add_option("--jit", jit_s, "on|off")->check(CLI::IsMember({"on", "off"}));
  app.add_flag("-v,--verbose", verbose, "print every probe");
  if (auto rc = parse(app, a)) return *rc;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (other.empty() == claims_path.empty())
      throw std::runtime_error("give exactly one of --other and --claims");
    if (proof_out.empty()) proof_out = dir + "/bisect-proof-%d.json";
    check_name_pattern(proof_out);
    TraceReader ours_trace(dir);
    auto host = start_host(a.host);
    SharedOracle oracle(host.get());
    bool jit = jit_s == "on";
    TraceSide ours(ours_trace, oracle.get(), jit, proof2_window);
    std::unique_ptr<TraceReader> other_trace;
    std::unique_ptr<BisectSide> theirs;
    if (!other.empty()) {
      other_trace = std::make_unique<TraceReader>(other);
      theirs = std::make_unique<TraceSide>(*other_trace, oracle.get(), jit, proof2_window);
    } else {
      theirs = std::make_unique<ClaimsSide>(read_step_hashes(claims_path));
    }
    BisectOptions bo;
    bo.on_probe = [&](uint64_t step, const Hash32& x, const Hash32& y, bool agree) {
      if (verbose) info("bisect: step %" PRIu64 " %s", step, agree ? "agrees" : "differs");
    };
    BisectResult r = bisect(ours, *theirs, bo);
    if (host) host->stop();
    using O = BisectResult::Outcome;
    switch (r.outcome) {
      case O::kNoDifference:
        std::printf("no difference: every compared step agrees (up to step %" PRIu64 ")\n",
                    r.agree_step);
        break;
      case O::kPrestateDiffers:
        std::printf("the states differ already at the start, step %" PRIu64 ": nothing to prove\n",
                    r.differ_step);
        break;
      case O::kGap:
        std::printf("agree at step %" PRIu64 ", differ at step %" PRIu64
                    ", no claim in between: the first differing post-state is in that range\n",
                    r.agree_step, r.differ_step);
        break;
      case O::kFound:
        std::printf("first differing step: %" PRIu64 " (the post-state of step %" PRIu64
                    " -> %" PRIu64 ")\n",
                    r.differ_step, r.agree_step, r.differ_step);
        break;
      case O::kInconsistent:
        std::printf("steps executed: %" PRIu64 " in %" PRIu64 " probes\n", r.steps_executed,
                    r.probes);
        std::fflush(stdout);
        print_error("the other side is inconsistent: it differs at step " +
                    std::to_string(r.differ_step) + " (ours " + hex(r.ours) + ", theirs " +
                    hex(r.theirs) + ") but agrees again at step " + std::to_string(r.agree_step) +
                    "; there is no first difference to prove");
        return kExitError;
    }
    if (r.outcome == O::kFound || r.outcome == O::kGap || r.outcome == O::kPrestateDiffers) {
      std::printf("ours:   %s\ntheirs: %s\n", hex(r.ours).c_str(), hex(r.theirs).c_str());
    }
    if (r.outcome == O::kFound) {
      if (!r.proof.error.empty())
        throw std::runtime_error("proof of step " + std::to_string(r.agree_step) + ": " +
                                 r.proof.error);
      std::string path = format_step(proof_out, r.agree_step);
      if (path != "-" && std::filesystem::path(path).has_parent_path())
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      write_text(path, proof_json(r.agree_step, r.proof.witness, r.proof.post_hash));
      std::printf("proof of step %" PRIu64 " written to %s\n", r.agree_step, path.c_str());
    }
    std::printf("steps executed: %" PRIu64 " in %" PRIu64
                " probes; a naive re-run from step %" PRIu64 " would execute %" PRIu64 "\n",
                r.steps_executed, r.probes, ours_trace.start_step(), r.naive_steps);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

// Step lists for other commands (cli/batch_shard.cpp), parsed exactly as prove's flags.
void parse_step_list(const std::string& spec, std::vector<uint64_t>& out, const char* what) {
  StepSelection sel;
  add_step_spec(spec, sel, false, what);
  out.insert(out.end(), sel.list.begin(), sel.list.end());
}
void read_step_list_file(const std::string& path, std::vector<uint64_t>& out) {
  add_step_file(path, out);
}

}  // namespace cb::cli
