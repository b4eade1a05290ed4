// State files through the CLI: --output and --snapshot-at files against the reference's bytes
// (final.bin.gz, hashes.txt), runs resumed from every snapshot, and `witness` output against
// the reference's (its text is built from the reference proof of step 0: "pre" is the
// witness hash and "state-data" the witness of the initial state).
#include <gtest/gtest.h>

#include "cli_helpers.h"
#include "host/file_io.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;

std::string hash_at(const std::string& g, uint64_t step) {
  for (auto& [s, h] : read_hashes(vectors_dir(g) + "/hashes.txt"))
    if (s == step) return h;
  return "";
}

class StateGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(StateGuest, SnapshotsFinalStateAndResumedRunsMatchTheReference) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  const auto expected = expected_json(g);
  const uint64_t final_step = expected["final_step"];
  const uint64_t every = g == "oracle" ? 200000 : 100000;
  const std::vector<uint8_t> ref_final = read_bytes(vectors_dir(g) + "/final.bin.gz");
  const std::vector<uint8_t> ref_initial = read_bytes(vectors_dir(g) + "/initial.bin.gz");
  std::string dir = temp_dir("snap-" + g);

  // One uninterrupted run writing snapshots (gzipped, and plain .bin for the first guest).
  const std::string fmt = dir + (g == "isa" ? "/snap-%d.bin" : "/snap-%d.bin.gz");
  CmdResult r =
      run_cmd(cannonball() + " run --input " + shell_quote(vectors_dir(g) + "/initial.bin.gz") +
              " --output " + shell_quote(dir + "/final.bin.gz") + " --meta '' --snapshot-at %" +
              std::to_string(every) + " --snapshot-fmt " + shell_quote(fmt) + server_args(g));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_bytes(dir + "/final.bin.gz") == ref_final)
      << "final state differs from final.bin.gz";
  std::string guest_out = expected["stdout"];
  if (!guest_out.empty())
    EXPECT_NE(r.err.find("module=guest stream=stdout"), std::string::npos) << r.err;

  for (uint64_t step = 0; step < final_step; step += every) {
    SCOPED_TRACE("snapshot " + std::to_string(step));
    std::string snap = format_path(fmt, step);
    ASSERT_TRUE(std::filesystem::exists(snap));
    std::vector<uint8_t> bytes = read_bytes(snap);
    State s = State::deserialize(bytes);
    EXPECT_TRUE(s.serialize() == bytes) << "snapshot does not round-trip";
    EXPECT_EQ(s.step, step);
    EXPECT_EQ(hex(s.hash()), hash_at(g, step));
    if (step == 0) EXPECT_TRUE(bytes == ref_initial) << "snapshot 0 differs from initial.bin.gz";
    // Resume from it: same final file as the uninterrupted run and the reference.
    std::string out = dir + "/resumed-" + std::to_string(step) + ".bin.gz";
    CmdResult rr = run_cmd(cannonball() + " run --input " + shell_quote(snap) + " --output " +
                           shell_quote(out) + " --meta ''" + server_args(g));
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
    std::vector<uint8_t> fin = read_bytes(out);
    EXPECT_TRUE(fin == ref_final) << "resumed run ends elsewhere";
    EXPECT_EQ(hex(State::deserialize(fin).hash()), std::string(expected["final_hash"]));
  }
  // Only the files asked for: no temp files left behind.
  for (const std::string& f : list_dir(dir))
    EXPECT_TRUE(f.rfind("snap-", 0) == 0 || f.rfind("resumed-", 0) == 0 || f == "final.bin.gz")
        << f;
  std::filesystem::remove_all(dir);
}

