#include "cli/commands.h"

#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/preimage_host.h"
#include "cli/proof_json.h"
#include "cli/step_pattern.h"
#include "interp/decoder.h"
#include "interp/elf_loader.h"
#include "interp/file_io.h"
#include "interp/go_json.h"
#include "interp/state.h"
#include "interp/vm.h"
#include "scheduler/executor.h"

namespace cb::cli {

void print_error(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "error: %s\n", msg.c_str());
}

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

// Parses flags; returns an exit code when parsing ended the command (help or error).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    print_error(std::string("flag: ") + e.what());
    return kExitError;
  }
  return std::nullopt;
}

std::string fmt_step(const std::string& pattern, uint64_t step) {
  // Go's fmt.Sprintf with one %d verb (the reference's --proof-fmt / --snapshot-fmt).
  std::string out;
  bool used = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char c = pattern[i + 1];
      if (c == '%') { out += '%'; ++i; continue; }
      if (c == 'd' && !used) { out += std::to_string(step); used = true; ++i; continue; }
    }
    out += pattern[i];
  }
  return out;
}

bool is_binary_name(const std::string& path) {
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return path.size() >= n && path.compare(path.size() - n, n, s) == 0;
  };
  return ends(".bin") || ends(".bin.gz");
}

State load_state(const std::string& path) {
  if (path.empty()) throw IoError("failed to load state: no path specified");
  std::vector<uint8_t> bytes = read_file(path);
  try {
    return State::deserialize(bytes);
  } catch (const StateFormatError& e) {
    throw StateFormatError("failed to load state " + path + ": " + e.what());
  }
}

void write_state(const std::string& path, const State& s) {
  if (path.empty()) return;
  std::vector<uint8_t> bytes = s.serialize();
  write_output(path, bytes);
}

std::string log_time() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  int ms = int(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d-%02d|%02d:%02d:%02d.%03d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, ms);
  return buf;
}

void log_info(const std::string& msg, const std::string& kv = "") {
  std::fprintf(stderr, "INFO [%s] %-40s %s\n", log_time().c_str(), msg.c_str(), kv.c_str());
}

}  // namespace

