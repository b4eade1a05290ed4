// The bigheap guest (tests/guests/bigheap/) at a small size through the literal CLI: load-elf,
// run to the end with the JIT on and off (its configuration served by bigheap_server.py), same
// final state either way, exit 0, and its printed checksum and its heap's words equal what an
// independent C++ model of the documented fill (bigheap.c's header) gives.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli_helpers.h"
#include "test_util.h"

namespace cb {
namespace {

using namespace cb::test;

constexpr uint64_t kRandomBytes = 4 << 20, kLightBytes = 4 << 20, kSeed = 7;
constexpr uint64_t kHeapBase = 0x0000100000000000ULL;  // the VM's first mmap address (spec)

// The guest's PRNG and checksum, written from its documentation.
struct Model {
  uint64_t x;
  explicit Model(uint64_t seed) : x(seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL) {
    if (x == 0) x = 1;
  }
  uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
};

uint64_t expected_checksum(uint64_t random_bytes, uint64_t light_bytes, uint64_t seed) {
  Model m(seed);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint64_t i = 0; i < random_bytes / 8; ++i) {
    uint64_t w = m.next();
    if (i % 128 == 0) h = (h ^ w) * 0x100000001b3ULL;
  }
  for (uint64_t k = 0; k < light_bytes / 1024; ++k) h = (h ^ (k + 1)) * 0x100000001b3ULL;
  return h ^ m.x;
}

std::string server(bool once) {
  return " -- python3 " +
         shell_quote(std::string(CB_SOURCE_DIR) + "/tests/guests/bigheap/bigheap_server.py") +
         " --random " + std::to_string(kRandomBytes) + " --light " + std::to_string(kLightBytes) +
         " --seed " + std::to_string(kSeed) + (once ? " --once" : "");
}

TEST(BigheapGuest, RunsToTheEndWithTheModelsChecksumJitOnAndOff) {
  const std::string dir = temp_dir("bigheap");
  const std::string elf = std::string(CB_SOURCE_DIR) + "/tests/guests/elf/bigheap.elf";
  CmdResult l =
      run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " + shell_quote(elf) +
              " --out " + shell_quote(dir + "/initial.bin.gz") + " --meta ''");
  ASSERT_EQ(l.exit_code, 0) << l.err;

  char want[17];
  std::snprintf(
      want, sizeof want, "%016llx",
      static_cast<unsigned long long>(expected_checksum(kRandomBytes, kLightBytes, kSeed)));
  const std::string want_line = "bigheap: random=" + std::to_string(kRandomBytes) +
                                " light=" + std::to_string(kLightBytes) +
                                " seed=" + std::to_string(kSeed) + " checksum=" + want;
  std::string hashes[2];
  for (int jit = 0; jit < 2; ++jit) {
    SCOPED_TRACE(jit ? "jit on" : "jit off");
    const std::string out = dir + "/final-" + std::to_string(jit) + ".bin.gz";
    // JIT on uses --once (the server exits after its one answer), off the default (until EOF).
    CmdResult r = run_cmd(cannonball() + " run --input " + shell_quote(dir + "/initial.bin.gz") +
                          " --output " + shell_quote(out) +
                          " --meta '' --jit=" + (jit ? "on" : "off") + server(jit == 1));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(want_line), std::string::npos) << "expected \"" << want_line << "\" in:\n"
                                                        << r.err;

    State s = load_state_file(out);
    EXPECT_TRUE(s.exited);
    EXPECT_EQ(s.exit_code, 0);
    hashes[jit] = hex(s.hash());
    // The heap itself: random words from the first mmap address on, then the light region's
    // one word per KiB (and zero elsewhere), as documented.
    EXPECT_EQ(s.heap, kHeapBase + kRandomBytes + kLightBytes);
    Model m(kSeed);
    uint64_t bad = 0;
    for (uint64_t a = kHeapBase; a < kHeapBase + kRandomBytes; a += 8)
      bad += s.memory->get_word(a) != m.next();
    for (uint64_t off = 0; off < kLightBytes; off += 8) {
      uint64_t w = s.memory->get_word(kHeapBase + kRandomBytes + off);
      bad += w != (off % 1024 == 0 ? off / 1024 + 1 : 0);
    }
    EXPECT_EQ(bad, 0u) << "heap words differ from the model";
    // Steps stay low (what makes GiB-sized runs cheap): at most 7.5 per random word (7.25 in the
    // unrolled loop) and 20 per light KiB (fill and read-back: 18), plus a little start-up.
    EXPECT_LT(s.step, kRandomBytes / 8 * 15 / 2 + kLightBytes / 1024 * 20 + 20000);
  }
  EXPECT_EQ(hashes[0], hashes[1]) << "JIT on and off end in different states";
  std::filesystem::remove_all(dir);
}

TEST(BigheapGuest, WithoutItsServerItFailsCleanly) {
  // No host after "--": the pre-image read cannot be answered; one error line, exit non-zero.
  const std::string dir = temp_dir("bigheap-noserver");
  const std::string elf = std::string(CB_SOURCE_DIR) + "/tests/guests/elf/bigheap.elf";
  ASSERT_EQ(run_cmd(cannonball() + " load-elf --type multithreaded64-5 --path " + shell_quote(elf) +
                    " --out " + shell_quote(dir + "/initial.bin.gz") + " --meta ''")
                .exit_code,
            0);
  CmdResult r = run_cmd(cannonball() + " run --input " + shell_quote(dir + "/initial.bin.gz") +
                        " --output '' --meta ''");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("checksum="), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cb
