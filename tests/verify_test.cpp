// `cannonball verify` and the witness-only step (interp/witness_step.h):
//  - every one of the 1,100 reference proofs (each accepted by MIPS64.step on chain) verifies;
//  - every reference proof, tampered field by field, is rejected with the reason of the field
//    that was changed. Which memory-proof slots a step uses is worked out here from the proof
//    itself, independently of the verifier: the instruction proof when the VM has not exited,
//    the thread has not exited and no preemption is due; the first data proof when its slot is
//    non-zero (a single-proof run leaves an unused first slot zero); the second data proof
//    when the instruction is a syscall with v0 = clock_gettime and a valid clock id. Tampering
//    an unused slot must leave the proof valid (the contract never reads it);
//  - witnesses recorded by step_with_proof over the first steps of two guests verify and give
//    the fast step's post hash;
//  - the CLI on a subset (plain and .json.gz) and on tampered files: exit codes, one line per
//    invalid file.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/verify_command.h"
#include "cli_helpers.h"
#include "host/file_io.h"
#include "interp/witness_step.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;
using nlohmann::json;

const char* const kGuests[] = {"isa", "hello", "oracle"};

std::string verify_text(const std::string& text) {
  cli::ProofFile p;
  std::string e = cli::parse_proof_json(text, p);
  if (!e.empty()) return "not a proof file: " + e;
  return verify_step_witness(p.witness, p.step, p.post).failure;
}

std::vector<uint8_t> unhex(const std::string& s) {
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::vector<uint8_t> out((s.size() - 2) / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = uint8_t(nib(s[2 + 2 * i]) << 4 | nib(s[3 + 2 * i]));
  return out;
}
std::string tohex(const std::vector<uint8_t>& b) { return hex(std::span<const uint8_t>(b)); }

uint64_t be64(const std::vector<uint8_t>& b, size_t off) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | b[off + i];
  return v;
}

// Flips one byte of a hex field.
json flip(json j, const std::string& field, size_t byte, uint8_t mask = 0x01) {
  auto b = unhex(j[field].get<std::string>());
  b.at(byte) ^= mask;
  j[field] = tohex(b);
  return j;
}

// What this test knows about a proof, from the proof alone.
struct Facts {
  bool vm_exited, executes, data1_used, data2_used, has_oracle;
};
Facts facts_of(const json& j) {
  auto sd = unhex(j["state-data"].get<std::string>());
  auto pd = unhex(j["proof-data"].get<std::string>());
  Facts f{};
  f.vm_exited = sd[98] == 1;
  const bool thread_exited = pd[9] == 1;
  const uint64_t since_switch = be64(sd, 107);
  f.executes = !f.vm_exited && !thread_exited && since_switch < 100000;
  const size_t insn_at = 330, data1_at = 330 + 1920;
  bool nonzero = false;
  for (size_t i = 0; i < 1920; ++i) nonzero |= pd[data1_at + i] != 0;
  f.data1_used = nonzero;
  if (f.executes) {
    const uint64_t pc = be64(pd, 10);
    const uint64_t word = be64(pd, insn_at + (pc & 24));
    const uint32_t insn = (pc & 4) ? uint32_t(word) : uint32_t(word >> 32);
    const uint64_t v0 = be64(pd, 42 + 8 * 2), a0 = be64(pd, 42 + 8 * 4);
    f.data2_used = insn == 0x0000000c && v0 == 5222 && a0 <= 1;
  }
  f.has_oracle = j.contains("oracle-key");
  return f;
}

TEST(Verify, AcceptsEveryReferenceProof) {
  CB_REQUIRE_REFERENCE();
  size_t n = 0, bad = 0;
  for (const char* g : kGuests) {
    for (uint64_t step : reference_proof_steps(g)) {
      std::string why = cli::verify_proof_file(reference_proof_path(g, step));
      ++n;
      if (!why.empty() && ++bad <= 10) ADD_FAILURE() << g << " proof-" << step << ": " << why;
    }
  }
  EXPECT_EQ(n, 1100u);
  EXPECT_EQ(bad, 0u);
}

struct Tamper {
  std::string name;
  json j;
  std::string want;  // expected reason prefix; "" = still valid
};

