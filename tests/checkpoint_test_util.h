// Helpers for the checkpoint / trace / prove / bisect tests: calling the batch subcommands
// in-process, single-proof reference runs through the built CLI, random step choices.
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/batch_commands.h"
#include "test_util.h"

namespace cb::test {

// The pre-image server command for a guest ({} when it needs none).
inline std::vector<std::string> host_for(const std::string& guest) {
  if (guest != "oracle") return {};
  std::string r = reference_dir();
  return {"python3", r + "/tools/preimage-server.py", r + "/guests/oracle/preimages.json"};
}

// Calls a subcommand's main with argv = {name, args..., ["--", host...]}.
inline int call_main(int (*fn)(int, char**), const std::string& name, std::vector<std::string> args,
                     const std::vector<std::string>& host = {}) {
  args.insert(args.begin(), name);
  if (!host.empty()) {
    args.push_back("--");
    args.insert(args.end(), host.begin(), host.end());
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return fn(int(args.size()), argv.data());
}

// `cannonball run` writing only the proof of `step` (the reference's single-proof run) to
// `proof_dir`/proof-STEP.json. Returns "" on success, else the error output.
inline std::string single_proof_run(const std::string& input, uint64_t step,
                                    const std::string& proof_dir,
                                    const std::vector<std::string>& host) {
  std::string proof_path = proof_dir + "/proof-" + std::to_string(step) + ".json";
  std::filesystem::create_directories(proof_dir);
  std::string cmd = shell_quote(cannonball()) + " run --input " + shell_quote(input) +
                    " --output '' --meta '' --info-at never --proof-at =" + std::to_string(step) +
                    " --proof-fmt " + shell_quote(proof_dir + "/proof-%d.json") +
                    " --stop-at =" + std::to_string(step + 1);
  if (!host.empty()) {
    cmd += " --";
    for (auto& h : host) cmd += " " + shell_quote(h);
  }
  CmdResult r = run_cmd(cmd);
  if (r.exit_code != 0 || !std::filesystem::exists(proof_path))
    return "exit " + std::to_string(r.exit_code) + ": " + r.err + "\ncommand: " + cmd;
  return "";
}

// `n` distinct random steps in [lo, hi) from a fixed seed.
inline std::vector<uint64_t> random_steps(uint64_t lo, uint64_t hi, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<uint64_t> s;
  while (s.size() < n && s.size() < hi - lo) s.insert(lo + rng() % (hi - lo));
  return {s.begin(), s.end()};
}

inline std::string join_steps(const std::vector<uint64_t>& v) {
  std::string o;
  for (uint64_t s : v) o += (o.empty() ? "" : ",") + std::to_string(s);
  return o;
}

}  // namespace cb::test