TEST_P(StateGuest, WitnessPrintsTheReferenceJson) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  const auto expected = expected_json(g);
  // The state at the first reference proof step N (the initial state when N = 0): its
  // witness and hash are that proof's "state-data" and "pre".
  const uint64_t n = reference_proof_steps(g).front();
  auto pn = nlohmann::json::parse(read_text(reference_proof_path(g, n)));
  std::string dir = temp_dir("witness-" + g);
  std::string state_n = vectors_dir(g) + "/initial.bin.gz";
  if (n != 0) {
    state_n = dir + "/state-n.bin.gz";
    CmdResult rr =
        run_cmd(cannonball() + " run --input " + shell_quote(vectors_dir(g) + "/initial.bin.gz") +
                " --output " + shell_quote(state_n) + " --meta '' --stop-at =" + std::to_string(n) +
                server_args(g));
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
  }
  CmdResult r = run_cmd(cannonball() + " witness --input " + shell_quote(state_n) + " --output " +
                        shell_quote(dir + "/w.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string want = "{\n  \"stateVersion\": 8,\n  \"witnessHash\": \"" + std::string(pn["pre"]) +
                     "\",\n  \"witness\": \"" + std::string(pn["state-data"]) +
                     "\",\n  \"step\": " + std::to_string(n) +
                     ",\n  \"exited\": false,\n  \"exitCode\": 0\n}\n\n";
  EXPECT_EQ(r.out, want);
  EXPECT_EQ(hex(read_bytes(dir + "/w.bin")), std::string(pn["state-data"]));

  r = run_cmd(cannonball() + " witness --input " + shell_quote(vectors_dir(g) + "/initial.bin.gz"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["witnessHash"], expected["initial_hash"]);

  r = run_cmd(cannonball() + " witness --input " + shell_quote(vectors_dir(g) + "/final.bin.gz"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stateVersion"], 8);
  EXPECT_EQ(j["witnessHash"], expected["final_hash"]);
  EXPECT_EQ(j["step"], expected["final_step"]);
  EXPECT_EQ(j["exited"], true);
  EXPECT_EQ(j["exitCode"], expected["exit_code"]);
  EXPECT_EQ(std::string(j["witness"]).size(), 2u + 2 * 188);
  std::filesystem::remove_all(dir);
}

TEST_P(StateGuest, LoadElfCommandWritesTheReferenceInitialStateAndMeta) {
  CB_REQUIRE_REFERENCE();
  const std::string g = GetParam();
  std::string dir = temp_dir("load-elf-" + g);
  CmdResult r =
      run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " +
              shell_quote(reference_dir() + "/elf/" + g + ".elf") + " --out " +
              shell_quote(dir + "/initial.bin.gz") + " --meta " + shell_quote(dir + "/meta.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_bytes(dir + "/initial.bin.gz") ==
              read_bytes(vectors_dir(g) + "/initial.bin.gz"));
  // Same symbols; the reference sorts symbols sharing an address unstably, so compare sorted.
  auto syms = [](const std::string& path) {
    auto j = nlohmann::json::parse(read_text(path));
    std::vector<std::string> v;
    for (auto& s : j["symbols"]) v.push_back(s.dump());
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(syms(dir + "/meta.json"), syms(vectors_dir(g) + "/meta.json"));
  // --out - writes the raw state to stdout; --meta "" writes no metadata.
  r = run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " +
              shell_quote(reference_dir() + "/elf/" + g + ".elf") + " --out - --meta ''");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint8_t> raw = read_bytes(vectors_dir(g) + "/initial.bin.gz");
  EXPECT_TRUE(r.out == std::string(raw.begin(), raw.end()));
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"initial.bin.gz", "meta.json"}));
  std::filesystem::remove_all(dir);
}

// --stop-at-preimage*: the run stops right after the step that read the pre-image. The
// reference proofs include the first read of each local key offset, so the expected stop step
// is the first reference proof with a matching oracle-key / offset.
TEST(StopAtPreimage, StopsAfterTheFirstMatchingRead) {
  CB_REQUIRE_REFERENCE();
  auto first_read = [](const std::string& type_byte, uint64_t offset, bool any_offset) -> uint64_t {
    for (uint64_t n : reference_proof_steps("oracle")) {
      auto j = nlohmann::json::parse(read_text(reference_proof_path("oracle", n)));
      if (!j.contains("oracle-key")) continue;
      std::string k = j["oracle-key"];
      uint64_t off = j.value("oracle-offset", uint64_t{0});
      if ((type_byte.empty() || k.substr(2, 2) == type_byte) && (any_offset || off == offset))
        return n;
    }
    return 0;
  };
  struct Case {
    std::string flags;
    uint64_t read_step;
  } cases[] = {
      {"--stop-at-preimage-type any", first_read("", 0, true)},
      {"--stop-at-preimage-type local", first_read("01", 0, true)},
      {"--stop-at-preimage 0x01@8", first_read("01", 8, false)},
      // Not every keccak read has a reference proof: the stop step is checked by its own proof.
      {"--stop-at-preimage-type keccak", 0},
  };
  std::string dir = temp_dir("stop-preimage");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    CmdResult r =
        run_cmd(cannonball() + " run --input " +
                shell_quote(vectors_dir("oracle") + "/initial.bin.gz") + " --output " +
                shell_quote(dir + "/out.bin") + " --meta '' " + c.flags + server_args("oracle"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Stopping at preimage read"), std::string::npos) << r.err;
    State s = load_state_file(dir + "/out.bin");
    if (c.read_step == 0) {
      EXPECT_GT(s.step, first_read("01", 0, true) + 1);
      uint64_t k = s.step - 1;
      CmdResult p = run_cmd(single_proof_cmd("oracle", k, dir));
      ASSERT_EQ(p.exit_code, 0) << p.err;
      auto j = nlohmann::json::parse(read_text(dir + "/proof-" + std::to_string(k) + ".json"));
      EXPECT_EQ(std::string(j["oracle-key"]).substr(0, 4), "0x02");
      continue;
    }
    ASSERT_NE(c.read_step, 0u);
    EXPECT_EQ(s.step, c.read_step + 1);
    auto p = nlohmann::json::parse(read_text(reference_proof_path("oracle", c.read_step)));
    EXPECT_EQ(hex(s.hash()), std::string(p["post"]));
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Reference, StateGuest, ::testing::Values("isa", "hello", "oracle"));

}  // namespace
}  // namespace cb