std::vector<Tamper> tampers_of(const json& j) {
  const Facts f = facts_of(j);
  std::vector<Tamper> t;
  t.push_back({"post byte 31", flip(j, "post", 31), "post: "});
  t.push_back({"post status byte", flip(j, "post", 0), "post: "});
  t.push_back({"pre byte 5", flip(j, "pre", 5), "pre: state-data hashes to"});
  t.push_back({"state-data heap byte", flip(j, "state-data", 79), "pre: state-data hashes to"});
  t.push_back(
      {"state-data memory root byte", flip(j, "state-data", 0), "pre: state-data hashes to"});
  t.push_back(
      {"state-data next thread id byte", flip(j, "state-data", 187), "pre: state-data hashes to"});
  t.push_back({"state-data exited = 2", flip(j, "state-data", 98, f.vm_exited ? 0x03 : 0x02),
               "state-data: exited is 2"});
  if (f.vm_exited) return t;  // nothing else is read
  t.push_back({"thread witness register", flip(j, "proof-data", 42 + 8 * 5 + 7),
               "proof-data: the thread witness"});
  t.push_back({"thread witness inner root", flip(j, "proof-data", 298 + 3),
               "proof-data: the thread witness"});
  const std::string used[3] = {"memory proof 0 (instruction at ", "memory proof 1 (data at ",
                               "memory proof 2 (second data at "};
  const bool uses[3] = {f.executes, f.data1_used, f.data2_used};
  for (unsigned slot = 0; slot < 3; ++slot) {
    const size_t at = 330 + 1920 * slot;
    const std::string want = uses[slot] ? used[slot] : "";
    const std::string s = "memory proof " + std::to_string(slot);
    t.push_back({s + " leaf", flip(j, "proof-data", at + 9), want});
    t.push_back({s + " sibling 40", flip(j, "proof-data", at + 32 * 40 + 31), want});
  }
  if (f.has_oracle) {
    auto v = unhex(j["oracle-value"].get<std::string>());
    auto key = unhex(j["oracle-key"].get<std::string>());
    const uint64_t off = j.value("oracle-offset", uint64_t{0});
    if (key[0] == 2) {
      t.push_back({"oracle-value data byte (keccak key)", flip(j, "oracle-value", v.size() - 1),
                   "oracle-value: its keccak256"});
    } else {
      // A local key does not commit to its data: a changed byte that the step reads changes
      // the memory it writes, hence the post-state.
      // (Offsets below 8 read the length prefix, which is checked first.)
      t.push_back({"oracle-value byte read (local key)", flip(j, "oracle-value", off),
                   off < 8 ? "oracle-value: its length prefix" : "post: "});
    }
    t.push_back({"oracle-value length prefix", flip(j, "oracle-value", 7),
                 "oracle-value: its length prefix"});
    json o = j;
    o["oracle-offset"] = off + 1;
    t.push_back({"oracle-offset + 1", o, "oracle-offset: "});
    t.push_back({"oracle-key last byte", flip(j, "oracle-key", 31), "oracle-key: "});
    json m = j;
    m.erase("oracle-key");
    m.erase("oracle-value");
    m.erase("oracle-offset");
    t.push_back({"oracle fields removed", m, "oracle-value: missing, but the step reads"});
  } else {
    auto sd = unhex(j["state-data"].get<std::string>());
    if (sd[32] != 2) {
      // Oracle fields that agree with the state but describe a read the step does not make.
      json o = j;
      o["oracle-key"] = tohex(std::vector<uint8_t>(sd.begin() + 32, sd.begin() + 64));
      o["oracle-value"] = "0x0000000000000003616263";
      if (be64(sd, 64)) o["oracle-offset"] = be64(sd, 64);
      t.push_back(
          {"oracle fields added", o, "oracle-key: present, but the step reads no pre-image"});
    }
  }
  return t;
}

TEST(Verify, RejectsEveryTamperedFieldWithItsReason) {
  CB_REQUIRE_REFERENCE();
  size_t n = 0, bad = 0, counts[4] = {};
  for (const char* g : kGuests) {
    for (uint64_t step : reference_proof_steps(g)) {
      json j = json::parse(read_text(reference_proof_path(g, step)));
      Facts f = facts_of(j);
      counts[0] += f.executes;
      counts[1] += f.data1_used;
      counts[2] += f.data2_used;
      counts[3] += f.has_oracle;
      for (const Tamper& t : tampers_of(j)) {
        std::string why = verify_text(t.j.dump());
        ++n;
        bool ok = t.want.empty() ? why.empty() : why.rfind(t.want, 0) == 0;
        if (!ok && ++bad <= 20)
          ADD_FAILURE() << g << " proof-" << step << ", " << t.name << ": got \"" << why
                        << "\", want \"" << (t.want.empty() ? "(valid)" : t.want) << "\"";
      }
    }
  }
  EXPECT_EQ(bad, 0u) << "of " << n << " tampered proofs";
  // The vectors exercise every slot and both pre-image key types.
  EXPECT_GT(counts[0], 1000u);
  EXPECT_GT(counts[1], 100u);
  EXPECT_GT(counts[2], 0u);
  EXPECT_EQ(counts[3], 22u);
}

