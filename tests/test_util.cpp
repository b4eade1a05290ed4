#include "test_util.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/file_io.h"

namespace cb::test {

std::string reference_dir() {
  std::string d = std::string(CB_SHARED_DIR) + "/reference";
  return std::filesystem::exists(d + "/vectors") ? d : "";
}

std::vector<uint8_t> read_bytes(const std::string& path) { return read_file(path); }

std::string read_text(const std::string& path) {
  auto b = read_file(path);
  return std::string(b.begin(), b.end());
}

State load_state_file(const std::string& path) { return State::deserialize(read_file(path)); }

std::vector<std::pair<uint64_t, std::string>> read_hashes(const std::string& path) {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::istringstream in(read_text(path));
  uint64_t step;
  std::string h;
  while (in >> step >> h) out.emplace_back(step, h);
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) {
    if (c == '\'')
      o += "'\\''";
    else
      o += c;
  }
  return o + "'";
}

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path() /
              ("cbtest-" + std::to_string(getpid()) + "-" + tag + "-" + std::to_string(counter++));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base.string();
}

CmdResult run_cmd(const std::string& cmdline) {
  std::string d = temp_dir("cmd");
  std::string full = cmdline + " >" + d + "/out 2>" + d + "/err </dev/null";
  int st = std::system(full.c_str());
  CmdResult r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_text(d + "/out");
  r.err = read_text(d + "/err");
  std::filesystem::remove_all(d);
  return r;
}

// CB_TEST_EMULATOR (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu") runs a cross-built CLI.
std::string cannonball() {
  const char* emu = std::getenv("CB_TEST_EMULATOR");
  return emu && *emu ? std::string(emu) + " " + CB_BINARY : std::string(CB_BINARY);
}

}  // namespace cb::test
