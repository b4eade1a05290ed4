#include "scheduler/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/file_io.h"
#include "host/hex.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "scheduler/trace_jobs.h"

namespace cb {

namespace {

constexpr const char* kTraceFormat = "cannonball-trace";
constexpr int kTraceVersion = 1;
// Longest run between two looks at the clock (progress reports).
constexpr uint64_t kProgressChunk = uint64_t{1} << 24;

void write_text_atomic(const std::string& path, const std::string& text) {
  WriteOptions wo;
  wo.perm = 0644;
  write_file_atomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
      wo);
}

// hashes.txt, appended as the trace goes (ascending: the run only moves forward).
class HashLog {
 public:
  HashLog(std::string path, bool sync) : m_path(std::move(path)), m_sync(sync) {
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (m_fd < 0) throw IoError("cannot create " + m_path + ": " + std::strerror(errno));
    if (m_sync) sync_dir();
  }
  ~HashLog() {
    if (m_fd >= 0) ::close(m_fd);
  }
  HashLog(const HashLog&) = delete;
  HashLog& operator=(const HashLog&) = delete;

  // Appends the entries of `hashes` above the last step written, then fsyncs.
  void append(const std::map<uint64_t, Hash32>& hashes) {
    auto it = m_any ? hashes.upper_bound(m_last) : hashes.begin();
    if (it == hashes.end()) return;
    std::string text;
    for (; it != hashes.end(); ++it) {
      text += std::to_string(it->first) + " " + hex(it->second) + "\n";
      m_last = it->first;
      m_any = true;
    }
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      const ssize_t w = ::write(m_fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw IoError("cannot write " + m_path + ": " + std::strerror(errno));
      p += w;
      left -= size_t(w);
    }
    if (m_sync && ::fsync(m_fd) != 0)
      throw IoError("cannot sync " + m_path + ": " + std::strerror(errno));
  }

 private:
  void sync_dir() {
    std::string dir = std::filesystem::path(m_path).parent_path().string();
    int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
      (void)::fsync(d);
      ::close(d);
    }
  }

  std::string m_path;
  bool m_sync;
  int m_fd = -1;
  uint64_t m_last = 0;
  bool m_any = false;
};

}  // namespace

uint64_t StepSelection::next_at_or_after(uint64_t step) const {
  uint64_t best = UINT64_MAX;
  auto it = std::lower_bound(list.begin(), list.end(), step);
  if (it != list.end()) best = *it;
  if (every != 0) {
    uint64_t s = std::max(step, every_from);
    uint64_t r = s % every;
    uint64_t m = r == 0 ? s : (s > UINT64_MAX - (every - r) ? UINT64_MAX : s + (every - r));
    if (m <= every_to && (r == 0 || m != UINT64_MAX)) best = std::min(best, m);
  }
  return best;
}

bool StepSelection::contains(uint64_t step) const {
  if (every != 0 && step % every == 0 && step >= every_from && step <= every_to) return true;
  return std::binary_search(list.begin(), list.end(), step);
}