int load_elf_main(int argc, char** argv) {
  CLI::App app{"Load ELF file into Cannon state", "load-elf"};
  std::string type, path, out = "state.bin.gz", meta = "meta.json";
  app.add_option("--type", type, "VM type to create state for. Valid options: multithreaded64-5")->required();
  app.add_option("--path", path, "Path to 64-bit big-endian MIPS ELF file")->required();
  app.add_option("--out", out, "Output state path ('-' stdout, '' none; .bin or .bin.gz)");
  app.add_option("--meta", meta, "Metadata file for symbol lookup; none if empty");
  if (auto rc = parse(app, argc, argv)) return *rc;
  try {
    if (type != kStateVersionName)
      throw std::runtime_error("unsupported state version \"" + type + "\": cannonball supports only " +
                               kStateVersionName);
    std::vector<uint8_t> elf;
    try {
      elf = read_file(path);
    } catch (const IoError& e) {
      throw std::runtime_error("failed to open ELF file \"" + path + "\": " + e.what());
    }
    State s = load_elf(elf);
    Metadata m = elf_metadata(elf);
    std::string mj = m.to_json();
    write_output(meta, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(mj.data()), mj.size()));
    if (!out.empty() && out != "-" && !is_binary_name(out))
      throw std::runtime_error("invalid --out file format: only .bin and .bin.gz are supported");
    write_state(out, s);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int witness_main(int argc, char** argv) {
  CLI::App app{"Print the witness and hash of a state file", "witness"};
  std::string input, output;
  app.add_option("--input", input, "path of input binary state")->required();
  app.add_option("--output", output, "path to write binary witness");
  if (auto rc = parse(app, argc, argv)) return *rc;
  try {
    State s = load_state(input);
    auto w = s.encode_witness();
    Hash32 h = state_hash_from_witness(w);
    if (!output.empty()) write_file_atomic(output, w);
    std::string j = "{\n  \"stateVersion\": " + std::to_string(kStateVersion) + ",\n  \"witnessHash\": \"" +
                    hex(h) + "\",\n  \"witness\": \"" + hex(w) + "\",\n  \"step\": " + std::to_string(s.step) +
                    ",\n  \"exited\": " + (s.exited ? "true" : "false") +
                    ",\n  \"exitCode\": " + std::to_string(s.exit_code) + "\n}\n\n";
    std::fwrite(j.data(), 1, j.size(), stdout);
  } catch (const std::exception& e) {
    print_error(std::string("invalid input state (") + input + "): " + e.what());
    return kExitError;
  }
  return kExitOk;
}

int run_main(int argc, char** argv, const std::vector<std::string>& host_argv) {
  CLI::App app{"Run VM step(s) and generate proof data to replicate onchain", "run"};
  std::string input = "state.bin.gz", output = "out.bin.gz", proof_fmt = "proof-%d.json",
              snapshot_fmt = "state-%d.bin.gz", meta_path = "meta.json", debug_info;
  std::string proof_at_s = "never", snapshot_at_s = "never", stop_at_s = "never", info_at_s = "%1000000000";
  std::string stop_preimage, stop_preimage_type, jit_s = "on";
  int64_t stop_preimage_larger = 0;
  uint64_t host_timeout_ms = 0;
  bool debug = false, pprof = false;
  app.add_option("--input", input, "path of input binary state");
  app.add_option("--output", output, "path of output binary state; '' none, '-' stdout");
  app.add_option("--proof-at", proof_at_s, "step pattern to output proof at");
  app.add_option("--proof-fmt", proof_fmt, "format for proof file names ('-' stdout)");
  app.add_option("--snapshot-at", snapshot_at_s, "step pattern to output snapshots at");
  app.add_option("--snapshot-fmt", snapshot_fmt, "format for snapshot file names");
  app.add_option("--stop-at", stop_at_s, "step pattern to stop at");
  app.add_option("--stop-at-preimage", stop_preimage, "stop at the first preimage request matching <key-prefix>@<offset>@<step>");
  app.add_option("--stop-at-preimage-type", stop_preimage_type, "stop at the first preimage request of this type");
  app.add_option("--stop-at-preimage-larger-than", stop_preimage_larger, "stop at the first preimage larger than this");
  app.add_option("--meta", meta_path, "metadata file for symbol lookup ('' none)");
  app.add_option("--info-at", info_at_s, "step pattern to print info at");
  app.add_flag("--pprof.cpu", pprof, "accepted for compatibility; no effect");
  app.add_flag("--debug", debug, "debug mode (requires --meta)");
  app.add_option("--debug-info", debug_info, "path to write debug info to");
  app.add_option("--jit", jit_s, "on|off: compile hot blocks (results are identical either way)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--host-timeout-ms", host_timeout_ms, "fail a pre-image request that takes longer (0 = wait forever)");
  if (auto rc = parse(app, argc, argv)) return *rc;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    StepPattern proof_at = StepPattern::parse(proof_at_s), snapshot_at = StepPattern::parse(snapshot_at_s),
                stop_at = StepPattern::parse(stop_at_s), info_at = StepPattern::parse(info_at_s);
    if (!output.empty() && !is_binary_name(output))
      throw std::runtime_error("invalid --output file format. Only binary file formats (ending in .bin or bin.gz) are supported");
    if (!snapshot_fmt.empty() && !is_binary_name(fmt_step(snapshot_fmt, 0)))
      throw std::runtime_error("invalid --snapshot-fmt file format. Only binary file formats (ending in .bin or bin.gz) are supported");
    // --stop-at-preimage* (reference: run.go).
    bool stop_any = false;
    std::vector<uint8_t> stop_prefix;
    uint64_t stop_offset = 0, stop_step = 0;
    auto from_hex = [](std::string h) {
      if (h.rfind("0x", 0) == 0 || h.rfind("0X", 0) == 0) h = h.substr(2);
      if (h.size() % 2) h = "0" + h;
      std::vector<uint8_t> out;
      for (size_t i = 0; i + 1 < h.size() + 1 && i < h.size(); i += 2) {
        unsigned v;
        if (std::sscanf(h.substr(i, 2).c_str(), "%2x", &v) != 1) return std::vector<uint8_t>{};
        out.push_back(uint8_t(v));
      }
      return out;
    };
    if (!stop_preimage.empty()) {
      std::vector<std::string> parts;
      std::stringstream ss(stop_preimage);
      for (std::string p; std::getline(ss, p, '@');) parts.push_back(p);
      if (parts.size() > 3) throw std::runtime_error("invalid stop-at-preimage: " + stop_preimage);
      stop_prefix = from_hex(parts[0]);
      std::string err;
      if (parts.size() >= 2 && !parse_go_uint64(parts[1], &stop_offset, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
      if (parts.size() == 3 && !parse_go_uint64(parts[2], &stop_step, &err))
        throw std::runtime_error("invalid preimage offset: " + err);
    } else if (!stop_preimage_type.empty()) {
      static const std::pair<const char*, uint8_t> kTypes[] = {
          {"local", 1}, {"keccak", 2}, {"sha256", 4}, {"blob", 5}, {"precompile", 6}};
      bool ok = false;
      for (auto& [n, b] : kTypes)
        if (stop_preimage_type == n) { stop_prefix = {b}; ok = true; }
      if (stop_preimage_type == "any") { stop_any = true; ok = true; }
      if (!ok) throw std::runtime_error("invalid preimage type \"" + stop_preimage_type + "\"");
    }
    bool stop_on_preimage = stop_any || !stop_prefix.empty() || stop_preimage_larger != 0;

    Metadata meta;
    if (!meta_path.empty()) {
      std::vector<uint8_t> mb;
      try {
        mb = read_file(meta_path);
        meta = Metadata::from_json(std::string_view(reinterpret_cast<const char*>(mb.data()), mb.size()));
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("failed to load metadata: ") + e.what());
      }
    } else {
      log_info("no metadata file specified, defaulting to empty metadata");
    }
    if (debug && meta_path.empty()) throw std::runtime_error("cannot enable debug mode without a metadata file");

    State state = load_state(input);
    log_info("Loaded input state", "version=" + std::string(kStateVersionName));

    HostOptions hopt;
    hopt.timeout_ms = host_timeout_ms;
    hopt.should_abort = [] { return g_interrupted != 0; };
    hopt.on_waiting = [&](double secs) {
      std::fprintf(stderr, "INFO [%s] waiting on pre-image host                   step=%" PRIu64 " waited=%.0fs\n",
                   log_time().c_str(), state.step, secs);
    };
    std::unique_ptr<HostProcess> host;
    if (!host_argv.empty() && !host_argv[0].empty()) host = std::make_unique<HostProcess>(host_argv, hopt);

    Vm vm(state, host.get(), [](int fd, const uint8_t* d, size_t n) {
      FILE* f = fd == 1 ? stdout : stderr;
      std::fwrite(d, 1, n, f);
      if (fd == 2) std::fflush(f);
    });
    Executor exec(vm, ExecutorOptions{jit_s == "on"});

    auto start = std::chrono::steady_clock::now();
    const uint64_t start_step = state.step;
    int rc = kExitOk;
    std::string failure;
    auto vm_failed = [&](uint64_t step, uint64_t pc, const char* what) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%08" PRIx64, pc);
      failure = std::string(what) + " " + std::to_string(step) + " (PC: " + buf + "): vm panic: " + vm.panic_message();
      rc = host ? kExitError : kExitVmPanic;
    };

    while (!state.exited && failure.empty()) {
      if (g_interrupted) throw std::runtime_error("command interrupted");
      uint64_t step = state.step;
      if (info_at.matches(step)) {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        uint64_t pc = state.current().cpu.pc;
        uint32_t insn = fetch_insn(*state.memory, pc & ~uint64_t{3});
        char kv[512];
        std::snprintf(kv, sizeof kv, "step=%" PRIu64 " pc=%08" PRIx64 " insn=%08x ips=%.3f pages=%zu mem=\"%s\" name=%s",
                      step, pc, insn, secs > 0 ? double(step - start_step) / secs : 0.0, state.memory->page_count(),
                      human_bytes(state.memory->usage_bytes()).c_str(), meta.lookup(pc).c_str());
        log_info("processing", kv);
      }
      if (stop_at.matches(step)) {
        log_info("Reached stop at");
        break;
      }
      if (snapshot_at.matches(step)) write_state(fmt_step(snapshot_fmt, step), state);
      StepStatus st;
      if (proof_at.matches(step)) {
        StepWitness w;
        st = vm.step_with_proof(w);
        if (st != StepStatus::kOk) {
          vm_failed(step, state.active().empty() ? 0 : state.current().cpu.pc, "failed at proof-gen step");
          break;
        }
        Hash32 post = state.hash();
        std::string j = proof_json(step, w, post);
        write_output(fmt_step(proof_fmt, step), std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(j.data()), j.size()));
      } else {
        // Run to the next step where anything must happen (an event, or the end).
        uint64_t next = std::min({stop_at.next_match(step + 1), snapshot_at.next_match(step + 1),
                                  proof_at.next_match(step + 1), info_at.next_match(step + 1)});
        st = exec.run_until(next, stop_on_preimage);
        if (st != StepStatus::kOk) {
          vm_failed(state.step - 1, state.active().empty() ? 0 : state.current().cpu.pc, "failed at step");
          break;
        }
      }
      if (stop_on_preimage && vm.last_step_read_preimage()) {
        const Hash32& key = vm.last_preimage_key();
        uint64_t size = vm.last_preimage().size();
        if (stop_any) { log_info("Stopping at preimage read"); break; }
        bool prefix_ok = !stop_prefix.empty() && stop_prefix.size() <= 32 &&
                         std::equal(stop_prefix.begin(), stop_prefix.end(), key.begin());
        bool size_ok = stop_preimage_larger != 0 && int64_t(size) > stop_preimage_larger;
        if (prefix_ok && size_ok) { log_info("Stopping at preimage read"); break; }
        if (prefix_ok && stop_preimage_larger == 0 && stop_offset == vm.last_preimage_offset() && step >= stop_step) {
          log_info("Stopping at preimage read");
          break;
        }
        if (size_ok && stop_prefix.empty()) { log_info("Stopping at preimage read"); break; }
      }
    }
    std::fflush(stdout);
    if (!failure.empty()) {
      if (host) host->stop();
      print_error(failure);
      return rc;
    }
    log_info("Execution stopped", "exited=" + std::string(state.exited ? "true" : "false") +
                                      " code=" + std::to_string(state.exit_code));
    write_state(output, state);
    if (!debug_info.empty()) {
      std::string j = "{\n  \"pages\": " + std::to_string(state.memory->page_count()) +
                      ",\n  \"memory_used\": \"0x" + [&] { char b[32]; std::snprintf(b, sizeof b, "%" PRIx64, state.memory->usage_bytes()); return std::string(b); }() +
                      "\",\n  \"num_preimage_requests\": " + std::to_string(vm.preimage_requests()) +
                      ",\n  \"total_preimage_size\": " + std::to_string(vm.preimage_bytes()) +
                      ",\n  \"total_steps\": " + std::to_string(state.step) + "\n}\n\n";
      write_output(debug_info, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(j.data()), j.size()));
    }
    if (host) {
      HostExit ex = host->stop();
      if (!ex.success()) log_info("pre-image server exited", ex.describe());
    }
  } catch (const OracleError& e) {
    print_error(e.what());
    return kExitError;
  } catch (const std::exception& e) {
    if (g_interrupted) {
      std::fputs("command interrupted", stderr);
      return kExitInterrupted;
    }
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace cb::cli
