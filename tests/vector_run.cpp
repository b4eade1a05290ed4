#include "vector_run.h"

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/preimage_host.h"
#include "cli_helpers.h"
#include "host/hex.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "test_util.h"
#include "vm_test_util.h"

namespace cb::test {

std::unique_ptr<PreimageOracle> reference_oracle(const std::string& guest) {
  if (guest != "oracle") return nullptr;
  const std::string r = reference_dir();
  const char* mode = std::getenv("CB_TEST_ORACLE");
  if (!mode || std::string(mode) != "map") return std::make_unique<HostProcess>(server_argv(guest));
  auto map = std::make_unique<MapOracle>();
  const auto j = nlohmann::json::parse(read_text(r + "/guests/oracle/preimages.json"));
  for (const auto& [k, v] : j.items()) {
    const std::string ks = k.substr(2), vs = v.get<std::string>().substr(2);  // "0x..."
    Hash32 key{};
    if (ks.size() != 64 || !parse_hex_digits(ks, key)) throw std::runtime_error("bad key " + k);
    std::vector<uint8_t> value(vs.size() / 2);
    if (vs.size() % 2 || !parse_hex_digits(vs, value))
      throw std::runtime_error("bad value for " + k);
    map->preimages[key] = std::move(value);
  }
  return map;
}

std::string run_reference_vector(const std::string& guest, const VectorRunOptions& opt) {
  std::string r = reference_dir(), dir = r + "/vectors/" + guest;
  State s = load_state_file(dir + "/initial.bin.gz");
  std::unique_ptr<PreimageOracle> host = reference_oracle(guest);
  std::string out;
  Vm vm(s, host.get(), [&](int fd, const uint8_t* d, size_t n) {
    if (fd == 1) out.append(reinterpret_cast<const char*>(d), n);
  });
  Executor exec(vm, ExecutorOptions{opt.jit});
  auto hashes = read_hashes(dir + "/hashes.txt");
  for (auto& [step, want] : hashes) {
    if (opt.max_step && step > opt.max_step) break;
    if (exec.run_until(step) != StepStatus::kOk)
      return "VM panic before step " + std::to_string(step) + ": " + vm.panic_message();
    if (s.step != step)
      return "run ended at step " + std::to_string(s.step) + " before " + std::to_string(step);
    std::string got = hex(s.hash());
    if (got != want)
      return "state hash at step " + std::to_string(step) + ": got " + got + ", want " + want;
  }
  if (opt.max_step) return "";
  auto e = nlohmann::json::parse(read_text(dir + "/expected.json"));
  if (!s.exited) return "guest did not exit";
  if (hex(s.hash()) != e["final_hash"].get<std::string>()) return "final hash differs";
  if (s.step != e["final_step"].get<uint64_t>()) return "final step " + std::to_string(s.step);
  if (s.exit_code != e["exit_code"].get<int>()) return "exit code " + std::to_string(s.exit_code);
  if (out != e["stdout"].get<std::string>()) return "stdout differs: " + out;
  if (auto* server = dynamic_cast<HostProcess*>(host.get())) {
    HostExit x = server->stop();
    if (!x.success()) return "pre-image server: " + x.describe();
  }
  return "";
}

}  // namespace cb::test
