#include "scheduler/shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "host/file_io.h"
#include "scheduler/trace.h"

namespace cb {

namespace {

constexpr const char* kPlanFormat = "cannonball.batch.plan";
constexpr int kPlanVersion = 1;
constexpr const char* kUnitMagic = "cannonball.batch.unit 1";

uint64_t parse_u64(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error("invalid " + what + " \"" + s + "\"");
  unsigned long long v = 0;
  for (char c : s) {
    if (v > (UINT64_MAX - uint64_t(c - '0')) / 10)
      throw std::runtime_error("invalid " + what + " \"" + s + "\": out of range");
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

std::string read_text(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  return std::string(b.begin(), b.end());
}

std::string pad(uint64_t v, size_t width) {
  std::string s = std::to_string(v);
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

}  // namespace

ShardId parse_shard(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos)
    throw std::runtime_error("invalid shard \"" + text + "\": expected K/N");
  ShardId id;
  uint64_t k = parse_u64(text.substr(0, slash), "shard index in \"" + text + "\"");
  uint64_t n = parse_u64(text.substr(slash + 1), "shard count in \"" + text + "\"");
  if (n == 0 || n > 100000 || k >= n)
    throw std::runtime_error("invalid shard \"" + text +
                             "\": need 0 <= K < N <= 100000 (K counts from 0)");
  id.index = uint32_t(k);
  id.count = uint32_t(n);
  return id;
}

std::vector<uint64_t> unit_steps(const std::vector<uint64_t>& steps, const BatchUnit& unit) {
  auto lo = std::lower_bound(steps.begin(), steps.end(), unit.from);
  auto hi = std::lower_bound(lo, steps.end(), unit.to);
  return std::vector<uint64_t>(lo, hi);
}

void assign_shards(std::vector<BatchUnit>& units, uint32_t shards) {
  std::vector<BatchUnit*> order;
  for (BatchUnit& u : units) order.push_back(&u);
  std::sort(order.begin(), order.end(), [](const BatchUnit* a, const BatchUnit* b) {
    if (a->cost != b->cost) return a->cost > b->cost;
    if (a->job != b->job) return a->job < b->job;
    return a->from < b->from;
  });
  std::vector<uint64_t> load(shards, 0);
  for (BatchUnit* u : order) {
    uint32_t best = 0;
    for (uint32_t s = 1; s < shards; ++s)
      if (load[s] < load[best]) best = s;
    u->shard = best;
    load[best] += u->cost;
  }
}

BatchPlan make_batch_plan(std::string kind, std::vector<BatchJob> jobs,
                          const std::vector<std::vector<uint64_t>>& checkpoints, uint32_t shards) {
  if (shards == 0) throw std::runtime_error("a batch needs at least one shard");
  if (checkpoints.size() != jobs.size())
    throw std::logic_error("make_batch_plan: one checkpoint list per job");
  BatchPlan plan;
  plan.kind = std::move(kind);
  plan.shards = shards;
  for (uint32_t j = 0; j < jobs.size(); ++j) {
    BatchJob& job = jobs[j];
    for (auto* v : {&job.proofs, &job.hashes}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    const std::vector<uint64_t>& ck = checkpoints[j];
    // Every requested step, ascending, with its kind; walk them against the checkpoints.
    std::map<uint64_t, std::pair<bool, bool>> steps;
    for (uint64_t s : job.proofs) steps[s].first = true;
    for (uint64_t s : job.hashes) steps[s].second = true;
    BatchUnit* cur = nullptr;
    for (auto& [step, kinds] : steps) {
      auto it = std::upper_bound(ck.begin(), ck.end(), step);
      if (it == ck.begin())
        throw std::runtime_error(job.source + ": no checkpoint at or before step " +
                                 std::to_string(step));
      uint64_t from = *(it - 1);
      uint64_t to = it == ck.end() ? UINT64_MAX : *it;
      if (!cur || cur->from != from) {
        plan.units.push_back(BatchUnit{j, from, to, 0, 0, 0, 0});
        cur = &plan.units.back();
      }
      cur->proofs += kinds.first;
      cur->hashes += kinds.second;
      cur->cost = (step - from) + kBatchItemCost * (cur->proofs + cur->hashes);
    }
  }
  plan.jobs = std::move(jobs);
  assign_shards(plan.units, shards);
  return plan;
}

std::string BatchPlan::to_json() const {
  nlohmann::ordered_json j;
  j["format"] = kPlanFormat;
  j["version"] = kPlanVersion;
  j["kind"] = kind;
  j["shards"] = shards;
  j["jobs"] = nlohmann::ordered_json::array();
  for (const BatchJob& b : jobs) {
    nlohmann::ordered_json o;
    o["source"] = b.source;
    o["type"] = b.trace ? "trace" : "state";
    o["proof_fmt"] = b.proof_fmt;
    o["proofs"] = b.proofs;
    o["hashes"] = b.hashes;
    j["jobs"].push_back(std::move(o));
  }
  j["units"] = nlohmann::ordered_json::array();
  for (const BatchUnit& u : units) {
    nlohmann::ordered_json o;
    o["job"] = u.job;
    o["from"] = u.from;
    if (u.to != UINT64_MAX) o["to"] = u.to;
    o["proofs"] = u.proofs;
    o["hashes"] = u.hashes;
    o["cost"] = u.cost;
    o["shard"] = u.shard;
    j["units"].push_back(std::move(o));
  }
  return j.dump(1) + "\n";
}

BatchPlan BatchPlan::from_json(const std::string& text, const std::string& name) {
  BatchPlan p;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.value("format", "") != kPlanFormat)
      throw std::runtime_error(name + " is not a cannonball batch plan");
    if (j.value("version", 0) != kPlanVersion)
      throw std::runtime_error(name + " has plan version " + std::to_string(j.value("version", 0)));
    p.kind = j.at("kind").get<std::string>();
    p.shards = j.at("shards").get<uint32_t>();
    for (auto& o : j.at("jobs")) {
      BatchJob b;
      b.source = o.at("source").get<std::string>();
      b.trace = o.at("type").get<std::string>() == "trace";
      b.proof_fmt = o.at("proof_fmt").get<std::string>();
      b.proofs = o.at("proofs").get<std::vector<uint64_t>>();
      b.hashes = o.at("hashes").get<std::vector<uint64_t>>();
      p.jobs.push_back(std::move(b));
    }
    for (auto& o : j.at("units")) {
      BatchUnit u;
      u.job = o.at("job").get<uint32_t>();
      u.from = o.at("from").get<uint64_t>();
      u.to = o.value("to", UINT64_MAX);
      u.proofs = o.at("proofs").get<uint64_t>();
      u.hashes = o.at("hashes").get<uint64_t>();
      u.cost = o.at("cost").get<uint64_t>();
      u.shard = o.at("shard").get<uint32_t>();
      if (u.job >= p.jobs.size() || u.shard >= p.shards || u.from >= u.to)
        throw std::runtime_error(name + ": inconsistent unit");
      p.units.push_back(u);
    }
    if (p.shards == 0) throw std::runtime_error(name + ": zero shards");
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
  return p;
}

BatchPlan read_batch_plan(const std::string& dir) {
  std::string path = dir + "/plan.json";
  if (!std::filesystem::exists(path))
    throw std::runtime_error("no batch plan " + path + " (no shard has started in " + dir + ")");
  return BatchPlan::from_json(read_text(path), path);
}

BatchPlan establish_batch_plan(const std::string& dir, const BatchPlan& plan) {
  std::filesystem::create_directories(dir + "/units");
  const std::string path = dir + "/plan.json";
  if (!std::filesystem::exists(path)) {
    // Write a private temp file, then link(2) it to the final name: exactly one of several
    // shards starting at once creates plan.json; the others find it and use it.
    std::random_device rd;
    std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    std::string text = plan.to_json();
    write_file_atomic(
        tmp, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST)
      throw IoError("cannot create " + path + ": " + std::strerror(err));
  }
  BatchPlan on_disk = BatchPlan::from_json(read_text(path), path);
  if (!on_disk.same_inputs(plan))
    throw std::runtime_error(
        path + " was planned for other inputs (" + std::to_string(on_disk.shards) + " shards, " +
        std::to_string(on_disk.jobs.size()) + " jobs): use another batch directory or remove it");
  return on_disk;
}

std::string unit_result_path(const std::string& dir, const BatchUnit& unit) {
  return dir + "/units/unit-" + pad(unit.job, 6) + "-" + pad(unit.from, 20) + ".txt";
}

void write_unit_result(const std::string& dir, const BatchUnit& unit, const UnitResult& r) {
  std::string t = std::string(kUnitMagic) + "\njob " + std::to_string(unit.job) + " from " +
                  std::to_string(unit.from) + "\n";
  for (auto& [step, h] : r.hashes) t += "hash " + std::to_string(step) + " " + hex(h) + "\n";
  for (auto& [step, p] : r.proofs) t += "proof " + std::to_string(step) + " " + p + "\n";
  for (const std::string& f : r.files) t += "file 0 " + f + "\n";
  t += "end\n";
  write_file_atomic(unit_result_path(dir, unit),
                    std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t.data()), t.size()));
}

std::optional<UnitResult> read_unit_result(const std::string& dir, const BatchPlan& plan,
                                           const BatchUnit& unit) {
  const std::string path = unit_result_path(dir, unit);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  // Our own file, at most a few lines per requested step: refuse anything far larger.
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size > 64 + 4096 * (unit.proofs + unit.hashes + 4)) return std::nullopt;
  std::istringstream in(read_text(path));
  std::string line;
  UnitResult r;
  bool ended = false;
  if (!std::getline(in, line) || line != kUnitMagic) return std::nullopt;
  if (!std::getline(in, line) ||
      line != "job " + std::to_string(unit.job) + " from " + std::to_string(unit.from))
    return std::nullopt;
  try {
    while (std::getline(in, line)) {
      if (line == "end") {
        ended = true;
        break;
      }
      auto a = line.find(' '), b = line.find(' ', a == std::string::npos ? a : a + 1);
      if (a == std::string::npos || b == std::string::npos) return std::nullopt;
      std::string kind = line.substr(0, a), rest = line.substr(b + 1);
      uint64_t step = parse_u64(line.substr(a + 1, b - a - 1), "step");
      if (kind == "hash") {
        Hash32 h;
        if (!parse_hash(rest, h)) return std::nullopt;
        r.hashes[step] = h;
      } else if (kind == "proof") {
        r.proofs[step] = rest;
      } else if (kind == "file") {
        if (!std::filesystem::exists(rest, ec)) return std::nullopt;
        r.files.push_back(rest);
      } else {
        return std::nullopt;
      }
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!ended) return std::nullopt;
  const BatchJob& job = plan.jobs.at(unit.job);
  for (uint64_t s : unit_steps(job.proofs, unit)) {
    auto it = r.proofs.find(s);
    if (it == r.proofs.end() || (it->second != "-" && !std::filesystem::exists(it->second, ec)))
      return std::nullopt;
  }
  for (uint64_t s : unit_steps(job.hashes, unit))
    if (!r.hashes.count(s)) return std::nullopt;
  return r;
}

BatchProgress batch_progress(const std::string& dir, const BatchPlan& plan) {
  BatchProgress p;
  p.shards.resize(plan.shards);
  for (const BatchUnit& u : plan.units) {
    BatchProgress::Shard& s = p.shards.at(u.shard);
    ++s.units;
    s.proofs += u.proofs;
    s.hashes += u.hashes;
    if (read_unit_result(dir, plan, u)) {
      ++s.complete;
    } else {
      s.missing_proofs += u.proofs;
      s.missing_hashes += u.hashes;
      p.incomplete.push_back(&u);
    }
  }
  return p;
}

}  // namespace cb
