#include "cli/batch_shard.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/batch_commands.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/preimage_host.h"
#include "cli/proof_json.h"
#include "cli/window_command.h"
#include "host/file_io.h"
#include "scheduler/trace.h"
#include "scheduler/trace_jobs.h"

namespace cb::cli {

namespace {

void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

void write_string(const std::string& path, const std::string& text) {
  write_output(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The checkpoint steps each job's requests can start from.
std::vector<std::vector<uint64_t>> job_checkpoints(const std::vector<BatchJob>& jobs) {
  std::vector<std::vector<uint64_t>> out;
  for (const BatchJob& j : jobs) {
    if (j.trace) {
      CheckpointReader r(j.source);
      if (r.steps().empty()) throw CheckpointError("trace " + j.source + " has no checkpoints");
      out.push_back(r.steps());
    } else {
      out.push_back({load_state(j.source).step});
    }
  }
  return out;
}

// The steps of a unit (proofs and hashes, merged), ascending.
std::vector<uint64_t> unit_all_steps(const BatchJob& job, const BatchUnit& u) {
  std::vector<uint64_t> a = unit_steps(job.proofs, u), b = unit_steps(job.hashes, u), out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string missing_shards(const BatchProgress& p) {
  std::set<uint32_t> s;
  for (const BatchUnit* u : p.incomplete) s.insert(u->shard);
  std::string out;
  for (uint32_t i : s) out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

std::string incomplete_message(const BatchPlan& plan, const BatchProgress& p) {
  return "batch incomplete: " + std::to_string(p.incomplete.size()) + " of " +
         plural(plan.units.size(), "unit", "units") + " missing (shards " + missing_shards(p) + ")";
}

// Runs the units of one job that `todo` lists; reports into the callbacks.
struct JobRun {
  const BatchPlan& plan;
  const ShardRunOptions& options;
  PreimageOracle* oracle;
  std::vector<std::string>& errors;
  uint64_t units_done = 0, steps_executed = 0;
  uint64_t items_done = 0, items_total = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last = start;

  void tick() {
    ++items_done;
    auto now = std::chrono::steady_clock::now();
    if (options.progress_seconds <= 0 ||
        (items_done != items_total &&
         std::chrono::duration<double>(now - last).count() < options.progress_seconds))
      return;
    last = now;
    note("shard %u/%u: %" PRIu64 "/%" PRIu64 " steps done, %.1f s", options.shard.index,
         options.shard.count, items_done, items_total,
         std::chrono::duration<double>(now - start).count());
  }

  void run(uint32_t job_index, const std::vector<const BatchUnit*>& todo) {
    const BatchJob& job = plan.jobs[job_index];
    CheckpointSet ckpts;
    try {
      if (job.trace) {
        TraceReader trace(job.source);
        for (const BatchUnit* u : todo) ckpts.add(trace.checkpoints().load(u->from));
      } else {
        State s = load_state(job.source);
        if (s.step != todo.front()->from)
          throw std::runtime_error(job.source + " starts at step " + std::to_string(s.step) +
                                   ", the plan at " + std::to_string(todo.front()->from) +
                                   " (the file changed)");
        ckpts.add(Checkpoint::adopt(std::move(s)));
      }
    } catch (const std::exception& e) {
      errors.push_back(job.source + ": " + e.what());
      return;
    }
    struct Pending {
      const BatchUnit* unit;
      size_t left;
      bool failed = false;
      UnitResult result;
    };
    std::map<uint64_t, Pending> pending;  // by unit.from
    std::vector<StepRequest> reqs;
    for (const BatchUnit* u : todo) {
      std::vector<uint64_t> all = unit_all_steps(job, *u);
      pending.emplace(u->from, Pending{u, all.size(), false, {}});
      for (uint64_t s : unit_steps(job.proofs, *u)) reqs.push_back({s, true, false});
      for (uint64_t s : unit_steps(job.hashes, *u)) reqs.push_back({s, false, true});
    }
    std::set<std::string> made_dirs;
    JobStats js = run_step_jobs(
        reqs, [&](uint64_t step) { return ckpts.at_or_before(step); }, oracle,
        JobOptions{options.threads, options.jit, options.proof2_window},
        [&](StepResult&& r) {
          auto it = pending.upper_bound(r.step);
          if (it == pending.begin()) return;  // cannot happen: every request is in a unit
          Pending& p = std::prev(it)->second;
          try {
            if (!r.error.empty()) throw std::runtime_error(r.error);
            if (r.hash) p.result.hashes[r.step] = r.state_hash;
            if (r.proof) {
              std::string path = options.proof_path(job_index, r.step);
              auto parent = std::filesystem::path(path).parent_path();
              if (!parent.empty() && made_dirs.insert(parent.string()).second)
                std::filesystem::create_directories(parent);
              write_string(path, proof_json(r.step, r.witness, r.post_hash));
              p.result.proofs[r.step] = path;
            }
          } catch (const std::exception& e) {
            p.failed = true;
            errors.push_back(job.source + ": step " + std::to_string(r.step) + ": " + e.what());
          }
          tick();
          if (--p.left == 0 && !p.failed) {
            try {
              write_unit_result(options.batch_dir, *p.unit, p.result);
              ++units_done;
            } catch (const std::exception& e) {
              errors.push_back(e.what());
            }
          }
        });
    steps_executed += js.steps_executed;
  }
};

}  // namespace

int run_batch_shard(const std::string& kind, std::vector<BatchJob> jobs,
                    const ShardRunOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  const uint32_t k = options.shard.index, n = options.shard.count;
  for (BatchJob& j : jobs)
    for (auto* v : {&j.proofs, &j.hashes}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
  // Plan only when no shard has yet: the plan on disk (checked against our inputs) wins.
  BatchPlan wanted;
  if (std::filesystem::exists(options.batch_dir + "/plan.json")) {
    wanted.kind = kind;
    wanted.shards = n;
    wanted.jobs = jobs;
  } else {
    wanted = make_batch_plan(kind, jobs, job_checkpoints(jobs), n);
  }
  BatchPlan plan = establish_batch_plan(options.batch_dir, wanted);

  std::map<uint32_t, std::vector<const BatchUnit*>> todo;
  uint64_t mine = 0, skipped = 0, proofs = 0, hashes = 0;
  for (const BatchUnit& u : plan.units) {
    if (u.shard != k) continue;
    ++mine;
    if (read_unit_result(options.batch_dir, plan, u)) {
      ++skipped;
      continue;
    }
    todo[u.job].push_back(&u);
    proofs += u.proofs;
    hashes += u.hashes;
  }
  note("shard %u/%u: %s assigned, %" PRIu64 " already complete; running %" PRIu64 " (%s, %s)", k, n,
       plural(mine, "unit", "units").c_str(), skipped, mine - skipped,
       plural(proofs, "proof", "proofs").c_str(), plural(hashes, "hash", "hashes").c_str());
  if (todo.empty()) return kExitOk;

  std::unique_ptr<HostProcess> host;
  if (!options.host.empty() && !options.host[0].empty())
    host = std::make_unique<HostProcess>(options.host, HostOptions{});
  SharedOracle oracle(host.get());
  std::vector<std::string> errors;
  JobRun jr{plan, options, oracle.get(), errors};
  for (auto& [job, units] : todo)
    for (const BatchUnit* u : units) jr.items_total += unit_all_steps(plan.jobs[job], *u).size();
  for (auto& [job, units] : todo) jr.run(job, units);
  if (host) host->stop();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  note("shard %u/%u: %" PRIu64 " of %" PRIu64 " units completed, %" PRIu64
       " steps executed, %.2f s",
       k, n, jr.units_done, mine - skipped, jr.steps_executed, secs);
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    for (size_t i = 0; i + 1 < errors.size() && i < 9; ++i) note("error: %s", errors[i].c_str());
    print_error(errors.size() > 1
                    ? std::to_string(errors.size()) + " requests failed; last: " + errors.back()
                    : errors.back());
    return kExitError;
  }
  return kExitOk;
}

namespace {

// One job per line: SOURCE PROOFS [HASHES]. SOURCE is a trace directory or a state file;
// PROOFS and HASHES are "-" (none) or comma lists of steps and @FILE step files.
std::vector<BatchJob> read_jobs_file(const std::string& path, const std::string& batch_dir) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open jobs file " + path);
  std::vector<BatchJob> jobs;
  std::string line;
  constexpr size_t kMaxLine = 1 << 20;  // a jobs line is short; refuse a runaway one
  for (size_t n = 1; std::getline(in, line); ++n) {
    std::string where = path + ":" + std::to_string(n);
    if (line.size() > kMaxLine) throw std::runtime_error(where + ": line too long");
    std::istringstream ls(line);
    std::string source, proofs_s, hashes_s, extra;
    if (!(ls >> source) || source[0] == '#') continue;
    if (!(ls >> proofs_s)) throw std::runtime_error(where + ": expected SOURCE PROOFS [HASHES]");
    ls >> hashes_s;
    if (ls >> extra && extra[0] != '#')
      throw std::runtime_error(where + ": unexpected \"" + extra + "\"");
    BatchJob job;
    job.source = source;
    std::error_code ec;
    job.trace = std::filesystem::is_directory(source, ec);
    try {
      for (auto [spec, out] :
           {std::pair{proofs_s, &job.proofs}, std::pair{hashes_s, &job.hashes}}) {
        if (spec.empty() || spec == "-") continue;
        std::stringstream ss(spec);
        for (std::string item; std::getline(ss, item, ',');) {
          if (item.empty()) continue;
          if (item[0] == '@')
            read_step_list_file(item.substr(1), *out);
          else
            parse_step_list(item, *out, "step");
        }
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
    if (job.proofs.empty() && job.hashes.empty())
      throw std::runtime_error(where + ": no steps to prove or hash");
    job.proof_fmt = batch_dir + "/job-" + std::to_string(jobs.size()) + "/proof-%d.json";
    jobs.push_back(std::move(job));
    if (jobs.size() > 1'000'000) throw std::runtime_error(path + ": more than 10^6 jobs");
  }
  if (in.bad()) throw IoError("cannot read jobs file " + path);
  if (jobs.empty()) throw std::runtime_error(path + ": no jobs");
  return jobs;
}

std::string job_output_dir(const std::string& batch_dir, size_t job) {
  return batch_dir + "/job-" + std::to_string(job);
}

int batch_run(int argc, char** argv, std::vector<std::string> host) {
  CLI::App app{"Run one shard of a jobs file (one trace directory or state file per line)",
               "batch run"};
  std::string jobs_path, shard_s, batch_dir, jit_s = "on";
  ShardRunOptions o;
  app.add_option("--jobs", jobs_path,
                 "jobs file: lines 'SOURCE PROOFS [HASHES]'; SOURCE a trace directory or state "
                 "file, PROOFS/HASHES '-' or comma lists of steps and @FILE step files")
      ->required();
  app.add_option("--shard", shard_s, "K/N: run shard K (0-based) of N")->required();
  app.add_option("--batch-dir", batch_dir,
                 "shared batch directory (plan, results; proofs in <dir>/job-J/)")
      ->required();
  app.add_option("-j,--threads", o.threads, "worker threads (0: all cores)");
  app.add_option("--jit", jit_s, "on|off")->check(CLI::IsMember({"on", "off"}));
  app.add_option("--progress-every", o.progress_seconds,
                 "seconds between progress lines (0: none)");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    o.shard = parse_shard(shard_s);
    o.batch_dir = batch_dir;
    o.jit = jit_s == "on";
    o.host = std::move(host);
    o.proof_path = [&](uint32_t job, uint64_t step) {
      return job_output_dir(batch_dir, job) + "/proof-" + std::to_string(step) + ".json";
    };
    return run_batch_shard("jobs", read_jobs_file(jobs_path, batch_dir), o);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
}

// A window sweep: one `cannonball window` flag line per job, one unit per job (round robin
// over the shards: equal costs fall to LPT's tie-break by job), each report written as JSON
// to <batch-dir>/window/run-J.json, then its unit file.
int batch_window(int argc, char** argv) {
  CLI::App app{"Run one shard of a window sweep (one line of window flags per run)",
               "batch window"};
  std::string sweep, shard_s, batch_dir;
  app.add_option("--sweep", sweep,
                 "file of window runs: each line the flags of one 'cannonball window' "
                 "(words split at blanks, # comments)")
      ->required();
  app.add_option("--shard", shard_s, "K/N: run shard K (0-based) of N")->required();
  app.add_option("--batch-dir", batch_dir, "shared batch directory (plan, reports)")->required();
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    ShardId id = parse_shard(shard_s);
    std::ifstream in(sweep);
    if (!in) throw IoError("cannot open sweep file " + sweep);
    BatchPlan wanted;
    wanted.kind = "window";
    wanted.shards = id.count;
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.size() > 4096)
        throw std::runtime_error(sweep + ":" + std::to_string(n) + ": line too long");
      line.erase(std::min(line.size(), line.find('#')));
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty()) continue;
      uint32_t j = uint32_t(wanted.jobs.size());
      if (j >= 100000) throw std::runtime_error(sweep + ": more than 100000 runs");
      wanted.jobs.push_back(
          BatchJob{line, false, {}, {}, batch_dir + "/window/run-" + std::to_string(j) + ".json"});
      wanted.units.push_back(BatchUnit{j, 0, 1, 0, 0, 1, 0});
    }
    if (wanted.jobs.empty()) throw std::runtime_error(sweep + ": no runs");
    assign_shards(wanted.units, id.count);
    BatchPlan plan = establish_batch_plan(batch_dir, wanted);
    std::filesystem::create_directories(batch_dir + "/window");
    std::vector<std::string> errors;
    uint64_t mine = 0, skipped = 0, done = 0;
    for (const BatchUnit& u : plan.units) {
      if (u.shard != id.index) continue;
      ++mine;
      if (read_unit_result(batch_dir, plan, u)) {
        ++skipped;
        continue;
      }
      const BatchJob& job = plan.jobs[u.job];
      std::vector<std::string> args{"window"};
      std::istringstream words(job.source);
      for (std::string w; words >> w;) args.push_back(w);
      args.push_back("--json-out");
      args.push_back(job.proof_fmt);
      std::vector<char*> av;
      for (auto& a : args) av.push_back(a.data());
      av.push_back(nullptr);
      note("shard %u/%u: window %s", id.index, id.count, job.source.c_str());
      std::fflush(stdout);
      if (window_main(int(args.size()), av.data()) != kExitOk ||
          !std::filesystem::exists(job.proof_fmt)) {
        errors.push_back("window " + job.source + " failed");
        continue;
      }
      UnitResult r;
      r.files.push_back(job.proof_fmt);
      write_unit_result(batch_dir, u, r);
      ++done;
    }
    note("shard %u/%u: %s assigned, %" PRIu64 " already complete, %" PRIu64 " run now", id.index,
         id.count, plural(mine, "run", "runs").c_str(), skipped, done);
    if (!errors.empty())
      throw std::runtime_error(errors.size() > 1 ? std::to_string(errors.size()) +
                                                       " runs failed; last: " + errors.back()
                                                 : errors.back());
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int batch_status(int argc, char** argv) {
  CLI::App app{"What a sharded batch has completed and what is missing", "batch status"};
  std::string batch_dir;
  bool shards_only = false;
  app.add_option("--batch-dir", batch_dir, "the batch directory")->required();
  app.add_flag("--missing-shards", shards_only,
               "print only the shards with missing work, comma-separated (for sbatch --array); "
               "exit 0 either way");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    BatchPlan plan = read_batch_plan(batch_dir);
    BatchProgress p = batch_progress(batch_dir, plan);
    if (shards_only) {
      std::printf("%s\n", missing_shards(p).c_str());
      return kExitOk;
    }
    uint64_t proofs = 0, hashes = 0;
    for (auto& s : p.shards) proofs += s.proofs, hashes += s.hashes;
    std::printf("batch %s: %u shards, %s, %s (%s, %s)\n", batch_dir.c_str(), plan.shards,
                plural(plan.jobs.size(), "job", "jobs").c_str(),
                plural(plan.units.size(), "unit", "units").c_str(),
                plural(proofs, "proof", "proofs").c_str(),
                plural(hashes, "hash", "hashes").c_str());
    for (size_t i = 0; i < p.shards.size(); ++i) {
      auto& s = p.shards[i];
      std::printf("shard %zu: %" PRIu64 "/%" PRIu64 " units complete", i, s.complete, s.units);
      if (s.complete != s.units)
        std::printf("; missing %s, %s", plural(s.missing_proofs, "proof", "proofs").c_str(),
                    plural(s.missing_hashes, "hash", "hashes").c_str());
      std::printf("\n");
    }
    for (const BatchUnit* u : p.incomplete) {
      if (plan.kind == "window") {
        std::printf("missing: shard %u, window run %u (%s)\n", u->shard, u->job,
                    plan.jobs[u->job].source.c_str());
        continue;
      }
      std::string to = u->to == UINT64_MAX ? "end" : std::to_string(u->to - 1);
      std::printf("missing: shard %u, job %u (%s), steps %" PRIu64 "..%s: %s, %s\n", u->shard,
                  u->job, plan.jobs[u->job].source.c_str(), u->from, to.c_str(),
                  plural(u->proofs, "proof", "proofs").c_str(),
                  plural(u->hashes, "hash", "hashes").c_str());
    }
    std::fflush(stdout);
    if (!p.done()) {
      print_error(incomplete_message(plan, p));
      return kExitError;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int batch_merge(int argc, char** argv) {
  CLI::App app{"Check a sharded batch is complete and write its hashes in step order",
               "batch merge"};
  std::string batch_dir, hashes_out = "-";
  app.add_option("--batch-dir", batch_dir, "the batch directory")->required();
  app.add_option("--hashes-out", hashes_out,
                 "a prove batch: where the \"STEP HASH\" lines go ('-' stdout); a jobs batch "
                 "writes <batch-dir>/job-J/hashes.txt and ignores this");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  std::signal(SIGPIPE, SIG_IGN);
  try {
    BatchPlan plan = read_batch_plan(batch_dir);
    std::vector<std::map<uint64_t, Hash32>> hashes(plan.jobs.size());
    uint64_t proofs = 0;
    std::vector<const BatchUnit*> missing;
    for (const BatchUnit& u : plan.units) {
      auto r = read_unit_result(batch_dir, plan, u);
      if (!r) {
        missing.push_back(&u);
        continue;
      }
      hashes[u.job].insert(r->hashes.begin(), r->hashes.end());
      proofs += r->proofs.size();
    }
    if (!missing.empty()) {
      BatchProgress p;
      p.incomplete = missing;
      throw std::runtime_error(incomplete_message(plan, p) +
                               "; see cannonball batch status --batch-dir " + batch_dir);
    }
    if (plan.kind == "window") {
      // The reports in sweep order, each with the flags that produced it.
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      for (const BatchJob& job : plan.jobs) {
        std::vector<uint8_t> b = read_file(job.proof_fmt);
        nlohmann::ordered_json e;
        e["flags"] = job.source;
        e["report"] = nlohmann::ordered_json::parse(b.begin(), b.end());
        all.push_back(std::move(e));
      }
      write_string(batch_dir + "/window-sweep.json", all.dump(2) + "\n");
      note("merge: %s complete, written to %s/window-sweep.json",
           plural(plan.jobs.size(), "window run", "window runs").c_str(), batch_dir.c_str());
      return kExitOk;
    }
    uint64_t nh = 0;
    for (size_t j = 0; j < plan.jobs.size(); ++j) {
      std::string text;
      for (auto& [step, h] : hashes[j]) text += std::to_string(step) + " " + hex(h) + "\n";
      nh += hashes[j].size();
      if (text.empty()) continue;
      // As prove: nothing is written when no hash was requested.
      write_string(plan.kind == "prove" ? hashes_out : job_output_dir(batch_dir, j) + "/hashes.txt",
                   text);
    }
    std::fflush(stdout);
    note("merge: %s complete: %s in place, %s written",
         plural(plan.units.size(), "unit", "units").c_str(),
         plural(proofs, "proof", "proofs").c_str(), plural(nh, "hash", "hashes").c_str());
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

void batch_usage() {
  std::fputs(
      "usage: cannonball batch <run|window|status|merge> [flags]\n"
      "  run     one shard of a jobs file:  --jobs FILE --shard K/N --batch-dir B [-j N] [-- "
      "server]\n"
      "  status  what is complete and missing: --batch-dir B [--missing-shards]\n"
      "  window  one shard of a window sweep: --sweep FILE --shard K/N --batch-dir B\n"
      "  merge   check complete, write hashes in step order (a sweep: window-sweep.json):\n"
      "          --batch-dir B [--hashes-out F]\n"
      "(one shard of a single trace: cannonball prove ... --shard K/N --batch-dir B)\n",
      stderr);
}

}  // namespace

int batch_main(int argc, char** argv) {
  if (argc < 2) {
    batch_usage();
    return kExitError;
  }
  std::string sub = argv[1];
  SplitArgs split = split_host(argc, argv, 2);
  std::vector<std::string> host = std::move(split.host);
  const int n = split.argc;
  if (sub == "run") return batch_run(n - 1, argv + 1, std::move(host));
  if (sub == "window" && n == argc) return batch_window(argc - 1, argv + 1);
  if (!host.empty() || n != argc) {
    print_error("batch " + sub + " takes no pre-image server");
    return kExitError;
  }
  if (sub == "status") return batch_status(argc - 1, argv + 1);
  if (sub == "merge") return batch_merge(argc - 1, argv + 1);
  if (sub == "-h" || sub == "--help" || sub == "help") {
    batch_usage();
    return kExitOk;
  }
  print_error("unknown batch command \"" + sub + "\" (run, window, status or merge)");
  return kExitError;
}

}  // namespace cb::cli