void StepSelection::normalize() {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

StepSelection game_positions(unsigned depth, unsigned max_depth) {
  StepSelection s;
  if (depth > max_depth || max_depth > 63) return s;
  s.every = uint64_t{1} << (max_depth - depth);
  s.every_from = s.every;
  s.every_to = uint64_t{1} << max_depth;
  return s;
}

bool parse_hash(const std::string& text, Hash32& out) {
  std::string h = text;
  if (h.rfind("0x", 0) == 0 || h.rfind("0X", 0) == 0) h = h.substr(2);
  return parse_hex_digits(h, out);
}

std::map<uint64_t, Hash32> read_step_hashes(const std::string& path) {
  std::vector<uint8_t> bytes = read_text_file(path);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::map<uint64_t, Hash32> out;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string step_s, hash_s, extra;
    ls >> step_s >> hash_s;
    Hash32 h{};
    bool ok =
        !step_s.empty() &&
        std::all_of(step_s.begin(), step_s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        step_s.size() <= 20 && parse_hash(hash_s, h) && !(ls >> extra);
    if (!ok)
      throw IoError(path + ":" + std::to_string(n) +
                    ": expected \"STEP HASH\" (decimal step, 32-byte hex hash)");
    out[std::stoull(step_s)] = h;
  }
  return out;
}

TraceSummary record_trace(State state, PreimageOracle* oracle, const std::string& dir,
                          const TraceOptions& opt) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::filesystem::create_directories(dir);
  StepSelection hash_at = opt.hash_at;
  hash_at.normalize();
  const uint64_t every = std::max<uint64_t>(1, opt.checkpoint_every);

  TraceSummary sum;
  sum.start_step = state.step;
  nlohmann::ordered_json info = {
      {"format", kTraceFormat},   {"version", kTraceVersion},  {"state_version", kStateVersionName},
      {"input", opt.input_label}, {"checkpoint_every", every}, {"start_step", state.step},
      {"complete", false}};
  write_text_atomic(dir + "/trace.json", info.dump(2) + "\n");
  // A trace directory is rewritten from scratch: stale files of an earlier trace would mix in.
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 || n == "hashes.txt") std::filesystem::remove(e.path());
  }

  CheckpointWriter writer(dir, opt.writer);
  std::map<uint64_t, Hash32> hashes;
  // hashes.txt grows with the run: at every checkpoint the hashes recorded since the last one
  // are appended (one write) and fsynced, so a killed trace keeps every hash up to its last
  // checkpoint. A rerun into the directory starts over (the old file was removed above).
  HashLog hash_log(dir + "/hashes.txt", opt.writer.sync);
  auto flush_hashes = [&] { hash_log.append(hashes); };
  auto sink = [&](int fd, const uint8_t* d, size_t n) {
    if (opt.guest_output) opt.guest_output(fd, d, n);
  };
  Vm vm(state, oracle, sink);
  Executor exec(vm, ExecutorOptions{opt.jit});
  uint64_t last_ckpt = UINT64_MAX;
  std::optional<Proof2Keeper> keeper;  // the run from the last checkpoint
  auto take = [&] {
    // Checkpoints carry the reference's second proof slot, current (run_session.h).
    if (keeper) {
      keeper->make_current(vm);
      sum.proof2_rerun_steps += keeper->rerun_steps();
    }
    // Without a copy of the inner-node cache: up to 6 checkpoints are alive at once (the
    // writer's queue), and at 1 GiB each copy would be 58 MiB.
    auto c = std::make_shared<const Checkpoint>(state, vm.proof2_slot(), false);
    keeper.emplace(RunOrigin::of(c), oracle, opt.jit, opt.proof2_window);
    hashes[c->step()] = c->hash();
    last_ckpt = c->step();
    ++sum.checkpoints;
    flush_hashes();
    writer.submit(std::move(c));
  };

  take();
  sum.start_hash = hashes[state.step];
  uint64_t next_ckpt = (state.step / every + 1) * every;
  keeper->aim(vm, std::min(next_ckpt, opt.stop_at));
  auto last_report = clock::now();
  uint64_t last_report_step = state.step;
  while (!state.exited && state.step < opt.stop_at) {
    uint64_t s = state.step;
    if (hash_at.contains(s) && !hashes.count(s)) hashes[s] = state.hash();
    uint64_t target =
        std::min({next_ckpt, hash_at.next_at_or_after(s + 1), opt.stop_at, s + kProgressChunk});
    StepStatus st = exec.run_until(target);
    if (st != StepStatus::kOk) {
      sum.panicked = true;
      sum.panic_message = vm.panic_message();
      break;
    }
    if (state.step == next_ckpt) {
      if (!state.exited && state.step < opt.stop_at) take();
      next_ckpt += every;
      keeper->aim(vm, std::min(next_ckpt, opt.stop_at));
    }
    if (opt.progress && opt.progress_seconds > 0) {
      auto now = clock::now();
      double dt = std::chrono::duration<double>(now - last_report).count();
      if (dt >= opt.progress_seconds) {
        opt.progress(state.step, double(state.step - last_report_step) / dt);
        last_report = now;
        last_report_step = state.step;
      }
    }
  }
  if (!sum.panicked) {
    if (last_ckpt != state.step) take();  // the final state, exited or stopped
    sum.final_step = state.step;
    sum.final_hash = hashes[state.step];
    sum.exited = state.exited;
    sum.exit_code = state.exit_code;
  } else {
    sum.final_step = last_ckpt;
    sum.final_hash = hashes[last_ckpt];
  }
  writer.finish();
  sum.store = writer.stats();

  flush_hashes();
  sum.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  info["complete"] = true;
  info["final_step"] = sum.final_step;
  info["final_hash"] = hex(sum.final_hash);
  info["start_hash"] = hex(sum.start_hash);
  info["exited"] = sum.exited;
  info["exit_code"] = sum.exit_code;
  if (sum.panicked) info["panic"] = sum.panic_message;
  info["checkpoints"] = sum.checkpoints;
  info["store_bytes"] = sum.store.bytes;
  write_text_atomic(dir + "/trace.json", info.dump(2) + "\n");
  return sum;
}

TraceReader::TraceReader(const std::string& dir) : m_dir(dir), m_ckpts(dir) {
  if (m_ckpts.steps().empty()) throw CheckpointError("trace " + dir + " has no checkpoints");
  m_start_step = m_ckpts.steps().front();
  m_final_step = m_ckpts.steps().back();
  std::string info_path = dir + "/trace.json";
  if (std::filesystem::exists(info_path)) {
    try {
      ReadLimits limits;
      limits.max_bytes = kMaxJsonFileBytes;
      auto b = read_file(info_path, limits);
      auto j = nlohmann::json::parse(b.begin(), b.end());
      if (j.value("format", "") != kTraceFormat)
        throw CheckpointError(info_path + " is not a cannonball trace");
      if (j.value("version", 0) != kTraceVersion)
        throw CheckpointError(info_path + " has trace version " +
                              std::to_string(j.value("version", 0)));
      m_complete = j.value("complete", false);
      if (m_complete) {
        m_exited = j.value("exited", false);
        uint64_t f = j.value("final_step", uint64_t{0});
        if (f != m_final_step)
          throw CheckpointError("trace " + dir + " is incomplete: trace.json ends at step " +
                                std::to_string(f) + " but the last checkpoint is at step " +
                                std::to_string(m_final_step));
      }
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(info_path + ": " + e.what());
    }
  }
  if (m_complete && std::filesystem::exists(dir + "/hashes.txt"))
    m_known = read_step_hashes(dir + "/hashes.txt");
  for (uint64_t s : m_ckpts.steps()) m_known[s] = m_ckpts.recorded_hash(s);
}

std::optional<Hash32> TraceReader::known_hash(uint64_t step) const {
  auto it = m_known.find(step);
  if (it == m_known.end()) return std::nullopt;
  return it->second;
}

}  // namespace cb
