// Small helpers for the CLI tests (tests/cli_*_test.cpp, tests/long_cli_*_test.cpp): where the
// reference proofs are, the pre-image server command of the oracle guest, process checks.
#pragma once
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace cb::test {

inline std::string vectors_dir(const std::string& guest) {
  return reference_dir() + "/vectors/" + guest;
}

// Steps N of vectors/GUEST/proofs/proof-N.json, ascending.
inline std::vector<uint64_t> reference_proof_steps(const std::string& guest) {
  std::vector<uint64_t> out;
  std::string d = vectors_dir(guest) + "/proofs";
  if (!std::filesystem::exists(d)) return out;
  for (auto& e : std::filesystem::directory_iterator(d)) {
    std::string n = e.path().filename().string();
    if (n.rfind("proof-", 0) == 0 && n.size() > 11 && n.substr(n.size() - 5) == ".json")
      out.push_back(std::stoull(n.substr(6, n.size() - 11)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string reference_proof_path(const std::string& guest, uint64_t n) {
  return vectors_dir(guest) + "/proofs/proof-" + std::to_string(n) + ".json";
}

// The host command (after "--") the guest needs: the shared pre-image server for "oracle".
inline std::vector<std::string> server_argv(const std::string& guest) {
  if (guest != "oracle") return {};
  return {"python3", reference_dir() + "/tools/preimage-server.py",
          reference_dir() + "/guests/oracle/preimages.json"};
}
inline std::string server_args(const std::string& guest) {
  std::string s;
  for (auto& a : server_argv(guest)) s += " " + shell_quote(a);
  return s.empty() ? "" : " --" + s;
}

inline nlohmann::json expected_json(const std::string& guest) {
  return nlohmann::json::parse(read_text(vectors_dir(guest) + "/expected.json"));
}

// The literal single-proof command of the reference README.
// `extra`: more run flags (before the "--" of the server).
inline std::string single_proof_cmd(const std::string& guest, uint64_t n,
                                    const std::string& out_dir, const std::string& extra = "") {
  return cannonball() + " run --input " + shell_quote(vectors_dir(guest) + "/initial.bin.gz") +
         " --output '' --meta '' --proof-at =" + std::to_string(n) + " --proof-fmt " +
         shell_quote(out_dir + "/proof-%d.json") + " --stop-at =" + std::to_string(n + 1) + extra +
         server_args(guest);
}

// A --proof-fmt / --snapshot-fmt pattern with its one "%d" replaced.
inline std::string format_path(std::string fmt, uint64_t n) {
  auto p = fmt.find("%d");
  return p == std::string::npos ? fmt : fmt.replace(p, 2, std::to_string(n));
}

inline bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno != ESRCH;
  // A zombie (not reaped by its parent yet) is not running.
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(st, line);
  auto p = line.rfind(')');
  return !(p != std::string::npos && p + 2 < line.size() && line[p + 2] == 'Z');
}

// Files in `dir` (names only), sorted.
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

}  // namespace cb::test
