#include "cli/verify_command.h"

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "host/file_io.h"
#include "host/hex.h"
#include "interp/witness_step.h"

namespace cb::cli {

namespace {

constexpr uint64_t kMaxProofFileSize = uint64_t{64}
                                       << 20;  // a proof is ~13 KB; large pre-images fit

// "0x" + an even number of hex digits -> bytes; "" on success, else the problem.
std::string parse_hex_bytes(const nlohmann::json& v, std::vector<uint8_t>& out) {
  if (!v.is_string()) return "not a string";
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return "not 0x-prefixed hex";
  if (s.size() % 2) return "odd number of hex digits";
  out.resize((s.size() - 2) / 2);
  if (!parse_hex_digits(std::string_view(s).substr(2), out)) return "not hex";
  return "";
}

std::string field_bytes(const nlohmann::json& j, const char* name, std::vector<uint8_t>& out,
                        size_t want) {
  auto it = j.find(name);
  if (it == j.end()) return std::string(name) + ": missing";
  std::string e = parse_hex_bytes(*it, out);
  if (!e.empty()) return std::string(name) + ": " + e;
  if (want && out.size() != want)
    return std::string(name) + ": " + std::to_string(out.size()) + " bytes, want " +
           std::to_string(want);
  return "";
}

std::string field_u64(const nlohmann::json& j, const char* name, uint64_t& out) {
  auto it = j.find(name);
  if (it == j.end()) return std::string(name) + ": missing";
  if (!it->is_number_unsigned()) return std::string(name) + ": not an unsigned integer";
  out = it->get<uint64_t>();
  return "";
}

// The whole file, gunzipped by name, refusing more than kMaxProofFileSize bytes either way.
std::vector<uint8_t> read_bounded(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw IoError("cannot open: " + std::string(std::strerror(errno)));
  std::vector<uint8_t> data;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    if (data.size() + n > kMaxProofFileSize) throw IoError("larger than 64 MiB: not a proof file");
    data.insert(data.end(), buf, buf + n);
  }
  if (std::ferror(f.get())) throw IoError("read error: " + std::string(std::strerror(errno)));
  if (is_gzip_path(path)) return gunzip_bytes(data, path, kMaxProofFileSize);
  return data;
}

}  // namespace

std::string parse_proof_json(std::string_view text, ProofFile& out) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return "not JSON";
  if (!j.is_object()) return "not a JSON object";
  std::vector<uint8_t> b;
  std::string e;
  if (!(e = field_u64(j, "step", out.step)).empty()) return e;
  if (!(e = field_bytes(j, "pre", b, 32)).empty()) return e;
  std::memcpy(out.witness.state_hash.data(), b.data(), 32);
  if (!(e = field_bytes(j, "post", b, 32)).empty()) return e;
  std::memcpy(out.post.data(), b.data(), 32);
  if (!(e = field_bytes(j, "state-data", b, kStateWitnessSize)).empty()) return e;
  std::memcpy(out.witness.state.data(), b.data(), kStateWitnessSize);
  if (!(e = field_bytes(j, "proof-data", out.witness.proof_data, 0)).empty()) return e;
  const bool has_key = j.contains("oracle-key"), has_value = j.contains("oracle-value");
  if (has_key != has_value)
    return has_key ? "oracle-value: missing, with oracle-key present"
                   : "oracle-key: missing, with oracle-value present";
  if (!has_key) {
    if (j.contains("oracle-offset")) return "oracle-offset: present without oracle-key";
    return "";
  }
  out.witness.has_preimage = true;
  if (!(e = field_bytes(j, "oracle-key", b, 32)).empty()) return e;
  std::memcpy(out.witness.preimage_key.data(), b.data(), 32);
  if (!(e = field_bytes(j, "oracle-value", out.witness.preimage_value, 0)).empty()) return e;
  out.witness.preimage_offset = 0;  // omitted when 0, as the reference writes it
  if (j.contains("oracle-offset") &&
      !(e = field_u64(j, "oracle-offset", out.witness.preimage_offset)).empty())
    return e;
  return "";
}

std::string verify_proof_file(const std::string& path) {
  std::vector<uint8_t> data;
  try {
    data = read_bounded(path);
  } catch (const std::exception& ex) {
    return std::string("cannot read: ") + ex.what();
  }
  ProofFile p;
  std::string e = parse_proof_json(
      std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), p);
  if (!e.empty()) return "not a proof file: " + e;
  return verify_step_witness(p.witness, p.step, p.post).failure;
}

int verify_main(int argc, char** argv) {
  CLI::App app{"Check proof files offline from their witness alone, as MIPS64.step does", "verify"};
  std::vector<std::string> files;
  unsigned threads = 0;
  bool verbose = false;
  app.add_option("files", files, "proof JSON files (.json or .json.gz)")->required();
  app.add_option("-j,--threads", threads, "worker threads (0: all cores)");
  app.add_flag("-v,--verbose", verbose, "also print \"FILE: valid\" lines");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  std::unique_ptr<tbb::global_control> limit;
  if (threads)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  threads);
  std::vector<std::string> why(files.size());
  tbb::parallel_for(size_t{0}, files.size(),
                    [&](size_t i) { why[i] = verify_proof_file(files[i]); });
  size_t bad = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!why[i].empty()) {
      ++bad;
      std::cout << files[i] << ": invalid: " << why[i] << "\n";
    } else if (verbose) {
      std::cout << files[i] << ": valid\n";
    }
  }
  std::cout.flush();
  return bad ? kExitError : kExitOk;
}

}  // namespace cb::cli
