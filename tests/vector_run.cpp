#include "vector_run.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/preimage_host.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "test_util.h"

namespace cb::test {

std::string run_reference_vector(const std::string& guest, const VectorRunOptions& opt) {
  std::string r = reference_dir(), dir = r + "/vectors/" + guest;
  State s = load_state_file(dir + "/initial.bin.gz");
  std::unique_ptr<HostProcess> host;
  if (guest == "oracle")
    host = std::make_unique<HostProcess>(std::vector<std::string>{
        "python3", r + "/tools/preimage-server.py", r + "/guests/oracle/preimages.json"});
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
  if (host) {
    HostExit x = host->stop();
    if (!x.success()) return "pre-image server: " + x.describe();
  }
  return "";
}

}  // namespace cb::test