TEST(Verify, MalformedFilesNameTheField) {
  CB_REQUIRE_REFERENCE();
  json j = json::parse(read_text(reference_proof_path("isa", 0)));
  EXPECT_EQ(verify_text("{"), "not a proof file: not JSON");
  EXPECT_EQ(verify_text("[]"), "not a proof file: not a JSON object");
  json a = j;
  a.erase("post");
  EXPECT_EQ(verify_text(a.dump()), "not a proof file: post: missing");
  a = j;
  a["state-data"] = j["state-data"].get<std::string>().substr(0, 100);
  EXPECT_EQ(verify_text(a.dump()), "not a proof file: state-data: 49 bytes, want 188");
  a = j;
  a["pre"] = "0x" + std::string(63, '0') + "g";
  EXPECT_EQ(verify_text(a.dump()), "not a proof file: pre: not hex");
  a = j;
  a["proof-data"] = j["proof-data"].get<std::string>().substr(0, 2 + 2 * 330);
  EXPECT_EQ(verify_text(a.dump()), "proof-data: 330 bytes, want 6090");
  a = j;
  a["step"] = 5;
  EXPECT_EQ(verify_text(a.dump()), "step: 5, but state-data's step is 0");
  a = j;
  a["oracle-value"] = "0x00";
  EXPECT_EQ(verify_text(a.dump()),
            "not a proof file: oracle-key: missing, with oracle-value present");
}

// step_with_proof's witness for every step of a run verifies and agrees with the fast step.
TEST(Verify, RecordedWitnessesOfGuestRunsVerify) {
  CB_REQUIRE_REFERENCE();
  for (const char* g : {"isa", "hello"}) {
    State s = load_state_file(vectors_dir(g) + "/initial.bin.gz");
    State fast = s.clone();
    Vm vm(s, nullptr, nullptr), fvm(fast, nullptr, nullptr);
    size_t bad = 0;
    for (int i = 0; i < 20000 && !s.exited; ++i) {
      vm.reset_proof_slots();
      StepWitness w;
      ASSERT_EQ(vm.step_with_proof(w), StepStatus::kOk) << vm.panic_message();
      ASSERT_EQ(fvm.step(), StepStatus::kOk);
      Hash32 post = fast.hash();
      WitnessCheck c = verify_step_witness(w, s.step - 1, post);
      if ((!c.failure.empty() || c.post != post) && ++bad <= 5)
        ADD_FAILURE() << g << " step " << s.step - 1 << ": " << c.failure;
    }
    EXPECT_EQ(bad, 0u) << g;
  }
}

TEST(VerifyCli, SubsetPlainAndGzipAndTampered) {
  CB_REQUIRE_REFERENCE();
  std::string dir = temp_dir("verify-cli");
  std::string args;
  for (const char* g : kGuests) {
    auto steps = reference_proof_steps(g);
    for (size_t i = 0; i < steps.size(); i += steps.size() / 8 + 1)
      args += " " + shell_quote(reference_proof_path(g, steps[i]));
  }
  // A .json.gz copy of a pre-image-reading proof.
  std::string src = reference_proof_path("oracle", 524110);
  std::string text = read_text(src);
  write_file_atomic(
      dir + "/p.json.gz",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  args += " " + shell_quote(dir + "/p.json.gz");
  CmdResult r = run_cmd(cannonball() + " verify" + args);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");

  json j = json::parse(text);
  write_text(dir + "/bad-post.json", flip(j, "post", 31).dump(2));
  write_text(dir + "/bad-mem.json", flip(j, "proof-data", 330 + 1920 + 32 * 3).dump(2));
  write_text(dir + "/garbage.json", "not json");
  r = run_cmd(cannonball() + " verify " + shell_quote(dir + "/bad-post.json") + " " +
              shell_quote(src) + " " + shell_quote(dir + "/bad-mem.json") + " " +
              shell_quote(dir + "/garbage.json") + " " + shell_quote(dir + "/absent.json"));
  EXPECT_EQ(r.exit_code, 1);
  std::vector<std::string> lines;
  for (size_t p = 0, q; (q = r.out.find('\n', p)) != std::string::npos; p = q + 1)
    lines.push_back(r.out.substr(p, q - p));
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].rfind(dir + "/bad-post.json: invalid: post: ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind(dir + "/bad-mem.json: invalid: memory proof 1 (data at 0x", 0), 0u)
      << lines[1];
  EXPECT_NE(lines[1].find("does not open against the memory root"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2], dir + "/garbage.json: invalid: not a proof file: not JSON");
  EXPECT_EQ(lines[3].rfind(dir + "/absent.json: invalid: cannot read: ", 0), 0u) << lines[3];

  r = run_cmd(cannonball() + " verify");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

}  // namespace
}  // namespace cb
